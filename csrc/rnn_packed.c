/* Recurrent layers on weights packed once (the inference executor's RNN step, plan.c): eager
 * dl_rnn_forward_f32 packs w_ih and w_hh into the kernel's panels on every call, which for a
 * 2-layer LSTM of hidden 256 is several MB of transposing copies per call, about a third of a
 * batch-1 call.  A plan runs many calls on the same weights, so it packs them when it is made
 * and keeps the packed form here.
 *
 * Two forms, chosen by the planner from the batch size:
 *   joint (LSTM, larger batches): [w_ih | w_hh]^T in shared panels; each step multiplies
 *     [x_t | h_{t-1}] by both at once into a small buffer the cell reads hot, as the eager
 *     loop does; with H a multiple of the panel width the packed form is also the thread
 *     team's (rnn.c), so several threads run the team's loop on it.
 *   split (every mode; LSTM at small batches): w_ih^T and w_hh^T apart.  The input part of all
 *     steps is one product before the loop (rows x G, in the caller's work buffer), and each
 *     step adds only h_{t-1} @ w_hh^T: at batch 1 a step then streams the recurrent weights
 *     alone, not the input weights too, and the input product reuses each weight panel over
 *     all steps' rows.
 * At several threads the step loop runs on a thread team (either form of an LSTM, the split
 * form of a GRU or Elman RNN; H a multiple of the panel width, so each gate starts on a
 * panel): a thread takes a panel of hidden units, adds h_{t-1} @ w_hh^T for its gate panels
 * and runs the cell on them.  A batch-1 step (1 x 4H x H) is too small to fork per step, so
 * without the team it ran on one thread only.  (The team hands out chunks of units
 * dynamically rather than a fixed share per thread, see team_run.)
 * From a batch of 2 x DL_RNN_SPLIT_ROWS_MIN rows on, several threads split the batch instead
 * (rows_run): each owns rows of h for the whole sequence, so no step exchanges anything.
 * An LSTM with a projection (w_hr) has no packed form: the planner keeps the eager call. */
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include "dlcore/rnn.h"
#include "dlcore/runtime.h"
#include "rnn_kernels.h"


enum { RNN_PACK_JOINT = 1, RNN_PACK_SPLIT = 2 };

size_t dl_rnn_team_grain(size_t grain);

/* Work (M*N*K) per thread below which a product by packed panels stays on one thread. */
enum { PACKED_GRAIN = 1 << 20 };
/* The split team's grain is the joint team's (dl_rnn_team_grain, a test hook) over this: its
 * threshold is one step's recurrent product, not a whole call's, and a step meets a barrier
 * of ~1 us, so a thread's share of B x 4H x H multiply-adds should be ~128 K or more. */
enum { SPLIT_TEAM_GRAIN_DIV = 8 };

typedef struct dl_rnn_packed {
    const rnn_kernels_t *k;   /* the ISA the panels were packed for: its products read them */
    int mode, form;
    size_t I, H, P, G;
    float *wx;                /* joint: both weights' panels; split: w_ih's */
    float *wh;                /* split: w_hh's; joint: NULL */
} dl_rnn_packed;

static size_t panels_of(const rnn_kernels_t *k, size_t N) { return (N + k->nr - 1) / k->nr; }

void dl_rnn_packed_free(dl_rnn_packed *pk)
{
    if (!pk) return;
    dl_free(pk->wx);
    dl_free(pk->wh);
    dl_free(pk);
}

/* NULL when out of memory or for a form the mode does not have (the caller then keeps the
 * eager call). */
