/* Winograd F(m x m, 3 x 3) convolution driver (float32; see winograd.h for the contract).
 *
 * With a = m + 2, each m x m output tile of each output channel is
 *     Y = A^T [ sum_c (G g_kc G^T) .* (B^T d_c B) ] A
 * so the a*a products of every (tile, k, c) become a*a independent GEMMs over the channels:
 *     M_xi (K x tiles) = U_xi (K x C) V_xi (C x tiles),  xi < a*a.
 * F(4x4) does 36 multiply-adds per 16 outputs where direct convolution does 144 (4x fewer);
 * F(2x2) 16 per 4 (2.25x fewer), with cheaper transforms and less rounding.
 *
 * The work per call:
 *   1. U = G g G^T for every (k, c), written straight into the GEMM's packed left-operand
 *      layout (micro-panels of MR output channels), one per xi, shared by all threads.
 *   2. The tiles of the whole batch, flattened (image, tile row, tile column), are cut into
 *      blocks of Tb (a multiple of the micro-kernel's NR); threads take blocks.  Per block:
 *      a. input transform: channel by channel, and for each the runs of tiles within one
 *         tile row in order (each plane read top to bottom), the SIMD transform reads the a
 *         input rows straight from the plane (zero padding applied in its loads) and writes
 *         V_xi[c][tile] for all lanes; V (a*a x C x Tb) stays in L2/L3 until the GEMMs;
 *      b. a*a GEMMs straight on the GEMM family's micro-kernel (A = packed U, B = V read in
 *         place with row stride Tb), into M (a*a x K x Tb);
 *      c. output transform per (k, run) with the bias added, written into the NCHW output.
 *   Nothing the size of the input or the batch is allocated: per thread V and M.
 * Panel mode, for calls without the filter cache whose tiles are few beside the filters (V
 * and M of all T tiles within WINO_PANEL_BYTES and no larger than U: the deep layers of a
 * network in training, e.g. 512 channels on 2x2 maps at batch 32, where U is 16 MB and the
 * tiles 2 MB): all tiles form one block shared by the threads; they split the channels for
 * the input transform, then the output-channel panels, each panel's filters transformed into
 * a small per-thread U (L2-sized) right before its a*a products, then the output channels
 * for the output transform.  U never goes to memory and back (-18% time on that layer's
 * forward at one thread here), and a second thread has work where one block would leave it
 * idle.
 *
 * Choice (dl_winograd_pick): a cost model in multiply-add equivalents (one unit: a
 * multiply-add of the im2col path's GEMM), its constants fitted per ISA (wino_costs below) to
 * single-thread timings of ResNet-shaped layers (maps 7-56, channels 64-512, batch 1-8; within
 * ~30% of each):
 *     winograd(m) = GEMM_EFF a^2 C K roundup(T, NR)                 the a^2 products
 *                 + OUT a^2 K roundup(T, NR)                        their outputs (depth C aside)
 *                 + TRANSFORM a^2 (C + K) N TH roundup(TW, LEN)     input and output transforms
 *                 + FILTER a^2 C K                                  the filter transform
 *     im2col      = 9 C K roundup(N P, NR) + IM2COL 9 C N P + PACK 9 C K
 * with T = N TH TW tiles (TH = ceil(OH/m), TW = ceil(OW/m)), P = OH OW, LEN the vector
 * lanes: the transforms work on one tile row at a time, so a row of 4 tiles fills a quarter
 * of a 16-lane vector, and a partly filled NR panel costs a whole one.  The smaller of F(2x2)
 * and F(4x4) (F(4x4) only when it saves MARGIN_TILE: it is ~20x less accurate) runs when it
 * beats im2col by MARGIN.  In effect: Winograd from about 16 channels on maps of 14 and up,
 * F(2x2) for small maps, im2col at batch 1 on 7x7 maps with many channels (the filter
 * transform, a*a C K values, outweighs the saving) and for few input channels.  A call
 * that may use the filter-transform cache (c->cache: inference, the same weights call after
 * call) leaves the FILTER term out, so batch-1 layers on small maps take Winograd too.
 * Per ISA (the vector width and the GEMM tile change the balance):
 *   AVX-512 (fitted on Zen 4, 512-bit FMAs double-pumped, 14x32 GEMM tile): GEMM_EFF 0.7,
 *     OUT 0, TRANSFORM 10, FILTER 20, IM2COL 2, PACK 4;
 *   AVX2 (fitted on Zen 3, 6x16 GEMM tile): GEMM_EFF 1.3, OUT 8, TRANSFORM 3.5, FILTER 60,
 *     IM2COL 2, PACK 4.  The a*a products run on 6-row panels there (MR 6 against 14), a
 *     smaller share of FMA peak than the one large im2col GEMM, and with few input channels
 *     (depth C = 3: a network's first layer) their outputs cost more than their
 *     multiply-adds (OUT); the transforms, 8 lanes wide, waste less on short tile rows; and
 *     the filter transform, U written out and read back (37 MB at 512 channels for F(4x4)),
 *     costs 3x more against a GEMM multiply-add.  Measured here
 *     (CPU ms, 1 thread, im2col / F(2x2) / F(4x4), transform per call): 512 ch 7x7 b1
 *     7.2 / 13.3 / 33.5, b8 35.5 / 42.5 / 45.1; 128 ch 28x28 b1 6.6 / 3.4 / 4.1.  The
 *     Zen 4 constants took F(2x2), F(4x4), F(4x4) for these (84%, 27%, 21% slower than the
 *     best); these pick, for each of ResNet-18's 3x3 stride-1 shapes at batch 1 and 8, with
 *     and without a cached transform, and for six layers of 3 to 32 input channels (3 ch
 *     32x32 b32: im2col 2.9, F(4x4) 3.5), an algorithm within 5% of the best of the three
 *     (docs/architecture.md);
 *   generic: the AVX-512 constants (not fitted).
 * The input gradient (c->flip) runs the same Winograd kernels, but its im2col path is another
 * product: col (9 C_in x N P) = W^T gy, then col2im, with C_in = c->K here and W^T (9 C_in x
 * C_out) packed through a transposed read of the weights:
 *     im2col_dx   = DX_GEMM 9 C K roundup(N P, NR) + COL2IM 9 K N P + PACK_T 9 C K
 * (P the forward's output pixels, = OH OW here for stride 1 and the usual padding).  AVX2
 * (fitted on Zen 3, one thread, 36 shapes: batch 1-64, maps 2-56, channels 3-512, against
 * the Winograd terms above as they stand): DX_GEMM 0.9, COL2IM 30, PACK_T 30 (the least-squares
 * fit gave COL2IM 22, PACK_T 55, equally good on those shapes; its 55 also moved 512-channel
 * and channel-doubling layers to Winograd, measured 0.86-0.98x of im2col there: 4x128x8x8
 * ->256, 4x512x8x8, 16x512x4x4, 1x512x16x16; 30 / 30 keeps those on im2col and the 17 of 25
 * sampled shapes it moves ran 1.04-1.73x faster, geometric mean 1.33).  The transposed
 * pack of W^T (27% of a 2x512x7x7 input gradient's time, against 15% for the forward's pack
 * of W) and the col2im adds make the small-map input gradients of 128-512 channels cost
 * 1.3-1.7x their forward; the forward's im2col model had kept im2col there at up to 1.6x the
 * best (2x128x14x14: im2col 3.31 ms, F(4x4) 2.10 ms).  AVX-512 and generic: the forward's
 * constants (DX_GEMM 1, COL2IM = IM2COL, PACK_T = PACK; not fitted).
 */
