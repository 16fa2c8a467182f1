/* Recurrent layers: row threading of the fused cell kernels (rnn_kernels.h), the float64 cell
 * kernels, and the time loops (forward and BPTT) for both dtypes.  See dlcore/rnn.h. */
#include <math.h>
#include <string.h>
#include "dlcore/rnn.h"
#include "dlcore/gemm.h"
#include "dlcore/runtime.h"
#include "rnn_kernels.h"

/* Elements of cell work per thread below which a step's cell update stays on one thread: a
 * step of batch 32 x hidden 256 splits in two, a batch-1 step does not fork at all. */
enum { CELL_GRAIN = 4096 };

/* Rows ahead of the current one whose gate pre-activations the LSTM cell prefetches. */
enum { LSTM_PF_ROWS = 2 };

size_t dl_rnn_gates(dl_rnn_mode_t mode)
{
    switch (mode) {
    case DL_RNN_LSTM: return 4;
    case DL_RNN_GRU: return 3;
    default: return 1;
    }
}

size_t dl_rnn_total_rows(const dl_rnn_desc *d)
{
    size_t rows = 0;
    for (size_t t = 0; t < d->n_steps; t++) rows += (size_t)d->batch_sizes[t];
    return rows;
}

size_t dl_rnn_reserve_size(const dl_rnn_desc *d)
{
    size_t rows = dl_rnn_total_rows(d), H = d->H;
    size_t n = rows * (dl_rnn_gates(d->mode) * H + d->P);  /* activated gates, h_{t-1} */
    if (d->mode == DL_RNN_LSTM) n += rows * H * (d->P != H ? 3 : 2);  /* tanh(c), c_{t-1}, r */
    if (d->mode == DL_RNN_GRU) n += rows * H;                        /* recurrent n part */
    return n;
}

size_t dl_rnn_fwd_work_size(const dl_rnn_desc *d)
{
    /* LSTM's inference forward needs no gate buffer (see rnn.h) */
    return d->mode == DL_RNN_LSTM ? 0 : dl_rnn_total_rows(d) * dl_rnn_gates(d->mode) * d->H;
}

size_t dl_rnn_bwd_work_size(const dl_rnn_desc *d)
{
    size_t rows = dl_rnn_total_rows(d), G = dl_rnn_gates(d->mode) * d->H;
    return rows * G * (d->mode == DL_RNN_GRU ? 2 : 1) + (d->P != d->H ? rows * d->P : 0);
}

/* ---------------------------------------------------------------- float32 cells, row-threaded */
/* Rows [r0, r1) of dl_lstm_cell_fwd_f32. */
static void lstm_cell_rows(const rnn_kernels_t *kt, size_t n, size_t H, const float *xg,
                           const float *hg, ptrdiff_t ldhg, const float *bias, float *gates,
                           float *c, float *tc, float *h, ptrdiff_t ldh, float *h2,
                           ptrdiff_t ldh2, size_t r0, size_t r1)
{
    for (size_t r = r0; r < r1; r++) {
        /* a big gate buffer (xg) is cold and read as four short runs per row, too short for
         * the hardware prefetcher: ask for the rows a little ahead */
        if (xg && r + LSTM_PF_ROWS < n) {
            const float *pf = xg + (r + LSTM_PF_ROWS) * 4 * H;
            for (size_t j = 0; j < 4 * H; j += 16) __builtin_prefetch(pf + j, 1, 3);
        }
        kt->lstm_row_fwd(H, xg ? xg + r * 4 * H : NULL, hg ? hg + r * ldhg : NULL, bias,
                         gates ? gates + r * 4 * H : NULL, c + r * H, tc ? tc + r * H : NULL,
                         h + r * ldh, h2 ? h2 + r * ldh2 : NULL);
    }
}