dl_rnn_packed *dl_rnn_pack_f32(int mode, int form, size_t I, size_t H, size_t P,
                               const float *w_ih, const float *w_hh)
{
    if (form != RNN_PACK_JOINT && form != RNN_PACK_SPLIT) return NULL;
    if (form == RNN_PACK_JOINT && (mode != DL_RNN_LSTM || P != H)) return NULL;
    dl_rnn_packed *pk = dl_alloc(sizeof(*pk));
    if (!pk) return NULL;
    memset(pk, 0, sizeof(*pk));
    pk->k = rnn_kernels();
    pk->mode = mode;
    pk->form = form;
    pk->I = I;
    pk->H = H;
    pk->P = P;
    pk->G = dl_rnn_gates((dl_rnn_mode_t)mode) * H;
    const size_t nr = pk->k->nr, np = panels_of(pk->k, pk->G);
    if (form == RNN_PACK_JOINT) {
        const size_t ps = (I + H) * nr;
        pk->wx = dl_alloc((np * ps > 0 ? np * ps : 1) * sizeof(float));
        if (!pk->wx) goto fail;
        pk->k->pack_b(1, I, pk->G, w_ih, (ptrdiff_t)I, pk->wx, ps);
        pk->k->pack_b(1, H, pk->G, w_hh, (ptrdiff_t)H, pk->wx + I * nr, ps);
        return pk;
    }
    pk->wx = dl_alloc((np * I * nr > 0 ? np * I * nr : 1) * sizeof(float));
    pk->wh = dl_alloc((np * P * nr > 0 ? np * P * nr : 1) * sizeof(float));
    if (!pk->wx || !pk->wh) goto fail;
    pk->k->pack_b(1, I, pk->G, w_ih, (ptrdiff_t)I, pk->wx, I * nr);
    pk->k->pack_b(1, P, pk->G, w_hh, (ptrdiff_t)P, pk->wh, P * nr);
    return pk;
fail:
    dl_rnn_packed_free(pk);
    return NULL;
}

/* C (M x G) = beta*C + [A | A2] @ panels, threaded over panels when the product is big. */
static void mm_packed(const dl_rnn_packed *pk, size_t M, size_t K, const float *A, ptrdiff_t lda,
                      size_t K2, const float *A2, ptrdiff_t lda2, const float *bp, float beta,
                      float *C, ptrdiff_t ldc)
{
    const size_t panels = panels_of(pk->k, pk->G);
    if (M == 0 || panels == 0) return;
    int nth = dl_threads_for(M * pk->G * (K + K2), PACKED_GRAIN);
    if ((size_t)nth > panels) nth = (int)panels;
    if (nth <= 1) {
        pk->k->gemm_packed(M, pk->G, K, A, lda, K2, A2, lda2, bp, beta, C, ldc, 0, panels);
        return;
    }
    #pragma omp parallel for num_threads(nth) schedule(static, 1)
    for (int t = 0; t < nth; t++)
        pk->k->gemm_packed(M, pk->G, K, A, lda, K2, A2, lda2, bp, beta, C, ldc,
                           panels * t / nth, panels * (t + 1) / nth);
}

/* Whether the step loop can run on the thread team: every gate starts on a panel (H a
 * multiple of the panel width), no projection, the ISA the panels were packed for. */
static int team_shape(const dl_rnn_desc *d, const dl_rnn_packed *pk)
{
    const size_t nr = pk->k->nr;
    return d->P == d->H && d->H > 0 && d->H % nr == 0 && d->B > 0 && pk->k == rnn_kernels()
           && (pk->form == RNN_PACK_SPLIT || pk->mode == DL_RNN_LSTM);
}

/* Threads of the team for this call (< 2: the plain loop).  The joint form's step also
 * multiplies x_t by w_ih; its threshold is the eager team's (rnn.c), for a whole call. */
static int team_threads(const dl_rnn_desc *d, const dl_rnn_packed *pk)
{
    if (!team_shape(d, pk)) return 1;
    const size_t ppg = d->H / pk->k->nr;
    int nth = pk->form == RNN_PACK_JOINT
                  ? dl_rnn_team_threads_f32(d)
                  : dl_threads_for(d->B * pk->G * d->P,
                                   dl_rnn_team_grain(0) / SPLIT_TEAM_GRAIN_DIV);
    return (size_t)nth > ppg ? (int)ppg : nth;
}

/* A wait this long (a chunk takes a few microseconds), or SOLO_CHUNKS times a chunk's
 * multiply-adds at CHUNK_MACS_PER_NS (a third of one core's FMA rate here) where chunks are
 * long (large batches), means the thread holding the chunk was descheduled: the machine is
 * busier than the team has cores. */