#include <string.h>
#include "dlcore/alloc.h"
#include "dlcore/runtime.h"
#include "gemm_kernels.h"
#include "winograd_tiles.h"

/* cost-model constants per ISA (see above) */
typedef struct {
    double gemm_eff, out, transform, filter, im2col, pack;
    double dx_gemm, col2im, pack_t;   /* the input gradient's im2col path */
} wino_costs;
static const wino_costs wino_costs_avx512 = {0.7, 0.0, 10.0, 20.0, 2.0, 4.0, 1.0, 2.0, 4.0};
static const wino_costs wino_costs_avx2 = {1.3, 8.0, 3.5, 60.0, 2.0, 4.0, 0.9, 30.0, 30.0};
static const wino_costs *costs_for(int isa)
{
    return isa == DL_ISA_AVX2 ? &wino_costs_avx2 : &wino_costs_avx512;
}
#define WINO_MARGIN 0.9
#define WINO_MARGIN_TILE 0.9
/* bytes of one block's V and M together (the rest of L2 holds U_xi and the strips) */
#define WINO_BLOCK_BYTES ((size_t)2 << 20)
/* V and M of all the tiles at most this size (and no larger than U) take panel mode */
#define WINO_PANEL_BYTES ((size_t)6 << 20)
/* multiply-adds below which a call stays on one thread (as conv.c's DL_CONV_GRAIN) */
#define WINO_GRAIN ((size_t)1 << 20)
/* channels per GEMM pass (the K blocking of gemm.c) */
#define WINO_KC 256
/* floats past V and M: the output transform reads whole vectors */
#define WINO_SLACK 16

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Floats from one xi's slice of U, V or M to the next: the slice rounded up to 16 floats,
 * plus 16.  The transforms touch all a*a slices at once, and slices a multiple of 4 KiB
 * apart would all fall in one L1 set (8 ways for 36 lines): the odd 64 bytes spread them. */