void dl_lstm_cell_fwd_f32(size_t n, size_t H, const float *xg, const float *hg, ptrdiff_t ldhg,
                          const float *bias, float *gates, float *c, float *tc, float *h,
                          ptrdiff_t ldh, float *h2, ptrdiff_t ldh2)
{
    const rnn_kernels_t *kt = rnn_kernels();
    int nth = dl_threads_for(n * H, CELL_GRAIN);
    if (nth <= 1) {  /* a time step's cell: no parallel region at all (an if(false) one still
                      * costs a libgomp team start and end, ~0.8 us, per step) */
        lstm_cell_rows(kt, n, H, xg, hg, ldhg, bias, gates, c, tc, h, ldh, h2, ldh2, 0, n);
        return;
    }
    #pragma omp parallel for num_threads(nth)
    for (ptrdiff_t r = 0; r < (ptrdiff_t)n; r++)
        lstm_cell_rows(kt, n, H, xg, hg, ldhg, bias, gates, c, tc, h, ldh, h2, ldh2, (size_t)r,
                       (size_t)r + 1);
}

void dl_lstm_cell_bwd_f32(size_t n, size_t H, const float *g, const float *tc, const float *cp,
                          const float *dh, float *dc, float *dg)
{
    const rnn_kernels_t *kt = rnn_kernels();
    #pragma omp parallel for num_threads(dl_threads_for(n * H, CELL_GRAIN))
    for (ptrdiff_t r = 0; r < (ptrdiff_t)n; r++)
        kt->lstm_row_bwd(H, g + r * 4 * H, tc + r * H, cp + r * H, dh + r * H, dc + r * H,
                         dg + r * 4 * H);
}

void dl_gru_cell_fwd_f32(size_t n, size_t H, float *xg, const float *hg, float *h, ptrdiff_t ldh,
                         float *hgn)
{
    const rnn_kernels_t *kt = rnn_kernels();
    const int nth = dl_threads_for(n * H, CELL_GRAIN);
    if (nth <= 1) {  /* no parallel region per time step (see dl_lstm_cell_fwd_f32) */
        for (size_t r = 0; r < n; r++)
            kt->gru_row_fwd(H, xg + r * 3 * H, hg + r * 3 * H, h + r * ldh,
                            hgn ? hgn + r * H : NULL);
        return;
    }
    #pragma omp parallel for num_threads(nth)
    for (ptrdiff_t r = 0; r < (ptrdiff_t)n; r++)
        kt->gru_row_fwd(H, xg + r * 3 * H, hg + r * 3 * H, h + r * ldh, hgn ? hgn + r * H : NULL);
}

void dl_gru_cell_bwd_f32(size_t n, size_t H, const float *g, const float *hgn, const float *hp,
                         const float *dh, float *dxg, float *dhg, float *dhp)
{
    const rnn_kernels_t *kt = rnn_kernels();
    #pragma omp parallel for num_threads(dl_threads_for(n * H, CELL_GRAIN))
    for (ptrdiff_t r = 0; r < (ptrdiff_t)n; r++)
        kt->gru_row_bwd(H, g + r * 3 * H, hgn + r * H, hp + r * H, dh + r * H, dxg + r * 3 * H,
                        dhg + r * 3 * H, dhp + r * H);
}

void dl_rnn_cell_fwd_f32(size_t n, size_t H, int relu, float *g, float *h, ptrdiff_t ldh)
{
    const rnn_kernels_t *kt = rnn_kernels();
    const int nth = dl_threads_for(n * H, CELL_GRAIN);
    if (nth <= 1) {  /* no parallel region per time step (see dl_lstm_cell_fwd_f32) */
        for (size_t r = 0; r < n; r++) kt->elman_row_fwd(H, relu, g + r * H, h + r * ldh);
        return;
    }
    #pragma omp parallel for num_threads(nth)
    for (ptrdiff_t r = 0; r < (ptrdiff_t)n; r++) kt->elman_row_fwd(H, relu, g + r * H, h + r * ldh);
}

void dl_rnn_cell_bwd_f32(size_t n, size_t H, int relu, const float *g, const float *dh, float *dg)
{
    const rnn_kernels_t *kt = rnn_kernels();
    #pragma omp parallel for num_threads(dl_threads_for(n * H, CELL_GRAIN))
    for (ptrdiff_t r = 0; r < (ptrdiff_t)n; r++)
        kt->elman_row_bwd(H, relu, g + r * H, dh + r * H, dg + r * H);
}