enum { SOLO_WAIT_NS = 100000, SOLO_CHUNKS = 8, CHUNK_MACS_PER_NS = 30, READMITS = 4 };

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One turn of a team member's wait for the chunks of the step before (a pause, every 256th
 * turn a yield: on a busy machine the thread we wait for may need this core).  The calling
 * thread of the team (lead) sets *solo after waiting longer than solo_ns: the others then take
 * no more chunks and the lead goes on alone, so a busy machine costs a call one descheduled
 * thread, not one per step.  A member that finds *solo set waits parked, and the lead takes
 * it back (up to READMITS times a call) once it sees it parked, i.e. running again: a short
 * preemption on a quiet machine then costs one wait, not the rest of the call on one thread
 * (a call of a batch-32 LSTM is ~800 chunks over ~20 ms, long enough to meet one). */
typedef struct {
    unsigned spins;
    int64_t since;  /* the lead's first yield of this wait, -1: none yet */
} team_wait;

static void wait_turn(team_wait *w, int lead, int64_t solo_ns, int *solo)
{
    if (++w->spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        return;
    }
    w->spins = 0;
    if (lead) {
        const int64_t t = now_ns();
        if (w->since < 0) w->since = t;
        else if (t - w->since > solo_ns) __atomic_store_n(solo, 1, __ATOMIC_RELAXED);
    }
    sched_yield();
}

/* The step loop of a layer on a team of nth threads, split form (every mode) or an LSTM's
 * joint form.  h (B x H) and c hold the initial state and receive the final one; h1 is a
 * second B x H buffer (h_t is written to the buffer h_{t-1} is not read from).  Split form:
 * work holds every step's input part (rows x G; an LSTM's without bias, the others' with
 * b_x) and each step adds h_{t-1} @ w_hh^T to its rows (a GRU's into gates, B x ldg, from
 * b_h, since its cell needs that part apart).  Joint form: each step writes
 * [x_t | h_{t-1}] @ [w_ih | w_hh]^T to gates (B x ldg), which the cell reads hot.
 *
 * A step is ppg chunks (a panel of nr hidden units: its gate panels' product, then the cell
 * on them), and the team takes chunks from one shared counter in order, step after step:
 * chunk e of the whole call belongs to step e / ppg, and a thread claims it only once every
 * chunk of the step before is done, so a thread that waits (and may yield its core) holds no
 * chunk.  No thread owns a fixed share, so a thread the OS deschedules delays only the chunk
 * it is computing: the others take the rest, where a barrier per step would make them all wait
 * out its time slice at every step.  A chunk's sums do not depend on which thread runs it:
 * results equal the plain loop's bit for bit.  When even that is too much (see wait_turn),
 * the lead goes on alone until a member is back. */
