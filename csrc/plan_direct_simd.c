/* The executor's direct convolution for small maps at stride 1 (LeNet's 5x5 layers): no im2col.
 *
 * With stride 1, output (oh, ow) of an image zero-padded to Hp x Wp reads input element
 * q + c*Hp*Wp + r*dh*Wp + s*dw of the flattened planes, q = oh*Wp + ow: a tap is one constant
 * offset.  So over the "wide" output positions q = 0 .. (OH-1)*Wp + OW - 1 (whose columns
 * ow >= OW are computed and dropped), the convolution is a product whose B row for tap t is
 * the planes read at offset off[t]: a register tile of rows (output channels, weights
 * broadcast) by vectors of consecutive q (plain loads) accumulates every tap with no column
 * buffer at all.  im2col + GEMM spent more than half of LeNet's second layer writing and
 * re-reading its columns (150 taps of 100-float images); here the dropped columns
 * ((S-1)*dw of every Wp) are the cost instead.  Only the kept lanes are stored: compressed
 * into place with AVX-512, lane by lane otherwise.  With AVX-512 and output channels in
 * blocks of 16, the channel-lanes form (ctile below) wastes no lane on dropped columns at all.
 *
 * The weights come packed once (dl_plan_direct_pack in plan_conv.c): blocks of
 * DL_PLAN_DIRECT_ROWS output channels, tap-major, zero rows past K. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "dlcore/act.h"
#include "dlcore/plan.h"
#include "dlcore/runtime.h"
#include "simd.h"
#include "plan_kernels.h"
#include "plan_direct_s2.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

enum { ROWS = DL_PLAN_DIRECT_ROWS, NV_MAX = 4 };

/* rows of a register tile (the vectors per row are in tile_nv below): the accumulators fill
 * most of the registers */
#if defined(__AVX512F__)
#define LANES16 1
#elif defined(__AVX2__)
#define LANES8 1
#endif
#ifdef LANES8
enum { MR = 4 };
#else
enum { MR = 8 };
#endif

typedef struct {
    int64_t Wp, OW, Q;       /* padded row, kept columns, wide positions to compute */
    /* per vector of wide positions (v: q = v*DL_VF_LEN ..): which lanes are kept (bit l:
     * q + l) and how many kept positions come before q (where its first kept lane goes);
     * worked out once per call, not per tile and row block */
    const uint32_t *keep;
    const int32_t *dest;
#ifdef LANES8
    /* per vector, the kept lanes' indices in order (the rest 0): a permute packs them at
     * the front, an AVX2 stand-in for AVX-512's compress */
    const int32_t *perm;
#endif
} lanes_geom;

/* g's keep and dest (and perm, AVX2) for nvec vectors (those past Q keep nothing) */
static void kept_lanes(const lanes_geom *g, int64_t nvec, uint32_t *keep, int32_t *dest,
                       int32_t *perm)
{
    for (int64_t v = 0; v < nvec; v++) {
        const int64_t q = v * DL_VF_LEN, row = q / g->Wp, col = q - row * g->Wp;
        dest[v] = (int32_t)(row * g->OW + (col < g->OW ? col : g->OW));
        uint32_t m = 0;
        int64_t c = col;
        for (int l = 0; l < DL_VF_LEN; l++, c++) {
            if (c == g->Wp) c = 0;
            if (c < g->OW && q + l < g->Q) m |= 1u << l;
        }
        keep[v] = m;
        if (perm) {
            int j = 0;
            for (int l = 0; l < DL_VF_LEN; l++)
                if (m >> l & 1u) perm[v * DL_VF_LEN + j++] = l;
            for (; j < DL_VF_LEN; j++) perm[v * DL_VF_LEN + j] = 0;
        }
    }
}

/* The tile's mr x nv accumulators over every tap, with bias and Relu, stored where kept in
 * the output rows (stride P); the work item's outputs end before position dlim of each row */