static inline int64_t xi_stride(int64_t n) { return (n + 15) / 16 * 16 + 16; }

static int64_t tiles_of(const dl_wino_conv *c, int m)
{
    return c->N * cdiv(c->OH, m) * cdiv(c->OW, m);
}

static int64_t roundup(int64_t v, int64_t to) { return cdiv(v, to) * to; }

static int vector_lanes(int isa) { return isa == DL_ISA_AVX512 ? 16 : isa == DL_ISA_AVX2 ? 8 : 1; }

static double wino_cost(const dl_wino_conv *c, int m, int isa)
{
    const int64_t nr = (int64_t)gemm_kernels_for((dl_isa_t)isa)->snr;
    const double a2 = (double)((m + 2) * (m + 2)), CK = (double)c->C * (double)c->K;
    const int64_t TH = cdiv(c->OH, m), TW = cdiv(c->OW, m);
    const double lanes = (double)(c->N * TH * roundup(TW, vector_lanes(isa)));
    const wino_costs *k = costs_for(isa);
    return (k->gemm_eff * CK + k->out * (double)c->K) * a2 *
               (double)roundup(tiles_of(c, m), nr) +
           k->transform * a2 * (double)(c->C + c->K) * lanes +
           (c->cache ? 0.0 : k->filter * a2 * CK);
}

static double im2col_cost(const dl_wino_conv *c, int isa)
{
    const int64_t nr = (int64_t)gemm_kernels_for((dl_isa_t)isa)->snr;
    const int64_t np = c->N * c->OH * c->OW;
    const double CK = (double)c->C * (double)c->K;
    const wino_costs *k = costs_for(isa);
    if (c->flip)   /* the input gradient: c->K is the forward's input channels */
        return k->dx_gemm * 9.0 * CK * (double)roundup(np, nr) +
               k->col2im * 9.0 * (double)c->K * (double)np + k->pack_t * 9.0 * CK;
    return 9.0 * CK * (double)roundup(np, nr) + k->im2col * 9.0 * (double)c->C * (double)np +
           k->pack * 9.0 * CK;
}

int dl_winograd_tile_size(const dl_wino_conv *c, int isa)
{
    return wino_cost(c, 4, isa) < WINO_MARGIN_TILE * wino_cost(c, 2, isa) ? 4 : 2;
}

int dl_winograd_pick(const dl_wino_conv *c, int isa)
{
    const int m = dl_winograd_tile_size(c, isa);
    return wino_cost(c, m, isa) < WINO_MARGIN * im2col_cost(c, isa) ? m : 0;
}

/* The transformed filters as packed GEMM left operands: for xi, output-channel panel ip and
 * input channel c, the MR values of U_xi[ip*MR + i][c] at
 *     U[((xi*npan + ip)*C + c)*MR + i]   (zero for rows past K),
 * so the panel for channels c0.. is one contiguous kc x MR micro-panel from c0*MR on.
 * pack_filters writes panel ip's channels c0 .. c1-1 at Up (the panel's first value, slice xi
 * at Up + xi*ldu); 0 when a weight is NaN or infinite. */