static void team_run(const dl_rnn_desc *d, const dl_rnn_packed *pk, int nth, const size_t *off,
                     const float *x, ptrdiff_t ldx, const float *b_x, const float *b_h,
                     float *work, float *gates, size_t ldg, float *h, float *h1, float *c,
                     float *out, ptrdiff_t ldo)
{
    const int joint = pk->form == RNN_PACK_JOINT, mode = pk->mode;
    const size_t B = d->B, H = d->H, G = pk->G, nr = pk->k->nr;
    const size_t ppg = H / nr, ngates = G / H;
    const rnn_kernels_t *kt = pk->k;
    size_t steps = 0;  /* batch sizes do not increase: the non-empty steps come first */
    for (size_t t = 0; t < d->n_steps; t++) steps += d->batch_sizes[t] > 0;
    const size_t total = steps * ppg;
    size_t next = 0, done = 0;
    int solo = 0, parked = 0, readmits = 0;
    float *hb[2] = {h, h1};
    const size_t chunk_macs = B * ngates * nr * (joint ? pk->I + H : H);
    const int64_t chunk_wait = (int64_t)(chunk_macs / CHUNK_MACS_PER_NS) * SOLO_CHUNKS;
    const int64_t solo_ns = chunk_wait > SOLO_WAIT_NS ? chunk_wait : SOLO_WAIT_NS;

    #pragma omp parallel num_threads(nth)
    {
        const int lead = dl_thread_id() == 0;
        team_wait w = {0, -1};
        for (;;) {
            size_t e = __atomic_load_n(&next, __ATOMIC_RELAXED);
            if (e >= total) break;
            if (!lead && __atomic_load_n(&solo, __ATOMIC_ACQUIRE)) {
                __atomic_fetch_add(&parked, 1, __ATOMIC_RELAXED);
                team_wait pw = {0, -1};
                while (__atomic_load_n(&solo, __ATOMIC_ACQUIRE)
                       && __atomic_load_n(&next, __ATOMIC_RELAXED) < total)
                    wait_turn(&pw, 0, 0, &solo);
                __atomic_fetch_sub(&parked, 1, __ATOMIC_RELAXED);
                continue;
            }
            const size_t i = e / ppg;
            if (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < i * ppg) {
                wait_turn(&w, lead, solo_ns, &solo);
                continue;
            }
            if (!__atomic_compare_exchange_n(&next, &e, e + 1, 0, __ATOMIC_RELAXED,
                                             __ATOMIC_RELAXED))
                continue;
            w.spins = 0;
            w.since = -1;
            const size_t u = e % ppg, a = u * nr;
            const size_t t = d->reverse ? steps - 1 - i : i;
            const size_t n = (size_t)d->batch_sizes[t], o = off[t];
            const float *hc = hb[i & 1];
            float *hn = hb[(i & 1) ^ 1];
            float *g = joint ? gates : work + o * G;
            for (size_t q = 0; q < ngates; q++) {
                const size_t p0 = q * ppg + u;
                if (joint) {
                    kt->gemm_packed(n, G, pk->I, x + o * ldx, ldx, H, hc, (ptrdiff_t)H, pk->wx,
                                    0.0f, g, (ptrdiff_t)ldg, p0, p0 + 1);
                } else if (mode == DL_RNN_GRU) {
                    if (b_h)
                        for (size_t r = 0; r < n; r++)
                            memcpy(gates + r * ldg + q * H + a, b_h + q * H + a,
                                   nr * sizeof(float));
                    kt->gemm_packed(n, G, H, hc, (ptrdiff_t)H, 0, NULL, 0, pk->wh,
                                    b_h ? 1.0f : 0.0f, gates, (ptrdiff_t)ldg, p0, p0 + 1);
                } else {
                    kt->gemm_packed(n, G, H, hc, (ptrdiff_t)H, 0, NULL, 0, pk->wh, 1.0f, g,
                                    (ptrdiff_t)G, p0, p0 + 1);
                }
            }
            const size_t ld = joint ? ldg : G;
            for (size_t r = 0; r < n; r++) {
                float *hr = hn + r * H + a, *orow = out + (o + r) * ldo + a;
                if (mode == DL_RNN_LSTM) {
                    kt->lstm_slice_fwd(nr, H, g + r * ld + a, H, b_x ? b_x + a : NULL, NULL,
                                       c + r * H + a, NULL, hr, orow);
                    continue;
                }
                if (mode == DL_RNN_GRU) {
                    memcpy(hr, hc + r * H + a, nr * sizeof(float));
                    kt->gru_slice_fwd(nr, H, g + r * G + a, gates + r * ldg + a, hr);
                } else {
                    kt->elman_row_fwd(nr, mode == DL_RNN_RELU, g + r * G + a, hr);
                }
                memcpy(orow, hr, nr * sizeof(float));
            }
            /* rows past this step's batch (packed sequences) carry their state over */
            for (size_t r = n; r < B; r++)
                memcpy(hn + r * H + a, hc + r * H + a, nr * sizeof(float));
            __atomic_fetch_add(&done, 1, __ATOMIC_RELEASE);
            if (lead && __atomic_load_n(&solo, __ATOMIC_RELAXED) && readmits < READMITS
                && __atomic_load_n(&parked, __ATOMIC_RELAXED)) {
                readmits++;
                __atomic_store_n(&solo, 0, __ATOMIC_RELEASE);
            }
        }
    }
    if (steps % 2) memcpy(h, h1, B * H * sizeof(float));
}