static inline __attribute__((always_inline)) void tile(
    const int mr, const int nv, int64_t T, const float *a, const int32_t *off,
    const float *xq, const float *bias, int relu, const lanes_geom *g, int64_t q0, float *y,
    int64_t P, int64_t dlim)
{
    (void)dlim;   /* the AVX2 store's limit */
    vf acc[MR][NV_MAX];
    for (int m = 0; m < mr; m++) {
        const vf b0 = bias ? vf_set1(bias[m]) : vf_zero();
        for (int v = 0; v < nv; v++) acc[m][v] = b0;
    }
    for (int64_t t = 0; t < T; t++) {
        const float *b = xq + off[t], *at = a + t * ROWS;
        vf bv[NV_MAX];
        for (int v = 0; v < nv; v++) bv[v] = vf_loadu(b + v * DL_VF_LEN);
        for (int m = 0; m < mr; m++) {
            const vf am = vf_set1(at[m]);
            for (int v = 0; v < nv; v++) acc[m][v] = vf_fma(am, bv[v], acc[m][v]);
        }
    }
    for (int v = 0; v < nv; v++) {
        const int64_t vi = q0 / DL_VF_LEN + v, dest = g->dest[vi];
        const uint32_t keep = g->keep[vi];
        if (!keep) continue;
        for (int m = 0; m < mr; m++) {
            /* max(0, x) keeps a NaN, as Relu does */
            const vf r = relu ? vf_max(vf_zero(), acc[m][v]) : acc[m][v];
            float *yr = y + m * P + dest;
#ifdef LANES16
            const __mmask16 k = (__mmask16)keep;
            _mm512_mask_storeu_ps(yr, (__mmask16)((1u << __builtin_popcount(keep)) - 1u),
                                  _mm512_maskz_compress_ps(k, r));
#elif defined(LANES8)
            /* the kept lanes permuted to the front and the whole vector stored: the lanes
             * past them land on this item's later outputs of the row, which later vectors
             * overwrite (in order, on this thread); only at the item's end, lane by lane.
             * The branch per lane and scalar stores took about half of LeNet's first layer */
            const vf c = keep == 0xFFu ? r
                         : _mm256_permutevar8x32_ps(r, _mm256_loadu_si256(
                               (const __m256i *)(g->perm + vi * DL_VF_LEN)));
            if (dest + DL_VF_LEN <= dlim) {
                vf_storeu(yr, c);
            } else {
                float lanes[DL_VF_LEN];
                vf_storeu(lanes, c);
                const int n = __builtin_popcount(keep);
                for (int l = 0; l < n; l++) yr[l] = lanes[l];
            }
#else
            float lanes[DL_VF_LEN];
            vf_storeu(lanes, r);
            int j = 0;
            for (int l = 0; l < DL_VF_LEN; l++)
                if (keep >> l & 1u) yr[j++] = lanes[l];
#endif
        }
    }
}

/* each tile shape its own function: inlined into one switch, the compiler merged the shapes
 * into one loop with the rows' accumulators spilled to memory */
typedef void (*tile_fn)(int64_t T, const float *a, const int32_t *off, const float *xq,
                        const float *bias, int relu, const lanes_geom *g, int64_t q0, float *y,
                        int64_t P, int64_t dlim);
#define TILE_FN(R_, V_)                                                                        \
    static __attribute__((noinline)) void tile_##R_##_##V_(                                  \
        int64_t T, const float *a, const int32_t *off, const float *xq, const float *bias,    \
        int relu, const lanes_geom *g, int64_t q0, float *y, int64_t P, int64_t dlim)         \
    {                                                                                         \
        tile(R_, V_, T, a, off, xq, bias, relu, g, q0, y, P, dlim);                           \
    }
#ifdef LANES16
TILE_FN(8, 3) TILE_FN(7, 3) TILE_FN(6, 4) TILE_FN(5, 4) TILE_FN(4, 4) TILE_FN(3, 4)
TILE_FN(2, 4) TILE_FN(1, 4)
/* by rows: the shape and its vectors */
static const tile_fn tiles[MR + 1] = {NULL, tile_1_4, tile_2_4, tile_3_4, tile_4_4, tile_5_4,
                                      tile_6_4, tile_7_3, tile_8_3};