/* ---------------------------------------------------------------- float64 cell kernels (scalar) */
static inline double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* the backward cells, shared with the float32 kernels' tails */
#define DL_TEMPLATE "rnn_cell_impl.h"
#include "each_dtype.h"

void dl_lstm_cell_fwd_f64(size_t n, size_t H, const double *xg, const double *hg,
                          ptrdiff_t ldhg, const double *bias, double *gates, double *c,
                          double *tc, double *h, ptrdiff_t ldh, double *h2, ptrdiff_t ldh2)
{
    for (size_t r = 0; r < n; r++) {
        const double *xr = xg ? xg + r * 4 * H : NULL, *hr = hg ? hg + r * ldhg : NULL;
        double *gr = gates ? gates + r * 4 * H : NULL;
        double *cr = c + r * H, *hrow = h + r * ldh, *h2row = h2 ? h2 + r * ldh2 : NULL;
        for (size_t j = 0; j < H; j++) {
            double pre[4];
            for (size_t q = 0; q < 4; q++)
                pre[q] = (xr ? xr[q * H + j] : 0.0) + (hr ? hr[q * H + j] : 0.0)
                         + (bias ? bias[q * H + j] : 0.0);
            double i = sigm(pre[0]), f = sigm(pre[1]), gc = tanh(pre[2]), o = sigm(pre[3]);
            double cn = f * cr[j] + i * gc, t = tanh(cn);
            if (gr) {
                gr[j] = i; gr[H + j] = f; gr[2 * H + j] = gc; gr[3 * H + j] = o;
            }
            cr[j] = cn;
            if (tc) tc[r * H + j] = t;
            hrow[j] = o * t;
            if (h2row) h2row[j] = o * t;
        }
    }
}

void dl_lstm_cell_bwd_f64(size_t n, size_t H, const double *g, const double *tc,
                          const double *cp, const double *dh, double *dc, double *dg)
{
    for (size_t r = 0; r < n; r++)
        lstm_units_bwd_f64(0, H, g + r * 4 * H, tc + r * H, cp + r * H, dh + r * H, dc + r * H,
                           dg + r * 4 * H);
}

void dl_gru_cell_fwd_f64(size_t n, size_t H, double *xg, const double *hg, double *h,
                         ptrdiff_t ldh, double *hgn)
{
    for (size_t r = 0; r < n; r++) {
        double *xr = xg + r * 3 * H, *xz = xr + H, *xn = xr + 2 * H, *hrow = h + r * ldh;
        const double *hr = hg + r * 3 * H, *hz = hr + H, *hn = hr + 2 * H;
        for (size_t j = 0; j < H; j++) {
            double rr = sigm(xr[j] + hr[j]), z = sigm(xz[j] + hz[j]);
            double nn = tanh(xn[j] + rr * hn[j]);
            xr[j] = rr; xz[j] = z; xn[j] = nn;
            if (hgn) hgn[r * H + j] = hn[j];
            hrow[j] = nn + z * (hrow[j] - nn);
        }
    }
}

void dl_gru_cell_bwd_f64(size_t n, size_t H, const double *g, const double *hgn,
                         const double *hp, const double *dh, double *dxg, double *dhg,
                         double *dhp)
{
    for (size_t r = 0; r < n; r++)
        gru_units_bwd_f64(0, H, g + r * 3 * H, hgn + r * H, hp + r * H, dh + r * H,
                          dxg + r * 3 * H, dhg + r * 3 * H, dhp + r * H);
}

void dl_rnn_cell_fwd_f64(size_t n, size_t H, int relu, double *g, double *h, ptrdiff_t ldh)
{
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < H; j++) {
            double v = g[r * H + j];
            v = relu ? (v > 0 ? v : (v != v ? v : 0.0)) : tanh(v);
            g[r * H + j] = v;
            h[r * ldh + j] = v;
        }
}

void dl_rnn_cell_bwd_f64(size_t n, size_t H, int relu, const double *g, const double *dh,
                         double *dg)
{
    for (size_t k = 0; k < n * H; k++)
        dg[k] = relu ? (g[k] > 0 ? dh[k] : 0.0) : dh[k] * (1.0 - g[k] * g[k]);
}