static void copy_rows(size_t n, size_t w, const float *src, ptrdiff_t lds, float *dst,
                      ptrdiff_t ldd)
{
    for (size_t i = 0; i < n; i++) memcpy(dst + i * ldd, src + i * lds, w * sizeof(float));
}

/* Threads of the batch split for this call (< 2: none).  Each thread owns rows of the batch
 * for the whole sequence: at least DL_RNN_SPLIT_ROWS_MIN of them (fewer rows per product
 * reuse each weight panel too little), and its share of the call's recurrent products at
 * least the team's grain (dl_rnn_team_grain, the tests' hook). */
static int rows_threads(const dl_rnn_desc *d, int form)
{
    const size_t G = dl_rnn_gates(d->mode) * d->H;
    const size_t inner = form == RNN_PACK_JOINT ? d->n_input + d->P : d->P;
    int nth = dl_threads_for(dl_rnn_total_rows(d) * G * inner, dl_rnn_team_grain(0));
    const size_t most = d->B / DL_RNN_SPLIT_ROWS_MIN;
    return (size_t)nth > most ? (int)most : nth;
}

int dl_rnn_split_threads_f32(const dl_rnn_desc *d, int form)
{
    const int n = form == RNN_PACK_JOINT || form == RNN_PACK_SPLIT ? rows_threads(d, form) : 1;
    return n > 1 ? n : 1;
}

/* The step loop with the batch split over nth threads: thread k owns rows [r0, r1) of h and
 * c for every step, so the threads share nothing while the loop runs and join once, where
 * splitting a step's hidden units (team_run) exchanges h_t and synchronises at every step
 * (~400 ns a cache line between this machine's two cores, each step).  Each thread runs the
 * one-thread loop on its rows: the same products (rows cut at even offsets, so that only
 * the batch's last row, as in the one-thread loop, takes the one-row tile, whose sums run in
 * another order) and the same cell calls, so results equal the one-thread loop's bit for
 * bit.  Split form: work already holds every step's input part; hs: the joint form's
 * product (B x ldhs) or the GRU's recurrent part (B x G). */
