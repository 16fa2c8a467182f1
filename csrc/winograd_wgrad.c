/* Winograd weight gradient of a 3x3 stride-1 convolution (float32; see winograd.h).
 *
 * The weight gradient of the correlation in winograd.h is
 *     gw[k, c, r, s] = sum_{n, i, j} gy[n, k, i, j] * in[n, c, i - ph + r, j - pw + s],
 * a correlation of the input with the output gradient that gives 3 x 3 values: over one
 * m x m tile e of gy and the a x a input window d under it (a = m + 2), the adjoint of
 * forward Winograd (Y = A^T [U .* V] A with U = G g G^T, V = B^T d B) in g is
 *     gw_tile = G^T [ (A e A^T) .* (B^T d B) ] G.
 * G^T (.) G is linear, so the sum over tiles moves inside it: for each of the a*a
 * transformed positions xi,
 *     M_xi (K x C) = sum over tiles t of E_xi[k, t] V_xi[c, t],  i.e.  E_xi V_xi^T,
 * a GEMM whose reduction runs over the tiles, and at the end gw[k, c] = G^T M[k, c] G.
 * F(4x4) does 36 multiply-adds per 16 output-gradient pixels where im2col does 144 (4x
 * fewer), F(2x2) 16 per 4 (2.25x).
 *
 * The work per call: the tiles of the batch, flattened (image, tile row, tile column), are
 * cut into blocks of Tb; threads take equal runs of blocks (static: the same tiles meet in
 * the same sums every call, so results are bit-for-bit repeatable at a given thread count).
 * Per block: V (input transform, winograd.c's kernel), E (A e A^T), then a*a GEMMs
 * accumulating into the thread's private M.  The threads' M are then summed row by row
 * (output channels split over threads) and transformed back.
 *
 * Choice (dl_winograd_wgrad_pick): a cost model in multiply-add equivalents of the im2col
 * path's GEMM, fitted (non-negative least squares) to single-thread timings of 18 shapes on
 * Zen 4 (maps 2-56, channels 3-512, batch 1-64; mostly within 20%, the 2x2 and 4x4 maps
 * within 35%):
 *     winograd(m) = GEMM_EFF a^2 C K roundup(T, 16)          the a^2 products
 *                 + TRANSFORM a^2 (C + K) N TH roundup(TW, LEN)   input and gy transforms
 *                 + PACK a^2 (C + K) T                       the GEMM packing both operands
 *                 + MPASS a^2 C K ceil(T / Tb)               M read and written per block
 *                 + REDUCE a^2 C K nthreads                  the sum of M and G^T M G
 *     im2col      = 9 C K roundup(N P, NR) + IM2COL 9 C N P
 * (T = N TH TW tiles, P = OH OW, LEN the vector lanes).  The cheaper tile size (F(4x4) only
 * when it saves MARGIN_TILE: it is ~10x less accurate) runs when it beats im2col by MARGIN:
 * in effect Winograd from ~16 channels on every map, F(2x2) on maps of 4 and below; im2col
 * for few input channels (the first layer).
 * Checked on AVX2 (Zen 3, one thread, CPU time, im2col / F(2x2) / F(4x4) each forced, 17
 * shapes: batch 1-64, maps 4-56, channels 3-512): the constants pick an algorithm within 5%
 * of the fastest on every one (e.g. 8x256x14x14 49.4 / 30.1 / 29.0 ms, picks F(4x4);
 * 32x512x2x2 16.6 / 17.0 / 32.1, picks F(2x2); 3 channels 3.3 / 8.5 / 6.5, picks im2col),
 * so AVX2 keeps them.  Larger blocks (Tb up to 4096 tiles, 32 MB of V and E) did not help
 * there either: within +-10% run to run on the same shapes.
 */
#include <string.h>
#include "dlcore/alloc.h"
#include "dlcore/gemm.h"
#include "dlcore/runtime.h"
#include "gemm_kernels.h"
#include "winograd_tiles.h"

/* cost-model constants (see above) */
#define WG_GEMM_EFF 0.58
#define WG_TRANSFORM 6.9
#define WG_PACK 12.7
#define WG_MPASS 26.8
#define WG_REDUCE 6.1
#define WG_IM2COL 15.7
/* 0.95, not 0.9: ResNet-18's last stage in training (batch 32, 512 channels, 2x2 maps) is
 * modelled at 0.90 of im2col and measured at ~0.8 (F(2x2) 7.7 ms, im2col 9.3-10.6 ms, one
 * thread, Zen 4); at two threads the model keeps im2col there (private M per thread) */
#define WG_MARGIN 0.95
#define WG_MARGIN_TILE 0.95
/* bytes of one block's V and E together */
#define WG_BLOCK_BYTES ((size_t)2 << 20)
/* tiles per block: at least this many (the GEMMs' reduction length), at most the second */
#define WG_TB_MIN ((int64_t)48)
#define WG_TB_MAX ((int64_t)512)
/* multiply-adds below which a call stays on one thread */
#define WG_GRAIN ((size_t)1 << 20)
/* floats past a buffer: the filter-gradient transform reads whole vectors */
#define WG_SLACK 16

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t roundup(int64_t v, int64_t to) { return cdiv(v, to) * to; }