static int pack_filters(const dl_wino_conv *cv, const winograd_tile_kernels *tk, int64_t MR,
                        int64_t ip, int64_t c0, int64_t c1, float *Up, int64_t ldu)
{
    /* lanes past `rows` stay zero (the padded rows of the last panel); lanes past MR are
     * loaded with the vector and dropped */
    float g[9 * 32] = {0};
    const int64_t ldg = 32, rows = min64(MR, cv->K - ip * MR);
    /* a NaN or infinity has all exponent bits set; an integer OR, not a float sum: a chain
     * of dependent float adds, one per tap, cost more than the transform itself */
    uint32_t bad = 0;
    for (int64_t c = c0; c < c1; c++) {
        for (int64_t i = 0; i < rows; i++) {
            /* one filter's 9 taps, contiguous in memory */
            const float *src = cv->w + (ip * MR + i) * cv->wk + c * cv->wc;
            for (int t = 0; t < 9; t++) {
                const float v = src[cv->flip ? 8 - t : t];
                uint32_t u;
                memcpy(&u, &v, sizeof u);
                bad |= (u & 0x7f800000u) == 0x7f800000u;
                g[t * ldg + i] = v;
            }
        }
        tk->filter(g, ldg, MR, Up + c * MR, ldu);
    }
    return !bad;
}

typedef struct {
    const dl_wino_conv *cv;
    const winograd_tile_kernels *tk;
    const gemm_kernels_t *gk;
    int m;
    int64_t a2, TH, TW, T, Tb, MR, NR, npan;
    const float *U;
} wino_plan;

/* The output transform of tiles q0 .. q1-1 (tile q at column q - q0 of M's rows, pl->Tb
 * apart), output channels k0 .. k1-1, with the bias added, rows written straight into the
 * output planes; channel by channel, so that each plane is written top to bottom. */
static void output_tiles(const wino_plan *pl, const float *M, int64_t q0, int64_t q1, int64_t k0,
                         int64_t k1, const float *bias, float *out)
{
    const dl_wino_conv *cv = pl->cv;
    const int m = pl->m;
    const int64_t K = cv->K, P = cv->OH * cv->OW, Tb = pl->Tb;
    for (int64_t k = k0; k < k1; k++)
        for (int64_t q = q0, n, ty, tx, ntl; q < q1; q += ntl) {
            ntl = wino_tile_run(pl->TH, pl->TW, q, q1, &n, &ty, &tx);
            const int64_t oh0 = ty * m, ow0 = tx * m;
            const int64_t rows = min64(m, cv->OH - oh0), cols = min64(m * ntl, cv->OW - ow0);
            pl->tk->output(M + k * Tb + (q - q0), xi_stride(K * Tb), ntl, bias ? bias[k] : 0.0f,
                           out + (n * K + k) * P + oh0 * cv->OW + ow0, cv->OW, rows, cols);
        }
}

/* The transform-domain products' epilogue (plain store; beta set per K block) and K block:
 * C split into even blocks of at most WINO_KC, rounded up to 8, as gemm.c blocks K. */
static dl_gemm_epi products_epi(void)
{
    dl_gemm_epi e;
    e.alpha = 1.0;
    e.beta = 0.0;
    e.bias_row = NULL;
    e.bias_col = NULL;
    e.act = DL_ACT_NONE;
    return e;
}

static int64_t products_kc(int64_t C)
{
    const int64_t nkb = cdiv(C, WINO_KC);
    return cdiv(cdiv(C, nkb), 8) * 8;
}