/* ---------------------------------------------------------------- the recurrent products
 * A weight matrix used at every step is packed once per call into the layout of the ISA's
 * kernel (rnn_simd.c); each step then packs only the small state and multiplies.  float64 (used
 * for gradient checks) goes straight to dl_dgemm. */
/* Work (M*N*K) per thread below which a recurrent product stays on one thread. */
enum { REC_GRAIN = 1 << 20 };

/* A product by one weight matrix (K rows of op(B)), or by two stacked (K + K2 rows: the LSTM
 * forward's [x_t | h_{t-1}] @ [W_ih | W_hh]^T, so the input projection needs no big buffer). */
typedef struct {
    const rnn_kernels_t *k;
    size_t K, K2, N, nr;
    float *bp;        /* packed weight panels, or NULL: direct */
    const float *b, *b2;  /* direct: the weights as given (op(B) = B^T), products by dl_sgemm */
    ptrdiff_t ldb, ldb2;
} rec_f32;

/* Total rows (all steps) below which the two-matrix product skips packing: packing both weights
 * costs about as much as a few rows of product, so one-step calls (cells, sampling loops)
 * multiply the weights as they are. */
enum { REC_PACK_MIN_ROWS = 16 };

static int rec_alloc_f32(rec_f32 *w, size_t K, size_t K2, size_t N)
{
    *w = (rec_f32){.k = rnn_kernels(), .K = K, .K2 = K2, .N = N};
    w->nr = w->k->nr;
    size_t n = (N + w->nr - 1) / w->nr * w->nr * (K + K2);
    w->bp = dl_alloc((n > 0 ? n : 1) * sizeof(float));
    return w->bp ? 0 : -1;
}

static int rec_init_f32(rec_f32 *w, int trans, size_t K, size_t N, const float *B, ptrdiff_t ldb,
                        size_t max_m)
{
    (void)max_m;
    if (rec_alloc_f32(w, K, 0, N) != 0) return -1;
    w->k->pack_b(trans, K, N, B, ldb, w->bp, K * w->nr);
    return 0;
}

/* op(B) = [B^T ; B2^T] (B: N x K, B2: N x K2, both row-major), for `rows` rows in all. */
static int rec_init2_f32(rec_f32 *w, size_t K, const float *B, ptrdiff_t ldb, size_t K2,
                         const float *B2, ptrdiff_t ldb2, size_t N, size_t rows)
{
    if (rows < REC_PACK_MIN_ROWS) {
        *w = (rec_f32){.k = rnn_kernels(), .K = K, .K2 = K2, .N = N, .b = B, .ldb = ldb,
                       .b2 = B2, .ldb2 = ldb2};
        return 0;
    }
    if (rec_alloc_f32(w, K, K2, N) != 0) return -1;
    size_t ps = (K + K2) * w->nr;
    w->k->pack_b(1, K, N, B, ldb, w->bp, ps);
    w->k->pack_b(1, K2, N, B2, ldb2, w->bp + K * w->nr, ps);
    return 0;
}

/* C (M x N) = beta*C + [A | A2] @ W (A2 only for a two-matrix W); beta is 0 or 1; C must not
 * overlap A or A2. */
static void rec_mm2_f32(const rec_f32 *w, size_t M, const float *A, ptrdiff_t lda,
                        const float *A2, ptrdiff_t lda2, float beta, float *C, ptrdiff_t ldc)
{
    if (M == 0 || w->N == 0) return;
    if (!w->bp) {
        if (w->K > 0) {
            dl_sgemm(0, 1, M, w->N, w->K, 1.0f, A, lda, w->b, w->ldb, beta, C, ldc, NULL,
                     DL_BIAS_NONE, DL_ACT_NONE);
            beta = 1.0f;
        } else if (beta == 0.0f) {
            for (size_t i = 0; i < M; i++) memset(C + i * ldc, 0, w->N * sizeof(float));
            beta = 1.0f;
        }
        if (w->K2 > 0)
            dl_sgemm(0, 1, M, w->N, w->K2, 1.0f, A2, lda2, w->b2, w->ldb2, beta, C, ldc, NULL,
                     DL_BIAS_NONE, DL_ACT_NONE);
        return;
    }
    size_t panels = (w->N + w->nr - 1) / w->nr;
    int nth = dl_threads_for(M * w->N * (w->K + w->K2), REC_GRAIN);
    if ((size_t)nth > panels) nth = (int)panels;
    void (*const gemm)(size_t, size_t, size_t, const float *, ptrdiff_t, size_t, const float *,
                       ptrdiff_t, const float *, float, float *, ptrdiff_t, size_t, size_t) =
        w->k->gemm_packed;
    if (nth <= 1) {  /* no parallel region at all: this runs once per step */
        gemm(M, w->N, w->K, A, lda, w->K2, A2, lda2, w->bp, beta, C, ldc, 0, panels);
        return;
    }
    #pragma omp parallel for num_threads(nth) schedule(static, 1)
    for (int c = 0; c < nth; c++)
        gemm(M, w->N, w->K, A, lda, w->K2, A2, lda2, w->bp, beta, C, ldc, panels * c / nth,
             panels * (c + 1) / nth);
}