/* one xi's slice of V, E or M to the next: rounded up to 16 floats plus 16, so that the a*a
 * slices the transforms touch at once do not share an L1 set (see winograd.c) */
static inline int64_t xi_stride(int64_t n) { return (n + 15) / 16 * 16 + 16; }


static int vector_lanes(int isa) { return isa == DL_ISA_AVX512 ? 16 : isa == DL_ISA_AVX2 ? 8 : 1; }

static int64_t block_tiles(const dl_wino_conv *c, int m, int64_t T, int nt);

static double wgrad_cost(const dl_wino_conv *c, int m, int isa, int nt)
{
    const double a2 = (double)((m + 2) * (m + 2)), CK = (double)c->C * (double)c->K;
    const int64_t TH = cdiv(c->OH, m), TW = cdiv(c->OW, m), T = c->N * TH * TW;
    const double lanes = (double)(c->N * TH * roundup(TW, vector_lanes(isa)));
    const double blocks = (double)cdiv(T, block_tiles(c, m, T, nt));
    return WG_GEMM_EFF * a2 * CK * (double)roundup(T, 16) +
           WG_TRANSFORM * a2 * (double)(c->C + c->K) * lanes +
           WG_PACK * a2 * (double)(c->C + c->K) * (double)T + WG_MPASS * a2 * CK * blocks +
           WG_REDUCE * a2 * CK * (double)nt;
}

static double im2col_wgrad_cost(const dl_wino_conv *c, int isa)
{
    const int64_t nr = (int64_t)gemm_kernels_for((dl_isa_t)isa)->snr;
    const int64_t np = c->N * c->OH * c->OW;
    const double CK = (double)c->C * (double)c->K;
    return 9.0 * CK * (double)roundup(np, nr) + WG_IM2COL * 9.0 * (double)c->C * (double)np;
}

/* Tb: V and E of a block within WG_BLOCK_BYTES (but at least WG_TB_MIN tiles), a multiple of
 * 16, no more than one thread's share of the T tiles */
static int64_t block_tiles(const dl_wino_conv *c, int m, int64_t T, int nt)
{
    const size_t per_tile = (size_t)((m + 2) * (m + 2)) * (size_t)(c->C + c->K) * sizeof(float);
    int64_t tb = (int64_t)(WG_BLOCK_BYTES / per_tile) / 16 * 16;
    tb = tb < WG_TB_MIN ? WG_TB_MIN : (tb > WG_TB_MAX ? WG_TB_MAX : tb);
    const int64_t share = roundup(cdiv(T, nt), 16);
    return tb > share ? share : tb;
}

static int wgrad_threads(const dl_wino_conv *c)
{
    const size_t work = (size_t)(c->N * c->OH * c->OW) * (size_t)(c->C * c->K) * 9;
    return dl_threads_for(work, WG_GRAIN);
}

int dl_winograd_wgrad_tile_size(const dl_wino_conv *c, int isa)
{
    const int nt = wgrad_threads(c);
    return wgrad_cost(c, 4, isa, nt) < WG_MARGIN_TILE * wgrad_cost(c, 2, isa, nt) ? 4 : 2;
}

int dl_winograd_wgrad_pick(const dl_wino_conv *c, int isa)
{
    const int m = dl_winograd_wgrad_tile_size(c, isa);
    return wgrad_cost(c, m, isa, wgrad_threads(c)) < WG_MARGIN * im2col_wgrad_cost(c, isa) ? m
                                                                                          : 0;
}

typedef struct {
    const dl_wino_conv *cv;
    const winograd_tile_kernels *tk;
    int m;
    int64_t a2, TH, TW, T, Tb;
    int64_t ldv, lde, ldm;   /* xi strides of V, E and M */
} wg_plan;

/* the run of tiles that starts at flattened tile q (< q1), all in one tile row */
/* M += the block of tiles q0 .. q1-1, q1 - q0 <= Tb (V and E are the thread's scratch) */
static void wgrad_block(const wg_plan *pl, const float *in, const float *gy, int64_t q0,
                        int64_t q1, float *V, float *E, float *M)
{
    const dl_wino_conv *cv = pl->cv;
    const int m = pl->m;
    const int64_t nb = q1 - q0, Tb = pl->Tb;
    const int64_t C = cv->C, K = cv->K, P = cv->OH * cv->OW;
    /* both operands channel by channel, each plane read top to bottom (see winograd_tiles.h) */
    wino_input_tiles(pl->tk, cv, m, in, pl->TH, pl->TW, q0, q1, 0, C, V, Tb, pl->ldv);
    for (int64_t k = 0; k < K; k++)
        for (int64_t q = q0, n, ty, tx, ntl; q < q1; q += ntl) {
            ntl = wino_tile_run(pl->TH, pl->TW, q, q1, &n, &ty, &tx);
            pl->tk->grad_out(gy + (n * K + k) * P, cv->OH, cv->OW, ty * m, tx * m, ntl,
                             E + k * Tb + (q - q0), pl->lde);
        }
    for (int64_t xi = 0; xi < pl->a2; xi++)
        dl_sgemm_ex(0, 1, (size_t)K, (size_t)C, (size_t)nb, 1.0f, E + xi * pl->lde, Tb,
                    V + xi * pl->ldv, Tb, 1.0f, M + xi * pl->ldm, C, NULL, DL_BIAS_NONE,
                    DL_ACT_NONE, 1);
}