static const int tile_nv[MR + 1] = {0, 4, 4, 4, 4, 4, 4, 3, 3};
#elif defined(LANES8)
TILE_FN(4, 3) TILE_FN(3, 3) TILE_FN(2, 4) TILE_FN(1, 4)
static const tile_fn tiles[MR + 1] = {NULL, tile_1_4, tile_2_4, tile_3_3, tile_4_3};
static const int tile_nv[MR + 1] = {0, 4, 4, 3, 3};
#else
TILE_FN(8, 4) TILE_FN(7, 4) TILE_FN(6, 4) TILE_FN(5, 4) TILE_FN(4, 4) TILE_FN(3, 4)
TILE_FN(2, 4) TILE_FN(1, 4)
static const tile_fn tiles[MR + 1] = {NULL, tile_1_4, tile_2_4, tile_3_4, tile_4_4, tile_5_4,
                                      tile_6_4, tile_7_4, tile_8_4};
static const int tile_nv[MR + 1] = {0, 4, 4, 4, 4, 4, 4, 4, 4};
#endif

static int64_t kept_before(const lanes_geom *g, int64_t q);

/* rows k0 .. k0+mr-1 (mr <= MR) over the wide positions qa .. qb-1 (qa a multiple of the
 * tile width; the last tile may run past qb, whose lanes past Q are dropped) */
static void row_chunk(int mr, int64_t T, const float *a, const int32_t *off, const float *xp,
                      const float *bias, int relu, const lanes_geom *g, int64_t qa, int64_t qb,
                      float *y, int64_t P)
{
    const tile_fn fn = tiles[mr];
    const int64_t step = (int64_t)tile_nv[mr] * DL_VF_LEN, dlim = kept_before(g, qb);
    for (int64_t q0 = qa; q0 < qb; q0 += step)
        fn(T, a, off, xp + q0, bias, relu, g, q0, y, P, dlim);
}

#ifdef LANES16
/* The channel-lanes form (AVX-512, K a multiple of 16, OW <= CW): a vector holds 16 output
 * channels of one position, and a tile is one or two output rows of w positions, each
 * position's input broadcast from the padded planes at its own address (a constant step from
 * the row's).  No lane is wasted on dropped columns (LeNet's second layer computes 100
 * positions instead of the row form's 144 wide ones), for a transposed store. */
enum { CW = 14 };

static inline __attribute__((always_inline)) void ctile(
    const int w, const int rows, int64_t T, const float *a, const int32_t *off,
    const float *xr, int64_t Wp, const float *bias, int relu, float *y, int64_t OW, int64_t P)
{
    __m512 acc[2][CW];
    const __m512 b0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < w; j++) acc[r][j] = b0;
    for (int64_t t = 0; t < T; t++) {
        const __m512 wv = _mm512_loadu_ps(a + t * 16);
        const float *b = xr + off[t];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < w; j++)
                acc[r][j] = _mm512_fmadd_ps(_mm512_set1_ps(b[r * Wp + j]), wv, acc[r][j]);
    }
    float tmp[2 * CW][16] __attribute__((aligned(64)));
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < w; j++)
            _mm512_store_ps(tmp[r * w + j], relu ? _mm512_max_ps(_mm512_setzero_ps(),
                                                                   acc[r][j]) : acc[r][j]);
    for (int m = 0; m < 16; m++)
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < w; j++) y[m * P + r * OW + j] = tmp[r * w + j][m];
}

typedef void (*ctile_fn)(int64_t T, const float *a, const int32_t *off, const float *xr,
                         int64_t Wp, const float *bias, int relu, float *y, int64_t OW,
                         int64_t P);
#define CTILE_FN(W_, R_)                                                                      \
    static __attribute__((noinline)) void ctile_##W_##_##R_(                                 \
        int64_t T, const float *a, const int32_t *off, const float *xr, int64_t Wp,           \
        const float *bias, int relu, float *y, int64_t OW, int64_t P)                         \
    {                                                                                         \
        ctile(W_, R_, T, a, off, xr, Wp, bias, relu, y, OW, P);                               \
    }