static void rec_mm_f32(const rec_f32 *w, size_t M, const float *A, ptrdiff_t lda, float beta,
                       float *C, ptrdiff_t ldc)
{
    rec_mm2_f32(w, M, A, lda, NULL, 0, beta, C, ldc);
}

static void rec_free_f32(rec_f32 *w) { dl_free(w->bp); }  /* NULL when direct */

typedef struct {
    int trans;
    size_t K, K2, N;
    const double *b, *b2;
    ptrdiff_t ldb, ldb2;
} rec_f64;

static int rec_init_f64(rec_f64 *w, int trans, size_t K, size_t N, const double *B,
                        ptrdiff_t ldb, size_t max_m)
{
    (void)max_m;
    *w = (rec_f64){.trans = trans, .K = K, .N = N, .b = B, .ldb = ldb};
    return 0;
}

static int rec_init2_f64(rec_f64 *w, size_t K, const double *B, ptrdiff_t ldb, size_t K2,
                         const double *B2, ptrdiff_t ldb2, size_t N, size_t rows)
{
    (void)rows;
    rec_init_f64(w, 1, K, N, B, ldb, 0);
    w->K2 = K2;
    w->b2 = B2;
    w->ldb2 = ldb2;
    return 0;
}

static void rec_mm2_f64(const rec_f64 *w, size_t M, const double *A, ptrdiff_t lda,
                        const double *A2, ptrdiff_t lda2, double beta, double *C, ptrdiff_t ldc)
{
    if (M == 0 || w->N == 0) return;
    if (w->K > 0) {
        dl_dgemm(0, w->trans, M, w->N, w->K, 1.0, A, lda, w->b, w->ldb, beta, C, ldc, NULL,
                 DL_BIAS_NONE, DL_ACT_NONE);
        beta = 1.0;
    } else if (beta == 0.0) {
        for (size_t i = 0; i < M; i++) memset(C + i * ldc, 0, w->N * sizeof(double));
        beta = 1.0;
    }
    if (w->K2 > 0)
        dl_dgemm(0, w->trans, M, w->N, w->K2, 1.0, A2, lda2, w->b2, w->ldb2, beta, C, ldc, NULL,
                 DL_BIAS_NONE, DL_ACT_NONE);
}

static void rec_mm_f64(const rec_f64 *w, size_t M, const double *A, ptrdiff_t lda, double beta,
                       double *C, ptrdiff_t ldc)
{
    rec_mm2_f64(w, M, A, lda, NULL, 0, beta, C, ldc);
}

static void rec_free_f64(rec_f64 *w) { (void)w; }

/* ---------------------------------------------------------------- LSTM forward, thread team
 * At several threads a per-step fork/join (product over column panels, then the cell over rows)
 * costs about as much as a step's work is worth splitting for.  Instead one parallel region
 * runs the whole time loop: each thread owns a slice of hidden units, computes the i, f, g, o
 * columns of those units (the weights are packed gate by gate, each gate padded to whole panels,
 * so a slice is whole panels of every gate) and runs the cell on them; the only exchange is
 * h_t, complete after one barrier per step.  h is double-buffered so that a thread writing h_t
 * never races one still reading h_{t-1}.  The split is the same every step and every column
 * sums in the same order as the one-thread product, so results equal the one-thread path's
 * bit for bit. */