static void rows_run(const dl_rnn_desc *d, const dl_rnn_packed *pk, int nth, const size_t *off,
                     const float *x, ptrdiff_t ldx, const float *b_x, const float *b_h,
                     float *work, float *hs, size_t ldhs, float *h, float *c, float *out,
                     ptrdiff_t ldo)
{
    const rnn_kernels_t *kt = pk->k;
    const size_t NS = d->n_steps, B = d->B, H = d->H, P = d->P, G = pk->G, I = pk->I;
    const size_t np = panels_of(kt, G);
    const int mode = pk->mode, joint = pk->form == RNN_PACK_JOINT;
    #pragma omp parallel num_threads(nth)
    {
        const size_t nt = (size_t)dl_team_size(), k = (size_t)dl_thread_id();
        const size_t pairs = (B + 1) / 2;
        const size_t r0 = 2 * (pairs * k / nt), r1e = 2 * (pairs * (k + 1) / nt);
        const size_t r1 = r1e < B ? r1e : B;
        for (size_t s = 0; s < NS && r1 > r0; s++) {
            const size_t t = d->reverse ? NS - 1 - s : s;
            const size_t n = (size_t)d->batch_sizes[t], o = off[t];
            if (n <= r0) continue;  /* this step's batch ends before our rows */
            const size_t m = (n < r1 ? n : r1) - r0, a = o + r0;
            float *hr = h + r0 * P, *cr = c + r0 * H, *orow = out + a * ldo;
            if (joint) {
                float *g = hs + r0 * ldhs;
                kt->gemm_packed(m, G, I, x + a * ldx, ldx, H, hr, (ptrdiff_t)P, pk->wx, 0.0f, g,
                                (ptrdiff_t)ldhs, 0, np);
                for (size_t r = 0; r < m; r++)
                    kt->lstm_row_fwd(H, NULL, g + r * ldhs, b_x, NULL, cr + r * H, NULL,
                                     hr + r * P, orow + r * ldo);
                continue;
            }
            float *g = work + a * G;
            if (mode == DL_RNN_LSTM) {
                kt->gemm_packed(m, G, P, hr, (ptrdiff_t)P, 0, NULL, 0, pk->wh, 1.0f, g,
                                (ptrdiff_t)G, 0, np);
                for (size_t r = 0; r < m; r++)
                    kt->lstm_row_fwd(H, NULL, g + r * G, b_x, NULL, cr + r * H, NULL,
                                     hr + r * P, orow + r * ldo);
                continue;
            }
            if (mode == DL_RNN_GRU) {
                float *hg = hs + r0 * G;
                if (b_h)
                    for (size_t r = 0; r < m; r++) memcpy(hg + r * G, b_h, G * sizeof(float));
                kt->gemm_packed(m, G, P, hr, (ptrdiff_t)P, 0, NULL, 0, pk->wh,
                                b_h ? 1.0f : 0.0f, hg, (ptrdiff_t)G, 0, np);
                for (size_t r = 0; r < m; r++)
                    kt->gru_row_fwd(H, g + r * G, hg + r * G, hr + r * P, NULL);
            } else {
                kt->gemm_packed(m, G, P, hr, (ptrdiff_t)P, 0, NULL, 0, pk->wh, 1.0f, g,
                                (ptrdiff_t)G, 0, np);
                for (size_t r = 0; r < m; r++)
                    kt->elman_row_fwd(H, mode == DL_RNN_RELU, g + r * G, hr + r * P);
            }
            copy_rows(m, P, hr, (ptrdiff_t)P, orow, ldo);
        }
    }
}

/* Rows of every step to the work buffer: x @ w_ih^T, plus `bias` (G) when given. */
static void input_part(const dl_rnn_packed *pk, size_t rows, const float *x, ptrdiff_t ldx,
                       const float *bias, float *work)
{
    const size_t G = pk->G;
    if (bias)
        for (size_t r = 0; r < rows; r++) memcpy(work + r * G, bias, G * sizeof(float));
    mm_packed(pk, rows, pk->I, x, ldx, 0, NULL, 0, pk->wx, bias ? 1.0f : 0.0f, work,
              (ptrdiff_t)G);
}

/* The inference forward of dl_rnn_forward_f32 (same arguments, less the weights and the
 * reserve) on packed weights; work: the split form's rows x G floats (the joint form needs
 * none).  0, or -1 when out of memory or when pk does not match d. */