#define CTILE_W(W_) CTILE_FN(W_, 1) CTILE_FN(W_, 2)
CTILE_W(1) CTILE_W(2) CTILE_W(3) CTILE_W(4) CTILE_W(5) CTILE_W(6) CTILE_W(7)
CTILE_W(8) CTILE_W(9) CTILE_W(10) CTILE_W(11) CTILE_W(12) CTILE_W(13) CTILE_W(14)
/* by width and rows (1 or 2) */
static const ctile_fn ctiles[CW + 1][2] = {
    {NULL, NULL}, {ctile_1_1, ctile_1_2}, {ctile_2_1, ctile_2_2}, {ctile_3_1, ctile_3_2},
    {ctile_4_1, ctile_4_2}, {ctile_5_1, ctile_5_2}, {ctile_6_1, ctile_6_2},
    {ctile_7_1, ctile_7_2}, {ctile_8_1, ctile_8_2}, {ctile_9_1, ctile_9_2},
    {ctile_10_1, ctile_10_2}, {ctile_11_1, ctile_11_2}, {ctile_12_1, ctile_12_2},
    {ctile_13_1, ctile_13_2}, {ctile_14_1, ctile_14_2}};
#endif

#ifdef LANES8
/* The channel-lanes form on AVX2 (K a multiple of 8, OW <= CW8): as ctile above with a
 * vector of 8 output channels, at most CW8 positions (one row, or two rows of at most
 * CW8 / 2) so that the accumulators, the weights and a broadcast fit the 16 registers.  Per
 * tap a weight load and a broadcast per position for as many FMAs, and no lane spent on
 * dropped columns: LeNet's second layer computes its 100 positions instead of 144 wide
 * ones.  The same fused multiply-adds in the same order as the row form (bias, then tap by
 * tap), so the two give the same bits. */
enum { CW8 = 12 };

static inline __attribute__((always_inline)) void ctile8(
    const int w, const int rows, int64_t T, const float *a, const int32_t *off,
    const float *xr, int64_t Wp, const float *bias, int relu, float *y, int64_t OW, int64_t P)
{
    vf acc[CW8];
    const vf b0 = bias ? vf_loadu(bias) : vf_zero();
    for (int j = 0; j < rows * w; j++) acc[j] = b0;
    for (int64_t t = 0; t < T; t++) {
        const vf wv = vf_loadu(a + t * ROWS);
        const float *b = xr + off[t];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < w; j++)
                acc[r * w + j] = vf_fma(vf_set1(b[r * Wp + j]), wv, acc[r * w + j]);
    }
    float tmp[CW8][DL_VF_LEN] __attribute__((aligned(32)));
    for (int j = 0; j < rows * w; j++)
        vf_storeu(tmp[j], relu ? vf_max(vf_zero(), acc[j]) : acc[j]);
    for (int m = 0; m < DL_VF_LEN; m++)
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < w; j++) y[m * P + r * OW + j] = tmp[r * w + j][m];
}

typedef void (*ctile_fn)(int64_t T, const float *a, const int32_t *off, const float *xr,
                         int64_t Wp, const float *bias, int relu, float *y, int64_t OW,
                         int64_t P);
#define CTILE8_FN(W_, R_)                                                                     \
    static __attribute__((noinline)) void ctile8_##W_##_##R_(                                \
        int64_t T, const float *a, const int32_t *off, const float *xr, int64_t Wp,           \
        const float *bias, int relu, float *y, int64_t OW, int64_t P)                         \
    {                                                                                         \
        ctile8(W_, R_, T, a, off, xr, Wp, bias, relu, y, OW, P);                              \
    }
#define CTILE8_W2(W_) CTILE8_FN(W_, 1) CTILE8_FN(W_, 2)
CTILE8_W2(1) CTILE8_W2(2) CTILE8_W2(3) CTILE8_W2(4) CTILE8_W2(5) CTILE8_W2(6)
CTILE8_FN(7, 1) CTILE8_FN(8, 1) CTILE8_FN(9, 1) CTILE8_FN(10, 1) CTILE8_FN(11, 1)
CTILE8_FN(12, 1)
/* Two vectors of channels (a whole block of 16) by at most CW16 positions of one row: per tap
 * two weight loads and a broadcast per position for twice as many FMAs, where ctile8's one
 * weight vector leaves the loads (a broadcast per FMA) the bound.  The same FMAs in the same
 * order as the other forms. */