static size_t lstm_team_grain = REC_GRAIN;

size_t dl_rnn_team_grain(size_t grain)
{
    size_t prev = lstm_team_grain;
    if (grain > 0) lstm_team_grain = grain;
    return prev;
}


/* Threads the team would use for this call (< 2: not the team's case). */
static int lstm_team_threads_f32(const dl_rnn_desc *d)
{
    const size_t B = d->B, H = d->H;
    if (d->mode != DL_RNN_LSTM || d->P != H || H == 0 || B == 0
        || dl_rnn_total_rows(d) < REC_PACK_MIN_ROWS)
        return 0;
    const size_t nr = rnn_kernels()->nr, ppg = (H + nr - 1) / nr;
    int nth = dl_threads_for(B * 4 * H * (d->n_input + H), lstm_team_grain);
    return (size_t)nth > ppg ? (int)ppg : nth;
}

int dl_rnn_team_threads_f32(const dl_rnn_desc *d)
{
    int n = lstm_team_threads_f32(d);
    return n > 1 ? n : 1;
}

/* The whole forward time loop (no projection) on a team of nth threads; h (B x H) and c hold
 * the initial state and receive the final one; gates, hprev, tc, cprev: NULL or the reserve's
 * parts (training).  0 on success, -1 when out of memory. */
static int lstm_team_run_f32(const dl_rnn_desc *d, int nth, const size_t *off, const float *x,
                             ptrdiff_t ldx, const float *w_ih, const float *w_hh,
                             const float *prepacked, const rnn_kernels_t *kt,
                             const float *bias, float *h, float *c, float *out, ptrdiff_t ldo,
                             float *gates, float *hprev, float *tc, float *cprev);

static int lstm_team_fwd_f32(const dl_rnn_desc *d, int nth, const size_t *off, const float *x,
                             ptrdiff_t ldx, const float *w_ih, const float *w_hh,
                             const float *bias, float *h, float *c, float *out, ptrdiff_t ldo,
                             float *gates, float *hprev, float *tc, float *cprev)
{
    return lstm_team_run_f32(d, nth, off, x, ldx, w_ih, w_hh, NULL, rnn_kernels(), bias, h, c,
                             out, ldo, gates, hprev, tc, cprev);
}

/* The team's inference loop on weights packed once beforehand (rnn_packed.c): `packed` holds
 * [w_ih | w_hh]^T in panels of kt->nr columns of I + H rows each, H a multiple of kt->nr so
 * that every gate starts on a panel, the layout the team packs for itself otherwise. */
int dl_rnn_lstm_team_packed_f32(const dl_rnn_desc *d, int nth, const size_t *off, const float *x,
                                ptrdiff_t ldx, const float *packed, const rnn_kernels_t *kt,
                                const float *bias, float *h, float *c, float *out,
                                ptrdiff_t ldo)
{
    return lstm_team_run_f32(d, nth, off, x, ldx, NULL, NULL, packed, kt, bias, h, c, out, ldo,
                             NULL, NULL, NULL, NULL);
}