/* gw rows k0 .. k1-1 = G^T (sum of the threads' M) G; s is scratch of a2 * xi_stride(C)
 * + WG_SLACK floats */
static void wgrad_finish(const wg_plan *pl, float *const *parts, int nparts, int64_t k0,
                         int64_t k1, float *s, float *gw)
{
    const int64_t C = pl->cv->C, lds = xi_stride(C);
    float g[9 * 16];
    for (int64_t k = k0; k < k1; k++) {
        for (int64_t xi = 0; xi < pl->a2; xi++) {
            float *d = s + xi * lds;
            const int64_t off = xi * pl->ldm + k * C;
            memcpy(d, parts[0] + off, (size_t)C * sizeof(float));
            for (int t = 1; t < nparts; t++) {
                const float *a = parts[t] + off;
                for (int64_t c = 0; c < C; c++) d[c] += a[c];
            }
        }
        for (int64_t c0 = 0; c0 < C; c0 += 16) {
            const int64_t nc = min64(16, C - c0);
            pl->tk->filter_grad(s + c0, lds, nc, g, 16);
            float *dst = gw + (k * C + c0) * 9;
            for (int64_t l = 0; l < nc; l++)
                for (int t = 0; t < 9; t++) dst[l * 9 + t] = g[t * 16 + l];
        }
    }
}

int dl_winograd_wgrad_f32(const dl_wino_conv *cv, int m, const float *in, const float *gy,
                          float *gw)
{
    const winograd_kernels_t *wk = winograd_kernels_for(dl_isa());
    wg_plan pl;
    pl.cv = cv;
    pl.m = m;
    pl.tk = m == 4 ? &wk->f4 : &wk->f2;
    pl.a2 = (int64_t)(m + 2) * (m + 2);
    pl.TH = cdiv(cv->OH, m);
    pl.TW = cdiv(cv->OW, m);
    pl.T = cv->N * pl.TH * pl.TW;

    int nt = wgrad_threads(cv);
    const int64_t tb = block_tiles(cv, m, pl.T, nt);
    pl.Tb = tb;
    if ((int64_t)nt > pl.T) nt = (int)pl.T;
    pl.ldv = xi_stride(cv->C * tb);
    pl.lde = xi_stride(cv->K * tb);
    pl.ldm = xi_stride(cv->K * cv->C);

    const size_t mlen = (size_t)(pl.a2 * pl.ldm) + WG_SLACK;
    const size_t vlen = (size_t)(pl.a2 * (pl.ldv + pl.lde)) + WG_SLACK;
    const size_t slen = (size_t)(pl.a2 * xi_stride(cv->C)) + WG_SLACK;
    float **parts = (float **)dl_alloc((size_t)nt * sizeof(float *));
    if (!parts) return -1;
    int fail = 0;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int tid = dl_thread_id(), nth = dl_team_size();
        float *M = (float *)dl_buf_malloc((mlen + vlen) * sizeof(float));
        if (!M) {
            #pragma omp atomic write
            fail = 1;
        }
        parts[tid] = M;
        #pragma omp barrier
        if (!fail) {
            float *V = M + mlen, *E = V + pl.a2 * pl.ldv;
            memset(M, 0, mlen * sizeof(float));
            /* equal runs of tiles, by thread number: repeatable sums */
            const int64_t t0 = pl.T * tid / nth, t1 = pl.T * (tid + 1) / nth;
            for (int64_t q = t0; q < t1; q += tb)
                wgrad_block(&pl, in, gy, q, min64(t1, q + tb), V, E, M);
        }
        #pragma omp barrier
        if (!fail) {
            /* the threads' M summed and transformed back, output channels split */
            float *s = (float *)dl_buf_malloc(slen * sizeof(float));
            if (!s) {
                #pragma omp atomic write
                fail = 1;
            } else {
                const int64_t k0 = cv->K * tid / nth, k1 = cv->K * (tid + 1) / nth;
                wgrad_finish(&pl, parts, nth, k0, k1, s, gw);
                dl_buf_free(s);
            }
        }
        #pragma omp barrier
        dl_buf_free(M);
    }
    dl_free(parts);
    return fail ? -1 : 0;
}