enum { CW16 = 6 };
/* a block is two vectors of channels */
typedef char dl_rows_two_vectors[ROWS == 2 * DL_VF_LEN ? 1 : -1];

static inline __attribute__((always_inline)) void ctile16(
    const int w, int64_t T, const float *a, const int32_t *off, const float *xr,
    const float *bias, int relu, float *y, int64_t P)
{
    vf acc[2][CW16];
    const vf b0 = bias ? vf_loadu(bias) : vf_zero();
    const vf b1 = bias ? vf_loadu(bias + DL_VF_LEN) : vf_zero();
    for (int j = 0; j < w; j++) acc[0][j] = b0, acc[1][j] = b1;
    for (int64_t t = 0; t < T; t++) {
        const vf w0 = vf_loadu(a + t * ROWS), w1 = vf_loadu(a + t * ROWS + DL_VF_LEN);
        const float *b = xr + off[t];
        for (int j = 0; j < w; j++) {
            const vf bj = vf_set1(b[j]);
            acc[0][j] = vf_fma(bj, w0, acc[0][j]);
            acc[1][j] = vf_fma(bj, w1, acc[1][j]);
        }
    }
    float tmp[2][CW16][DL_VF_LEN] __attribute__((aligned(32)));
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < w; j++)
            vf_storeu(tmp[h][j], relu ? vf_max(vf_zero(), acc[h][j]) : acc[h][j]);
    for (int h = 0; h < 2; h++)
        for (int m = 0; m < DL_VF_LEN; m++)
            for (int j = 0; j < w; j++) y[(h * DL_VF_LEN + m) * P + j] = tmp[h][j][m];
}

typedef void (*ctile16_fn)(int64_t T, const float *a, const int32_t *off, const float *xr,
                           const float *bias, int relu, float *y, int64_t P);
#define CTILE16_FN(W_)                                                                        \
    static __attribute__((noinline)) void ctile16_##W_(int64_t T, const float *a,            \
                                                        const int32_t *off, const float *xr,  \
                                                        const float *bias, int relu,          \
                                                        float *y, int64_t P)                  \
    {                                                                                         \
        ctile16(W_, T, a, off, xr, bias, relu, y, P);                                         \
    }
CTILE16_FN(1) CTILE16_FN(2) CTILE16_FN(3) CTILE16_FN(4) CTILE16_FN(5) CTILE16_FN(6)
static const ctile16_fn ctiles16[CW16 + 1] = {NULL, ctile16_1, ctile16_2, ctile16_3,
                                              ctile16_4, ctile16_5, ctile16_6};

/* by width and rows (two rows up to width CW8 / 2) */
static const ctile_fn ctiles8[CW8 + 1][2] = {
    {NULL, NULL}, {ctile8_1_1, ctile8_1_2}, {ctile8_2_1, ctile8_2_2}, {ctile8_3_1, ctile8_3_2},
    {ctile8_4_1, ctile8_4_2}, {ctile8_5_1, ctile8_5_2}, {ctile8_6_1, ctile8_6_2},
    {ctile8_7_1, NULL}, {ctile8_8_1, NULL}, {ctile8_9_1, NULL}, {ctile8_10_1, NULL},
    {ctile8_11_1, NULL}, {ctile8_12_1, NULL}};
#endif

/* the output positions before wide position q */
static int64_t kept_before(const lanes_geom *g, int64_t q)
{
    const int64_t row = q / g->Wp, col = q - row * g->Wp;
    return row * g->OW + (col < g->OW ? col : g->OW);
}

/* Wide positions per work item: whole tiles of every shape (3 and 4 vectors) */
enum { ITEM_Q = 12 * DL_VF_LEN };