/* One block of tiles, q0 .. q0 + Tb - 1 (or up to T), on the thread's V and M. */
static void run_block(const wino_plan *pl, const float *in, const float *bias, float *out,
                      int64_t q0, float *V, float *M)
{
    const dl_wino_conv *cv = pl->cv;
    const int m = pl->m;
    const int64_t q1 = min64(pl->T, q0 + pl->Tb), nb = q1 - q0, Tb = pl->Tb;
    const int64_t C = cv->C, K = cv->K;

    /* a. input transform, straight from the planes (zero padding applied in the kernel) */
    wino_input_tiles(pl->tk, cv, m, in, pl->TH, pl->TW, q0, q1, 0, C, V, Tb, xi_stride(C * Tb));

    /* b. the a*a products M_xi = U_xi V_xi, K blocked as gemm.c does */
    dl_gemm_epi e = products_epi();
    const int64_t kcb = products_kc(C);
    for (int64_t xi = 0; xi < pl->a2; xi++) {
        const float *Ux = pl->U + xi * xi_stride(pl->npan * C * pl->MR);
        const float *Vx = V + xi * xi_stride(C * Tb);
        float *Mx = M + xi * xi_stride(K * Tb);
        for (int64_t c0 = 0; c0 < C; c0 += kcb) {
            const int64_t kc = min64(kcb, C - c0);
            e.beta = c0 ? 1.0 : 0.0;
            for (int64_t ip = 0; ip < pl->npan; ip++) {
                const float *ap = Ux + (ip * C + c0) * pl->MR;
                const int64_t mr = min64(pl->MR, K - ip * pl->MR);
                for (int64_t j = 0; j < nb; j += pl->NR)
                    pl->gk->sgemm((size_t)kc, ap, Vx + c0 * Tb + j, (ptrdiff_t)Tb,
                                  Mx + ip * pl->MR * Tb + j, (ptrdiff_t)Tb, (size_t)mr,
                                  (size_t)min64(pl->NR, nb - j), &e);
            }
        }
    }

    /* c. output transform */
    output_tiles(pl, M, q0, q1, 0, K, bias, out);
}

/* Panel mode's products for output-channel panel ip: M rows ip*MR.. of every xi = the
 * panel's transformed filters (Up, slice xi at Up + xi*ldu) times V, over all T tiles. */
static void panel_products(const wino_plan *pl, const float *Up, int64_t ldu, int64_t ip,
                           const float *V, float *M)
{
    const int64_t C = pl->cv->C, K = pl->cv->K, Tb = pl->Tb, MR = pl->MR, nb = pl->T;
    const int64_t mr = min64(MR, K - ip * MR);
    dl_gemm_epi e = products_epi();
    const int64_t kcb = products_kc(C);
    for (int64_t xi = 0; xi < pl->a2; xi++) {
        const float *Ux = Up + xi * ldu, *Vx = V + xi * xi_stride(C * Tb);
        float *Mx = M + xi * xi_stride(K * Tb) + ip * MR * Tb;
        for (int64_t c0 = 0; c0 < C; c0 += kcb) {
            const int64_t kc = min64(kcb, C - c0);
            e.beta = c0 ? 1.0 : 0.0;
            for (int64_t j = 0; j < nb; j += pl->NR)
                pl->gk->sgemm((size_t)kc, Ux + c0 * MR, Vx + c0 * Tb + j, (ptrdiff_t)Tb, Mx + j,
                              (ptrdiff_t)Tb, (size_t)mr, (size_t)min64(pl->NR, nb - j), &e);
        }
    }
}

/* Panel mode (see the header): all T tiles in one block, V and M (row stride pl->Tb) shared
 * by the threads, which split the channels for the transforms and the output-channel panels
 * for the products.  Each panel's filters are transformed into the thread's own small U
 * right before its products, so U (a*a C K values, 16 MB for 512 x 512 channels in F(2x2))
 * is never written out whole and read back. */
static int run_panels(const wino_plan *pl, const float *in, const float *bias, float *out,
                      float *V, float *M, int nt)
{
    const dl_wino_conv *cv = pl->cv;
    const int64_t C = cv->C, ldu = xi_stride(C * pl->MR);
    const size_t plen = (size_t)(pl->a2 * ldu) + WINO_SLACK;
    int fail = 0, finite = 1;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        /* one channel per iteration: V's rows have room for the kernel's spill (pl->Tb) */
        #pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++)
            wino_input_tiles(pl->tk, cv, pl->m, in, pl->TH, pl->TW, 0, pl->T, c, c + 1, V,
                             pl->Tb, xi_stride(C * pl->Tb));
        /* the plan's transformed filters, or this thread's panel buffer */
        float *Up = pl->U ? NULL : (float *)dl_buf_malloc(plen * sizeof(float));
        if (!pl->U && !Up) {
            #pragma omp atomic write
            fail = 1;
        }
        #pragma omp barrier
        if (!fail) {
            #pragma omp for schedule(dynamic, 1) reduction(&& : finite)
            for (int64_t ip = 0; ip < pl->npan; ip++) {
                if (pl->U) {
                    panel_products(pl, pl->U + ip * C * pl->MR,
                                   xi_stride(pl->npan * C * pl->MR), ip, V, M);
                    continue;
                }
                finite = pack_filters(cv, pl->tk, pl->MR, ip, 0, C, Up, ldu) && finite;
                panel_products(pl, Up, ldu, ip, V, M);
            }
            if (finite) {
                #pragma omp for schedule(static)
                for (int64_t k = 0; k < cv->K; k++)
                    output_tiles(pl, M, 0, pl->T, k, k + 1, bias, out);
            }
        }
        dl_buf_free(Up);
    }
    return fail ? -1 : finite ? 0 : -2;
}