static int lstm_team_run_f32(const dl_rnn_desc *d, int nth, const size_t *off, const float *x,
                             ptrdiff_t ldx, const float *w_ih, const float *w_hh,
                             const float *prepacked, const rnn_kernels_t *kt,
                             const float *bias, float *h, float *c, float *out, ptrdiff_t ldo,
                             float *gates, float *hprev, float *tc, float *cprev)
{
    const size_t T = d->n_steps, B = d->B, I = d->n_input, H = d->H, G = 4 * H;
    const size_t nr = kt->nr, ppg = (H + nr - 1) / nr, Hp = ppg * nr;
    const size_t ps = (I + H) * nr;  /* floats per packed panel: x's rows, then h's */
    const size_t ldhs = 4 * Hp + 16;  /* off a multiple of 4 KiB, as in the loop */
    float *own = prepacked ? NULL : dl_alloc(4 * ppg * ps * sizeof(float));
    const float *bp = prepacked ? prepacked : own;
    float *hs = dl_alloc(B * ldhs * sizeof(float));
    float *h1 = dl_alloc(B * H * sizeof(float));
    if (!bp || !hs || !h1) {
        dl_free(own);
        dl_free(hs);
        dl_free(h1);
        return -1;
    }
    size_t steps = 0;
    for (size_t t = 0; t < T; t++) steps += d->batch_sizes[t] > 0;
    float *hb[2] = {h, h1};

    #pragma omp parallel num_threads(nth)
    {
        const size_t nt = (size_t)dl_team_size(), k = (size_t)dl_thread_id();
        const size_t u0 = ppg * k / nt, u1 = ppg * (k + 1) / nt;
        const size_t j0 = u0 * nr, j1 = u1 * nr < H ? u1 * nr : H;
        const size_t W = j1 > j0 ? j1 - j0 : 0;
        /* each thread packs (and so first touches) only the panels it multiplies by */
        for (size_t q = 0; q < 4 && W > 0 && own; q++) {
            float *pq = own + (q * ppg + u0) * ps;
            kt->pack_b(1, I, W, w_ih + (q * H + j0) * I, (ptrdiff_t)I, pq, ps);
            kt->pack_b(1, H, W, w_hh + (q * H + j0) * H, (ptrdiff_t)H, pq + I * nr, ps);
        }
        int cur = 0;
        for (size_t s = 0; s < T; s++) {
            const size_t t = d->reverse ? T - 1 - s : s;
            const size_t n = (size_t)d->batch_sizes[t], o = off[t];
            if (n == 0) continue;
            const float *hc = hb[cur];
            float *hn = hb[cur ^ 1];
            for (size_t r = 0; r < n && W > 0; r++) {  /* training: the state before */
                if (hprev) memcpy(hprev + (o + r) * H + j0, hc + r * H + j0, W * sizeof(float));
                if (cprev) memcpy(cprev + (o + r) * H + j0, c + r * H + j0, W * sizeof(float));
            }
            /* one panel of units at a time: its four gate panels' product (n rows) stays in
             * L1 for the cell right after */
            for (size_t u = u0; u < u1; u++) {
                const size_t a = u * nr, w = a + nr < H ? nr : H - a;
                for (size_t q = 0; q < 4; q++)
                    kt->gemm_packed(n, 4 * Hp, I, x + o * ldx, ldx, H, hc, (ptrdiff_t)H, bp, 0.0f,
                                    hs, (ptrdiff_t)ldhs, q * ppg + u, q * ppg + u + 1);
                for (size_t r = 0; r < n; r++) {
                    const size_t row = o + r;
                    kt->lstm_slice_fwd(w, H, hs + r * ldhs + a, Hp, bias ? bias + a : NULL,
                                       gates ? gates + row * G + a : NULL, c + r * H + a,
                                       tc ? tc + row * H + a : NULL, hn + r * H + a,
                                       out + row * ldo + a);
                }
            }
            /* rows past this step's batch (packed sequences) carry their state over */
            for (size_t r = n; r < B && W > 0; r++)
                memcpy(hn + r * H + j0, hc + r * H + j0, W * sizeof(float));
            cur ^= 1;
            #pragma omp barrier
        }
    }
    if (steps % 2) memcpy(h, h1, B * H * sizeof(float));
    dl_free(own);
    dl_free(hs);
    dl_free(h1);
    return 0;
}

/* float64 (gradient checks) always takes the plain loop. */
static int lstm_team_threads_f64(const dl_rnn_desc *d)
{
    (void)d;
    return 0;
}

static int lstm_team_fwd_f64(const dl_rnn_desc *d, int nth, const size_t *off, const double *x,
                             ptrdiff_t ldx, const double *w_ih, const double *w_hh,
                             const double *bias, double *h, double *c, double *out,
                             ptrdiff_t ldo, double *gates, double *hprev, double *tc,
                             double *cprev)
{
    (void)d; (void)nth; (void)off; (void)x; (void)ldx; (void)w_ih; (void)w_hh; (void)bias;
    (void)h; (void)c; (void)out; (void)ldo; (void)gates; (void)hprev; (void)tc; (void)cprev;
    return -1;
}

/* ---------------------------------------------------------------- the time loops, per dtype */
#define DL_TEMPLATE "rnn_impl.h"
#include "each_dtype.h"