/* i: N C H W K R S OH OW sh sw ph pw dh dw groups (sh = sw = 1, groups 1), act kind (DL_AF_*,
 * -1: none; Relu is fused, any other runs over each item's output) | f: act a, b, c.
 * wp: the packed weights.  The work items (image, block of output channels, ITEM_Q wide
 * positions) are shared out in order, so a thread's items are mostly of one image and it
 * copies the image's padded planes once.  0, or -1 past the stack buffers' limits. */
static int conv_direct(const int64_t *i, const double *f, const float *wp, const float *bias,
                       const float *x, float *y)
{
    if (i[9] == 2)
        return i[5] == 3 && i[6] == 3 && i[11] <= 1 && i[12] <= 1
                   ? DL_ISA_FN(dl_plan_direct_s2)(i, f, wp, bias, x, y)
                   : DL_ISA_FN(dl_plan_direct_s2w)(i, f, wp, bias, x, y);
    const int64_t N = i[0], C = i[1], H = i[2], W = i[3], K = i[4], R = i[5], S = i[6];
    const int64_t OH = i[7], OW = i[8], ph = i[11], pw = i[12], dh = i[13], dw = i[14];
    const int act = (int)i[16];
    const int64_t Hp = OH + (R - 1) * dh, Wp = OW + (S - 1) * dw, plane = Hp * Wp;
    const int64_t T = C * R * S, P = OH * OW, KB = (K + ROWS - 1) / ROWS;
    /* the last tile's vectors read past the planes by less than NV_MAX vectors */
    const int64_t span = C * plane + NV_MAX * DL_VF_LEN;
    if (span > DL_PLAN_DIRECT_MAX_FLOATS || T > DL_PLAN_DIRECT_MAX_TAPS) return -1;
    const int64_t Q = (OH - 1) * Wp + OW, nvec = (Q + DL_VF_LEN - 1) / DL_VF_LEN + NV_MAX;
    uint32_t keep[nvec];
    int32_t dest[nvec];
#ifdef LANES8
    int32_t perm[nvec * DL_VF_LEN];
    const lanes_geom g = {Wp, OW, Q, keep, dest, perm};
    kept_lanes(&g, nvec, keep, dest, perm);
#else
    const lanes_geom g = {Wp, OW, Q, keep, dest};
    kept_lanes(&g, nvec, keep, dest, NULL);
#endif
    const int relu = act == DL_AF_RELU;
#ifdef LANES16
    const int lanes = K % 16 == 0 && OW <= CW;
    const int64_t lrows = 2;
#elif defined(LANES8)
    const int lanes = K % 8 == 0 && OW <= CW8;
    const int64_t lrows = OW <= CW8 / 2 ? 2 : 1;
#else
    const int lanes = 0;
    const int64_t lrows = 1;
#endif
    /* per image and block of channels: runs of wide positions, or groups of lrows output
     * rows */
    const int64_t QI = lanes ? (OH + lrows - 1) / lrows : (g.Q + ITEM_Q - 1) / ITEM_Q;
    const int64_t items = N * KB * QI;
    int nt = dl_threads_for((size_t)(N * K * P * T), (size_t)1 << 18);
    if (nt > items) nt = (int)items;
#ifdef DL_HAVE_OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        float xp[DL_PLAN_DIRECT_MAX_FLOATS] __attribute__((aligned(64)));
        int32_t off[DL_PLAN_DIRECT_MAX_TAPS];
        for (int64_t c = 0, t = 0; c < C; c++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++)
                    off[t++] = (int32_t)(c * plane + r * dh * Wp + s * dw);
        /* zero once: the padding and the tail stay zero, only the inside is rewritten */
        memset(xp, 0, sizeof(float) * (size_t)span);
        /* the rows and columns of x that land inside the padded planes */
        const int64_t r0 = ph > 0 ? 0 : -ph, r1 = H < Hp - ph ? H : Hp - ph;
        const int64_t c0 = pw > 0 ? 0 : -pw, c1 = W < Wp - pw ? W : Wp - pw;
        const int team = dl_team_size(), tid = dl_thread_id();
        const int64_t it0 = items * tid / team, it1 = items * (tid + 1) / team;
        int64_t have = -1;   /* the image in xp */
        for (int64_t it = it0; it < it1; it++) {
            const int64_t n = it / (KB * QI), kb = it / QI % KB, qi = it % QI;
            if (n != have) {
                const float *xn = x + n * C * H * W;
                for (int64_t c = 0; c < C; c++)
                    for (int64_t r = r0; r < r1; r++)
                        if (c1 > c0)
                            memcpy(xp + c * plane + (r + ph) * Wp + (c0 + pw),
                                   xn + (c * H + r) * W + c0, sizeof(float) * (size_t)(c1 - c0));
                have = n;
            }
            float *yb = y + (n * K + kb * ROWS) * P;
            const float *a = wp + kb * T * ROWS;
            const int64_t rows = K - kb * ROWS < ROWS ? K - kb * ROWS : ROWS;
#ifdef LANES16
            if (lanes) {
                const int64_t oh = 2 * qi, nr = OH - oh < 2 ? OH - oh : 2;
                ctiles[OW][nr - 1](T, a, off, xp + oh * Wp, Wp, bias ? bias + kb * ROWS : NULL,
                                   relu, yb + oh * OW, OW, P);
                if (act >= 0 && !relu)
                    for (int64_t m = 0; m < rows; m++)
                        dl_act_fwd_f32(act, yb + m * P + oh * OW, yb + m * P + oh * OW,
                                       (size_t)(nr * OW), (float)f[0], (float)f[1],
                                       (float)f[2]);
                continue;
            }
#elif defined(LANES8)
            if (lanes) {
                const int64_t oh = lrows * qi, nr = OH - oh < lrows ? OH - oh : lrows;
                if (rows == ROWS) {
                    /* a whole block: each row in even pieces of at most CW16 positions */
                    const int64_t pieces = (OW + CW16 - 1) / CW16;
                    for (int64_t r = oh; r < oh + nr; r++)
                        for (int64_t k = 0, j0 = 0; k < pieces; k++) {
                            const int64_t j1 = OW * (k + 1) / pieces;
                            ctiles16[j1 - j0](T, a, off, xp + r * Wp + j0,
                                              bias ? bias + kb * ROWS : NULL, relu,
                                              yb + r * OW + j0, P);
                            j0 = j1;
                        }
                } else {
                    for (int64_t h = 0; h < rows; h += DL_VF_LEN)
                        ctiles8[OW][nr - 1](T, a + h, off, xp + oh * Wp, Wp,
                                            bias ? bias + kb * ROWS + h : NULL, relu,
                                            yb + h * P + oh * OW, OW, P);
                }
                if (act >= 0 && !relu)
                    for (int64_t m = 0; m < rows; m++)
                        dl_act_fwd_f32(act, yb + m * P + oh * OW, yb + m * P + oh * OW,
                                       (size_t)(nr * OW), (float)f[0], (float)f[1],
                                       (float)f[2]);
                continue;
            }
#endif
            const int64_t qa = qi * ITEM_Q, qb = qa + ITEM_Q < g.Q ? qa + ITEM_Q : g.Q;
            for (int64_t m0 = 0; m0 < rows; m0 += MR) {
                const int mr = (int)(rows - m0 < MR ? rows - m0 : MR);
                row_chunk(mr, T, a + m0, off, xp, bias ? bias + kb * ROWS + m0 : NULL, relu,
                          &g, qa, qb, yb + m0 * P, P);
            }
            if (act >= 0 && !relu) {
                const int64_t d0 = kept_before(&g, qa), d1 = kept_before(&g, qb);
                for (int64_t m = 0; m < rows; m++)
                    dl_act_fwd_f32(act, yb + m * P + d0, yb + m * P + d0, (size_t)(d1 - d0),
                                   (float)f[0], (float)f[1], (float)f[2]);
            }
        }
    }
    return 0;
}

const plan_direct_kernels_t DL_ISA_FN(plan_direct_kernels) = {conv_direct};