/* The driver on one ISA's kernels; Upre: the filters transformed beforehand for that ISA
 * (dl_winograd_pack), or NULL to transform (or find in the cache) here. */
static int wino_conv(const dl_wino_conv *cv, int m, dl_isa_t isa, const float *Upre,
                     const float *in, const float *bias, float *out)
{
    const winograd_kernels_t *wk = winograd_kernels_for(isa);
    wino_plan pl;
    pl.cv = cv;
    pl.m = m;
    pl.tk = m == 4 ? &wk->f4 : &wk->f2;
    pl.gk = gemm_kernels_for(isa);
    pl.a2 = (int64_t)(m + 2) * (m + 2);
    pl.TH = cdiv(cv->OH, m);
    pl.TW = cdiv(cv->OW, m);
    pl.T = cv->N * pl.TH * pl.TW;
    pl.MR = (int64_t)pl.gk->smr;
    pl.NR = (int64_t)pl.gk->snr;
    pl.npan = cdiv(cv->K, pl.MR);

    const size_t work = (size_t)(cv->N * cv->OH * cv->OW) * (size_t)(cv->C * cv->K) * 9;
    int nt = dl_threads_for(work, WINO_GRAIN);
    /* Tb: V and M of a block within WINO_BLOCK_BYTES, whole NR panels, and blocks enough
     * to keep every thread busy */
    const size_t per_tile = (size_t)pl.a2 * (size_t)(cv->C + cv->K) * sizeof(float);
    const size_t ulen = (size_t)(pl.a2 * xi_stride(pl.npan * cv->C * pl.MR));
    const size_t tiles_bytes = (size_t)pl.T * per_tile;
    /* filters transformed beforehand (an inference plan) on tiles too few for two blocks
     * per thread (ResNet-18 at batch 1: 16 tiles on the 7x7 maps, one block for one of two
     * threads; 49 on the 14x14 and 28x28 maps, blocks of 32 and 17): panel mode on them, the
     * threads sharing out the output-channel panels (10 to 37 here) instead of a few
     * uneven blocks */
    const size_t wlen = (size_t)(cv->K * cv->C * 9);
    /* a cached transform of these very weights (eager inference) serves as a plan's does:
     * looked up first, so that eager batch-1 calls take the same panel split */
    float *Ucache = !Upre && cv->cache ? dl_wino_cache_find(cv, m, (int)isa, wlen, ulen) : NULL;
    const float *Uready = Upre ? Upre : Ucache;
    const int upre_panels = Uready && nt > 1 && cdiv(pl.T, pl.NR) < 2 * nt && pl.npan > 1 &&
                            tiles_bytes <= WINO_PANEL_BYTES;
    if (upre_panels || (!cv->cache && !Upre && pl.npan > 1 &&
                        tiles_bytes <= WINO_PANEL_BYTES && tiles_bytes <= ulen * sizeof(float))) {
        pl.U = Uready;
        /* room past the last tile of each row for the input kernel's whole-vector spill, so
         * that threads writing neighbouring channels never overlap */
        pl.Tb = roundup(pl.T, pl.NR) + WINO_SLACK;
        const size_t vlen = (size_t)(pl.a2 * xi_stride(cv->C * pl.Tb)) + WINO_SLACK;
        const size_t mlen = (size_t)(pl.a2 * xi_stride(cv->K * pl.Tb)) + WINO_SLACK;
        float *buf = (float *)dl_buf_malloc((vlen + mlen) * sizeof(float));
        const int rc = !buf ? -1 : run_panels(&pl, in, bias, out, buf, buf + vlen,
                                              nt > pl.npan ? (int)pl.npan : nt);
        dl_buf_free(buf);
        if (Ucache) dl_wino_cache_release(Ucache);
        return rc;
    }
    int64_t tb = (int64_t)(WINO_BLOCK_BYTES / per_tile) / pl.NR * pl.NR;
    tb = tb < pl.NR ? pl.NR : (tb > 4 * pl.NR ? 4 * pl.NR : tb);
    while (tb > pl.NR && cdiv(pl.T, tb) < 4 * nt) tb -= pl.NR;
    pl.Tb = tb;
    const int64_t nblocks = cdiv(pl.T, tb);
    if (nt > nblocks) nt = (int)nblocks;

    /* the transform made beforehand or cached (found above), or a fresh one from the buffer
     * allocator: a call of the same shape gets the same mapped pages back (U alone is 38 MB
     * for 512 x 512 channels, fresh 4 KiB pages would cost more than the transform) */
    float *U = Upre ? (float *)Upre : Ucache;
    const int cached = U != NULL;
    if (!U) U = (float *)dl_buf_malloc(ulen * sizeof(float));
    if (!U) return -1;
    pl.U = U;
    const size_t vlen = (size_t)(pl.a2 * xi_stride(cv->C * tb)) + WINO_SLACK;
    const size_t mlen = (size_t)(pl.a2 * xi_stride(cv->K * tb)) + WINO_SLACK;
    int fail = 0, finite = 1;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        /* the filters in chunks of 16 channels of one panel */
        const int64_t nch = cdiv(cv->C, 16);
        #pragma omp for schedule(static) reduction(&& : finite)
        for (int64_t i = 0; i < (cached ? 0 : pl.npan * nch); i++) {
            const int64_t ip = i / nch, c0 = i % nch * 16;
            finite = pack_filters(cv, pl.tk, pl.MR, ip, c0, min64(cv->C, c0 + 16),
                                  U + ip * cv->C * pl.MR, xi_stride(pl.npan * cv->C * pl.MR)) &&
                     finite;
        }
        if (!finite) {
            #pragma omp atomic write
            fail = 2;
        }
        float *buf = (float *)dl_buf_malloc((vlen + mlen) * sizeof(float));
        if (!buf) {
            #pragma omp atomic write
            fail = 1;
        }
        #pragma omp barrier
        if (!fail) {
            #pragma omp for schedule(dynamic, 1)
            for (int64_t b = 0; b < nblocks; b++)
                run_block(&pl, in, bias, out, b * tb, buf, buf + vlen);
        }
        dl_buf_free(buf);
    }
    if (Upre) {
        /* the caller's */
    } else if (cached) dl_wino_cache_release(U);
    else if (!(cv->cache && !fail && dl_wino_cache_offer(cv, m, (int)isa, wlen, U, ulen)))
        dl_buf_free(U);
    return fail == 2 ? -2 : fail ? -1 : 0;
}