int dl_rnn_forward_packed_f32(const dl_rnn_desc *d, const dl_rnn_packed *pk, const float *x,
                              ptrdiff_t ldx, const float *b_x, const float *b_h, const float *h0,
                              const float *c0, float *out, ptrdiff_t ldo, float *hn, float *cn,
                              float *work)
{
    const size_t NS = d->n_steps, B = d->B, H = d->H, P = d->P, G = pk->G;
    const int lstm = d->mode == DL_RNN_LSTM, gru = d->mode == DL_RNN_GRU;
    if ((int)d->mode != pk->mode || d->n_input != pk->I || H != pk->H || P != pk->P
        || (pk->form == RNN_PACK_SPLIT && !work))
        return -1;
    const size_t ldhs = pk->form == RNN_PACK_JOINT ? G + 16 : 0;  /* off a multiple of 4 KiB */
    const int split = rows_threads(d, pk->form);
    const int team = split > 1 ? 1 : team_threads(d, pk);
    size_t *off = dl_alloc((NS + 1) * sizeof(size_t));
    float *scratch = dl_alloc((B * P + B * H + B * ldhs + (gru ? B * G : 0)
                               + (team > 1 ? B * H : 0) + 1) * sizeof(float));
    if (!off || !scratch) {
        dl_free(off);
        dl_free(scratch);
        return -1;
    }
    off[0] = 0;
    for (size_t t = 0; t < NS; t++) off[t + 1] = off[t] + (size_t)d->batch_sizes[t];
    float *h = scratch, *c = h + B * P, *hs = c + B * H, *hg = hs + B * ldhs;
    float *h1 = hg + (gru ? B * G : 0);  /* the team's second h */
    if (h0) memcpy(h, h0, B * P * sizeof(float));
    else memset(h, 0, B * P * sizeof(float));
    if (lstm && c0) memcpy(c, c0, B * H * sizeof(float));
    else memset(c, 0, B * H * sizeof(float));

    int rc = 0;  /* no step below fails: out of memory was checked above */
    if (split > 1) {
        if (pk->form == RNN_PACK_SPLIT) input_part(pk, off[NS], x, ldx, lstm ? NULL : b_x, work);
        rows_run(d, pk, split, off, x, ldx, b_x, b_h, work, gru ? hg : hs, gru ? G : ldhs, h,
                 c, out, ldo);
    } else if (team > 1) {
        if (pk->form == RNN_PACK_SPLIT) input_part(pk, off[NS], x, ldx, lstm ? NULL : b_x, work);
        team_run(d, pk, team, off, x, ldx, b_x, b_h, work, gru ? hg : hs, gru ? G : ldhs, h, h1,
                 c, out, ldo);
    } else if (pk->form == RNN_PACK_JOINT) {
        for (size_t s = 0; s < NS; s++) {
            const size_t t = d->reverse ? NS - 1 - s : s;
            const size_t n = (size_t)d->batch_sizes[t], o = off[t];
            if (n == 0) continue;
            mm_packed(pk, n, pk->I, x + o * ldx, ldx, H, h, (ptrdiff_t)P, pk->wx, 0.0f, hs,
                      (ptrdiff_t)ldhs);
            dl_lstm_cell_fwd_f32(n, H, NULL, hs, (ptrdiff_t)ldhs, b_x, NULL, c, NULL, h,
                                 (ptrdiff_t)P, out + o * ldo, ldo);
        }
    } else {
        input_part(pk, off[NS], x, ldx, lstm ? NULL : b_x, work);
        for (size_t s = 0; s < NS; s++) {
            const size_t t = d->reverse ? NS - 1 - s : s;
            const size_t n = (size_t)d->batch_sizes[t], o = off[t];
            if (n == 0) continue;
            float *g = work + o * G;
            if (lstm) {
                mm_packed(pk, n, P, h, (ptrdiff_t)P, 0, NULL, 0, pk->wh, 1.0f, g, (ptrdiff_t)G);
                dl_lstm_cell_fwd_f32(n, H, NULL, g, (ptrdiff_t)G, b_x, NULL, c, NULL, h,
                                     (ptrdiff_t)P, out + o * ldo, ldo);
            } else if (gru) {
                if (b_h)
                    for (size_t i = 0; i < n; i++) memcpy(hg + i * G, b_h, G * sizeof(float));
                mm_packed(pk, n, P, h, (ptrdiff_t)P, 0, NULL, 0, pk->wh, b_h ? 1.0f : 0.0f, hg,
                          (ptrdiff_t)G);
                dl_gru_cell_fwd_f32(n, H, g, hg, h, (ptrdiff_t)P, NULL);
                copy_rows(n, P, h, (ptrdiff_t)P, out + o * ldo, ldo);
            } else {
                mm_packed(pk, n, P, h, (ptrdiff_t)P, 0, NULL, 0, pk->wh, 1.0f, g, (ptrdiff_t)G);
                dl_rnn_cell_fwd_f32(n, H, d->mode == DL_RNN_RELU, g, h, (ptrdiff_t)P);
                copy_rows(n, P, h, (ptrdiff_t)P, out + o * ldo, ldo);
            }
        }
    }
    if (rc == 0) {
        if (hn) memcpy(hn, h, B * P * sizeof(float));
        if (lstm && cn) memcpy(cn, c, B * H * sizeof(float));
    }
    dl_free(off);
    dl_free(scratch);
    return rc;
}