int dl_winograd_conv_f32(const dl_wino_conv *cv, int m, const float *in, const float *bias,
                         float *out)
{
    return wino_conv(cv, m, dl_isa(), NULL, in, bias, out);
}

size_t dl_winograd_packed_floats(const dl_wino_conv *cv, int m, int isa)
{
    const int64_t MR = (int64_t)gemm_kernels_for((dl_isa_t)isa)->smr;
    return (size_t)((int64_t)(m + 2) * (m + 2) * xi_stride(cdiv(cv->K, MR) * cv->C * MR));
}

int dl_winograd_pack(const dl_wino_conv *cv, int m, int isa, float *U)
{
    const winograd_kernels_t *wk = winograd_kernels_for((dl_isa_t)isa);
    const int64_t MR = (int64_t)gemm_kernels_for((dl_isa_t)isa)->smr;
    const int64_t npan = cdiv(cv->K, MR), ldu = xi_stride(npan * cv->C * MR);
    memset(U, 0, dl_winograd_packed_floats(cv, m, isa) * sizeof(float));
    int finite = 1;
    for (int64_t ip = 0; ip < npan; ip++)
        finite = pack_filters(cv, m == 4 ? &wk->f4 : &wk->f2, MR, ip, 0, cv->C,
                              U + ip * cv->C * MR, ldu) && finite;
    return finite ? 0 : -2;
}

int dl_winograd_conv_packed_f32(const dl_wino_conv *cv, int m, int isa, const float *U,
                                const float *in, const float *bias, float *out)
{
    return wino_conv(cv, m, (dl_isa_t)isa, U, in, bias, out);
}
