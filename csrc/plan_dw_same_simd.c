/* Depthwise convolution with "same" padding (odd R x S filters, padding (R - 1) / 2 and
 * (S - 1) / 2, stride 1 or 2 both ways, one filter per channel) computed on the flat output
 * grid: output (oh, ow) is flat index j = oh * OW + ow, and each tap reads its source at
 * j + a fixed offset, with a lane mask dropping the lanes whose tap column falls outside
 * the row (the flat grid's row ends) or whose source index falls outside the plane.
 *
 * Stride 1 (OH = H, OW = W) reads the input plane in place: no padded copy, no copy out;
 * outputs are written whole vectors at a time straight into y.  MobileNetV2's 7x7 and 14x14
 * planes spent most of their time padding rows of 7 or 14 into a scratch plane and copying
 * results back out of one.
 *
 * Stride 2 splits the input into its four (row parity, column parity) phases, each an
 * OH x OW grid, a band of output rows at a time (with `halo` rows each side, zero outside
 * the image) so the band stays in L1; tap (r, s) then reads phase ((r - ph) mod 2,
 * (s - pw) mod 2) at a flat offset as above, every load contiguous.
 *
 * The column masks depend only on a lane's place in the band, so they are worked out once
 * per step; masked-off lanes are never read (vf_load_masked touches no memory for them). */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "dlcore/act.h"
#include "dlcore/plan.h"
#include "dlcore/runtime.h"
#include "simd.h"
#include "simd_lanes.h"
#include "plan_dw_same.h"
#include "plan_dw_cblock.h"
#include "plan_planes.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

#define L DL_VF_LEN

/* A lane mask for masked loads, from the low L bits of an integer (bit l: lane l). */
#if defined(__AVX512F__)
typedef __mmask16 lmask;
enum { MASK_VREGS = 0 };    /* masks live in k registers */
static inline lmask lmask_bits(uint32_t b) { return (__mmask16)b; }
static inline vf vf_load_masked(const float *p, lmask m) { return _mm512_maskz_loadu_ps(m, p); }
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256i lmask;
/* masks take vector registers, of which AVX2 has 16: a strip's three masks are kept out of
 * the row kernels' inner strips (see plane_s1_rows) */
enum { MASK_VREGS = 1 };
static inline lmask lmask_bits(uint32_t b)
{
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)b), bit), bit);
}
static inline vf vf_load_masked(const float *p, lmask m) { return _mm256_maskload_ps(p, m); }
#else
typedef uint32_t lmask;
enum { MASK_VREGS = 0 };
static inline lmask lmask_bits(uint32_t b) { return b & 1u; }
static inline vf vf_load_masked(const float *p, lmask m) { return m ? *p : 0.0f; }
#endif

enum { MAX_TAPS = 49, BAND_FLOATS = 1024, AHEAD = 6 };

/* the narrowest rows the rolled 3x3 stride-1 kernel takes */
#ifndef S1_MIN_W
#define S1_MIN_W 14
#endif
/* planes side by side when a row is one vector (1 to 4) */
#ifndef SIDE
#define SIDE 2
#endif

typedef struct {
    int64_t H, W, OH, OW, st, taps, halo;
    int64_t OHB;            /* output rows per band */
    int64_t nvb;            /* vectors per band: OHB * OW rounded up */
    int64_t PS, lead;       /* stride 2: floats per phase band, band row 0's offset in it */
    int64_t toff[MAX_TAPS]; /* tap q's source offset from the output's flat index */
    int s2_rows;            /* stride 2, 3x3, rows of 14 or more: dw3_s2_rows */
    int s1_rows;            /* stride 1, 3x3, rows of S1_MIN_W or more: dw3_s1_strips */
    const lmask *masks;     /* nvb x taps lane masks: the tap's column in the row and, at
                             * stride 1, its source in the plane */
} same_geom;

int DL_ISA_FN(dl_plan_dw_same_applies)(const int64_t *i)
{
    /* N C H W K R S OH OW sh sw ph pw dh dw groups */
    const int64_t R = i[5], S = i[6], st = i[9];
    return i[1] > 0 && i[4] == i[1] && i[15] == i[1] && (R & 1) && (S & 1) && R * S <= MAX_TAPS
           && i[11] == (R - 1) / 2 && i[12] == (S - 1) / 2 && (st == 1 || st == 2)
           && i[10] == st && i[13] == 1 && i[14] == 1
           && i[7] == (i[2] + st - 1) / st && i[8] == (i[3] + st - 1) / st && i[7] > 0
           && i[8] > 0 && (st == 2 || i[7] * i[8] <= BAND_FLOATS || (R == 3 && S == 3));
}

/* the lane mask of lanes l with lo <= l < hi */
static inline lmask lanes_in(int64_t lo, int64_t hi)
{
    lo = lo < 0 ? 0 : lo;
    hi = hi > L ? L : hi;
    return lmask_bits(hi <= lo ? 0u : (uint32_t)(((1ull << hi) - 1ull) & ~((1ull << lo) - 1ull)));
}

/* acc[k] for NV vectors at flat output index j: bias + sum over taps, masks mv[k * taps + q] */
static inline __attribute__((always_inline)) void sum_vecs(const same_geom *g, const float *src,
                                                          int64_t j, const lmask *mv,
                                                          const float *w, vf vb, vf *acc,
                                                          const int NV)
{
    for (int k = 0; k < NV; k++) acc[k] = vb;
    for (int64_t q = 0; q < g->taps; q++) {
        const vf wt = vf_set1(w[q]);
        const float *s = src + j + g->toff[q];
        for (int k = 0; k < NV; k++)
            acc[k] = vf_fma(wt, vf_load_masked(s + k * L, mv[k * g->taps + q]), acc[k]);
    }
}

/* writes outputs [j, j + NV * L) of y, clipped to n, clipped to [lo, hi] when clip */
static inline __attribute__((always_inline)) void put_vecs(vf *acc, float *y, int64_t j,
                                                          int64_t n, int clip, vf vlo, vf vhi,
                                                          const int NV)
{
    for (int k = 0; k < NV; k++) {
        vf a = acc[k];
        if (clip) a = vf_min(vhi, vf_max(vlo, a));
        const int64_t at = j + k * L;
        if (at + L <= n) vf_storeu(y + at, a);
        else if (at < n) vf_store_part(y + at, a, (size_t)(n - at));
    }
}

typedef struct {
    const float *x, *w, *bias;
    float *y;
    const double *f;
    int64_t C;
    int kind;
} same_args;

/* One band's n outputs from flat index base of the plane; src is the source at the band's
 * flat index 0 (stride 1: the plane; stride 2: the phase band). */
static void band_sum(const same_geom *g, const float *src, int64_t base, int64_t n,
                     const float *w, vf vb, int clip, vf vlo, vf vhi, float *y)
{
    const int64_t taps = g->taps, nv = (n + L - 1) / L;
    int64_t v = 0;
    for (; v + 4 <= nv; v += 4) {
        vf acc[4];
        sum_vecs(g, src, v * L, g->masks + v * taps, w, vb, acc, 4);
        put_vecs(acc, y, base + v * L, base + n, clip, vlo, vhi, 4);
    }
    for (; v < nv; v++) {
        vf acc[1];
        sum_vecs(g, src, v * L, g->masks + v * taps, w, vb, acc, 1);
        put_vecs(acc, y, base + v * L, base + n, clip, vlo, vhi, 1);
    }
}

/* Stride 2: phase (a, b) band row t (grid row oh0 - halo + t) holds x[2 (oh0 - halo + t) + a]
 * [2 k + b] for k < OW, zero outside the image.  Rows are written in order with whole vectors
 * whose spill lands in the next row (written after) or the phase's slack. */
static void split_band(const same_geom *g, const float *x, int64_t oh0, float *buf)
{
    const int64_t rows = g->OHB + 2 * g->halo;
    for (int64_t t = 0; t < rows; t++)
        for (int64_t a = 0; a < 2; a++) {
            /* input rows in memory order, the one AHEAD rows on fetched early: the planes come
             * from L3 or memory (an expand conv's output of several MB) and the loads' wait
             * otherwise took most of the step's time */
            const int64_t h = 2 * (oh0 - g->halo + t) + a;
            float *d0 = buf + (2 * a) * g->PS + g->lead + (t - g->halo) * g->OW;
            float *d1 = buf + (2 * a + 1) * g->PS + g->lead + (t - g->halo) * g->OW;
            if (h < 0 || h >= g->H) {
                for (int64_t k = 0; k < g->OW; k += L) {
                    vf_storeu(d0 + k, vf_zero());
                    vf_storeu(d1 + k, vf_zero());
                }
                continue;
            }
            const float *xr = x + h * g->W;
            /* past the plane's end: the next plane's first rows (a prefetch never faults) */
            for (int64_t c = 0; c < g->W; c += 16) __builtin_prefetch(xr + AHEAD * g->W + c);
            for (int64_t k = 0; k < g->OW; k += L) {
                const int64_t c = 2 * k;
                vf in[2], o[2];
                in[0] = vf_load_range(xr + c, -c, g->W - c);
                in[1] = vf_load_range(xr + c + L, -c - L, g->W - c - L);
                vf_deinterleave2(in, o);
                vf_storeu(d0 + k, o[0]);
                vf_storeu(d1 + k, o[1]);
            }
        }
}

/* a strip's outputs of one row, clipped to [vlo, vhi] when clip */
static inline __attribute__((always_inline)) void dw3_store(float *y, vf a, int64_t n, int clip,
                                                           vf vlo, vf vhi)
{
    if (clip) a = vf_min(vhi, vf_max(vlo, a));
    if (n == L) vf_storeu(y, a);
    else vf_store_part(y, a, (size_t)n);
}

/* Stride 2, 3x3, padding 1, rows of 14 outputs or more: one column strip (a vector of output
 * columns) down the plane, read straight from the input plane.  Each input row gives the
 * strip its three taps' columns 2 ow - 1, 2 ow, 2 ow + 1: the even and odd lanes of two
 * loads, and the even lanes of two more loads two columns on.  The lanes stay in the ISA's
 * crossed order (vf_deinterleave2_x: on AVX2 two in-lane shuffles per row instead of a
 * deinterleave's two lane-crossing permutes and a lane shift), the same for every tap, so each
 * sum is put back in order once, when stored: no phase planes are written and read back.
 * Output row oh takes input rows 2 oh - 1, 2 oh, 2 oh + 1; the last of them starts row
 * oh + 1's sum (bias, then taps row by row, as sum_vecs), so each input row is split once.
 * NC strips run side by side so their FMA chains overlap. */
typedef struct {
    const float *x, *w;     /* the plane; its 9 weights */
    float *y;               /* the strip's first output column */
    vf vb;
    int64_t c0;             /* the input column of lane 0's first tap */
    lmask e[4];             /* lanes of the four loads (columns c0, c0 + L, c0 + 2, c0 + 2 + L)
                             * inside the row */
    int64_t n;              /* outputs to store per row */
} dw3s2_strip;

/* t[0..2]: the three taps' columns of input row h, crossed; INNER: all four loads inside the
 * row (plain loads, no mask registers) */
static inline __attribute__((always_inline)) void s2_split(const dw3s2_strip *c, int64_t h,
                                                          int64_t W, vf *t, const int INNER)
{
    const float *xr = c->x + h * W + c->c0;
    vf in[2], o[2];
    in[0] = INNER ? vf_loadu(xr) : vf_load_masked(xr, c->e[0]);
    in[1] = INNER ? vf_loadu(xr + L) : vf_load_masked(xr + L, c->e[1]);
    vf_deinterleave2_x(in, t);              /* columns c0 + 2 l and c0 + 2 l + 1 */
    in[0] = INNER ? vf_loadu(xr + 2) : vf_load_masked(xr + 2, c->e[2]);
    in[1] = INNER ? vf_loadu(xr + 2 + L) : vf_load_masked(xr + 2 + L, c->e[3]);
    vf_deinterleave2_x(in, o);              /* columns c0 + 2 + 2 l */
    t[2] = o[0];
}

static inline __attribute__((always_inline)) vf s2_taps(const float *w, const vf *t, vf acc)
{
    acc = vf_fma(vf_set1(w[0]), t[0], acc);
    acc = vf_fma(vf_set1(w[1]), t[1], acc);
    return vf_fma(vf_set1(w[2]), t[2], acc);
}

static inline __attribute__((always_inline)) void dw3_s2_strips(const dw3s2_strip *c,
                                                               int64_t H, int64_t W,
                                                               int64_t OH, int64_t OW,
                                                               int clip, vf vlo, vf vhi,
                                                               const int NC, const int INNER)
{
    vf next[4];     /* output row oh's sum so far: bias and input row 2 oh - 1 */
    for (int k = 0; k < NC; k++) next[k] = c[k].vb;
    for (int64_t oh = 0; oh < OH; oh++) {
        const int tail = 2 * oh + 1 >= H;   /* the last row of an odd-height plane */
        for (int k = 0; k < NC; k++) {
            vf t[3];
            s2_split(&c[k], 2 * oh, W, t, INNER);
            vf acc = s2_taps(c[k].w + 3, t, next[k]);
            if (!tail) {
                s2_split(&c[k], 2 * oh + 1, W, t, INNER);
                acc = s2_taps(c[k].w + 6, t, acc);
                next[k] = s2_taps(c[k].w, t, c[k].vb);
            }
            dw3_store(c[k].y + oh * OW, vf_uncross(acc), INNER ? L : c[k].n, clip, vlo, vhi);
        }
    }
}

static inline dw3s2_strip dw3s2_strip_at(const float *x, const float *w, float *y, vf vb,
                                         int64_t W, int64_t OW, int64_t v)
{
    dw3s2_strip c;
    c.x = x; c.w = w; c.y = y + v; c.vb = vb;
    c.c0 = 2 * v - 1;
    for (int q = 0; q < 4; q++) {
        const int64_t at = c.c0 + (q & 1) * L + (q >> 1) * 2;
        c.e[q] = lanes_in(-at, W - at);
    }
    c.n = OW - v < L ? OW - v : L;
    return c;
}

/* Stride 1, 3x3, padding 1: one column strip (a vector of output columns) down the whole
 * plane, the rows rolled through three accumulators.  Input row h is loaded once (its three
 * shifted vectors, the row ends masked) and feeds output rows h - 1 (which it completes: stored),
 * h and h + 1 (which it starts, from the bias).  Each output is bias, then taps row by row, as
 * in sum_vecs.  NC strips run side by side (two column vectors of one plane, or one of two
 * planes when a row is one vector: MobileNetV2's 14x14 and 7x7 maps) so the FMA chains of one
 * overlap the other's; the earlier kernel (4-row blocks, a branch per tap row) spilled its
 * weights and ran at a third of the FMA rate on 14x14 planes. */
typedef struct {
    const float *x, *w;     /* the strip's first column in the plane; the plane's 9 weights */
    float *y;
    vf vb;
    lmask e0, e1, e2;       /* lanes whose column - 1, column, column + 1 is in the row */
    int64_t n;              /* outputs to store per row (the strip's width, at most L) */
} dw3_strip;


static inline __attribute__((always_inline)) void dw3_s1_strips(const dw3_strip *c,
                                                               int64_t H, int64_t W, int clip,
                                                               vf vlo, vf vhi, const int NC,
                                                               const int INNER)
{
    /* INNER: every strip lies inside the row with a column on each side (c[k].n == L, all
     * masks full): plain loads and stores, no mask registers */
    vf done[4], mid[4];     /* partial sums of output rows h - 1 and h */
    for (int k = 0; k < NC; k++) {
        mid[k] = c[k].vb;
        done[k] = vf_zero();   /* set by row 0 before any use */
    }
    for (int64_t h = 0; h < H; h++) {
        for (int k = 0; k < NC; k++) {
            const float *xr = c[k].x + h * W, *w = c[k].w;
            const vf x0 = INNER ? vf_loadu(xr - 1) : vf_load_masked(xr - 1, c[k].e0);
            const vf x1 = INNER ? vf_loadu(xr) : vf_load_masked(xr, c[k].e1);
            const vf x2 = INNER ? vf_loadu(xr + 1) : vf_load_masked(xr + 1, c[k].e2);
            if (h > 0) {
                vf a = vf_fma(vf_set1(w[6]), x0, done[k]);
                a = vf_fma(vf_set1(w[7]), x1, a);
                a = vf_fma(vf_set1(w[8]), x2, a);
                dw3_store(c[k].y + (h - 1) * W, a, INNER ? L : c[k].n, clip, vlo, vhi);
            }
            vf m = vf_fma(vf_set1(w[3]), x0, mid[k]);
            m = vf_fma(vf_set1(w[4]), x1, m);
            done[k] = vf_fma(vf_set1(w[5]), x2, m);
            vf n = vf_fma(vf_set1(w[0]), x0, c[k].vb);
            n = vf_fma(vf_set1(w[1]), x1, n);
            mid[k] = vf_fma(vf_set1(w[2]), x2, n);
        }
    }
    for (int k = 0; k < NC; k++)
        dw3_store(c[k].y + (H - 1) * W, done[k], INNER ? L : c[k].n, clip, vlo, vhi);
}

/* the strip of plane (x, w, y) at columns v .. v + L - 1 */
static inline dw3_strip dw3_strip_at(const float *x, const float *w, float *y, vf vb, int64_t W,
                                     int64_t v)
{
    dw3_strip c;
    c.x = x + v; c.w = w; c.y = y + v; c.vb = vb;
    c.e0 = lanes_in(1 - v, W - v + 1);
    c.e1 = lanes_in(-v, W - v);
    c.e2 = lanes_in(-v - 1, W - v - 1);
    c.n = W - v < L ? W - v : L;
    return c;
}

/* one plane's stride-2 3x3 step, as plane_s2_rows takes it */
typedef struct {
    const same_geom *g;
    const float *x, *w;
    float *y;
    vf vb, vlo, vhi;
    int clip;
} plane3;

/* NC strips side by side at output columns v, v + step, ... (step L, or the edge pair's
 * distance) */
static inline __attribute__((always_inline)) void s2_strips_at(const plane3 *p, int64_t v,
                                                              int64_t step, const int NC,
                                                              const int INNER)
{
    const same_geom *g = p->g;
    dw3s2_strip c[4];
    for (int k = 0; k < NC; k++)
        c[k] = dw3s2_strip_at(p->x, p->w, p->y, p->vb, g->W, g->OW, v + k * step);
    dw3_s2_strips(c, g->H, g->W, g->OH, g->OW, p->clip, p->vlo, p->vhi, NC, INNER);
}

/* the strips at output columns [v, end): four side by side while four fit, then two, then
 * one */
static inline __attribute__((always_inline)) void s2_strips_run(const plane3 *p, int64_t v,
                                                               int64_t end, const int INNER)
{
    for (; v + 3 * L < end; v += 4 * L) s2_strips_at(p, v, L, 4, INNER);
    for (; v + L < end; v += 2 * L) s2_strips_at(p, v, L, 2, INNER);
    if (v < end) s2_strips_at(p, v, L, 1, INNER);
}

/* the two edge strips (first and last vector of the row) together with their masks, then
 * the inner strips without (as plane_s1_rows).  Every strip between the edge ones stores L
 * outputs and loads inside the row: strip v reads input columns 2 v - 1 .. 2 v + 2 L, and
 * 2 last <= W - 1.  Rows of up to two vectors: each strip with its masks. */
static void plane_s2_rows(const plane3 *p)
{
    const int64_t OW = p->g->OW, last = (OW - 1) / L * L;
    if (!MASK_VREGS || OW <= 2 * L) {
        s2_strips_run(p, 0, OW, 0);
        return;
    }
    s2_strips_at(p, 0, last, 2, 0);
    s2_strips_run(p, L, last, 1);
}

static void plane_s1_rows(const same_geom *g, const float *x, const float *w, vf vb, int clip,
                          vf vlo, vf vhi, float *y)
{
    const int64_t H = g->H, W = g->W;
    int64_t v = 0;
    if (MASK_VREGS && W > 2 * L) {
        /* the two edge strips (first and last vector of the row) together with their masks,
         * then the inner strips without: four strips' twelve masks held in vector registers
         * spilled the accumulators (AVX2 has 16) */
        const int64_t last = (W - 1) / L * L;
        const dw3_strip e[2] = {dw3_strip_at(x, w, y, vb, W, 0),
                                dw3_strip_at(x, w, y, vb, W, last)};
        dw3_s1_strips(e, H, W, clip, vlo, vhi, 2, 0);
        for (v = L; v + 3 * L < last; v += 4 * L) {
            const dw3_strip c[4] = {dw3_strip_at(x, w, y, vb, W, v),
                                    dw3_strip_at(x, w, y, vb, W, v + L),
                                    dw3_strip_at(x, w, y, vb, W, v + 2 * L),
                                    dw3_strip_at(x, w, y, vb, W, v + 3 * L)};
            dw3_s1_strips(c, H, W, clip, vlo, vhi, 4, 1);
        }
        for (; v + L < last; v += 2 * L) {
            const dw3_strip c[2] = {dw3_strip_at(x, w, y, vb, W, v),
                                    dw3_strip_at(x, w, y, vb, W, v + L)};
            dw3_s1_strips(c, H, W, clip, vlo, vhi, 2, 1);
        }
        if (v < last) {
            const dw3_strip c[1] = {dw3_strip_at(x, w, y, vb, W, v)};
            dw3_s1_strips(c, H, W, clip, vlo, vhi, 1, 1);
        }
        return;
    }
    for (; v + 3 * L < W; v += 4 * L) {
        const dw3_strip c[4] = {dw3_strip_at(x, w, y, vb, W, v),
                                dw3_strip_at(x, w, y, vb, W, v + L),
                                dw3_strip_at(x, w, y, vb, W, v + 2 * L),
                                dw3_strip_at(x, w, y, vb, W, v + 3 * L)};
        dw3_s1_strips(c, H, W, clip, vlo, vhi, 4, 0);
    }
    for (; v + L < W; v += 2 * L) {
        const dw3_strip c[2] = {dw3_strip_at(x, w, y, vb, W, v),
                                dw3_strip_at(x, w, y, vb, W, v + L)};
        dw3_s1_strips(c, H, W, clip, vlo, vhi, 2, 0);
    }
    if (v < W) {
        const dw3_strip c[1] = {dw3_strip_at(x, w, y, vb, W, v)};
        dw3_s1_strips(c, H, W, clip, vlo, vhi, 1, 0);
    }
}

/* n (1 to 4) planes from p whose rows are one vector each, side by side */
static void planes_s1_side(const same_geom *g, const same_args *a, int64_t p, int n, int clip,
                           vf vlo, vf vhi)
{
    const int64_t HW = g->H * g->W;
    dw3_strip c[4];
    for (int k = 0; k < n; k++) {
        const int64_t ch = (p + k) % a->C;
        c[k] = dw3_strip_at(a->x + (p + k) * HW, a->w + ch * 9, a->y + (p + k) * HW,
                            vf_set1(a->bias ? a->bias[ch] : 0.0f), g->W, 0);
    }
    if (n == 4) dw3_s1_strips(c, g->H, g->W, clip, vlo, vhi, 4, 0);
    else if (n == 2) dw3_s1_strips(c, g->H, g->W, clip, vlo, vhi, 2, 0);
    else if (n == 3) {
        dw3_s1_strips(c, g->H, g->W, clip, vlo, vhi, 2, 0);
        dw3_s1_strips(c + 2, g->H, g->W, clip, vlo, vhi, 1, 0);
    } else {
        dw3_s1_strips(c, g->H, g->W, clip, vlo, vhi, 1, 0);
    }
}

/* the activation applied after the sums (one Clip or Relu is fused: clip) */
static inline int act_clip(const same_args *a, vf *vlo, vf *vhi)
{
    const int kind = a->kind;
    *vlo = vf_set1(kind == DL_AF_RELU ? 0.0f : (float)a->f[0]);
    *vhi = vf_set1(kind == DL_AF_RELU ? __builtin_inff() : (float)a->f[1]);
    return kind == DL_AF_RELU || kind == DL_AF_HARDTANH;
}

static void act_after(const same_geom *g, const same_args *a, int clip, float *y)
{
    if (!clip && a->kind >= 0)
        dl_act_fwd_f32(a->kind, y, y, (size_t)(g->OH * g->OW), (float)a->f[0], (float)a->f[1],
                       (float)a->f[2]);
}

static void plane_same(const same_geom *g, const same_args *a, int64_t p, float *buf)
{
    const int64_t c = p % a->C, taps = g->taps;
    const float *x = a->x + p * g->H * g->W, *w = a->w + c * taps;
    float *y = a->y + p * g->OH * g->OW;
    vf vlo, vhi;
    const int clip = act_clip(a, &vlo, &vhi);
    const vf vb = vf_set1(a->bias ? a->bias[c] : 0.0f);
    if (g->s2_rows || g->s1_rows) {
        const plane3 p3 = {g, x, w, y, vb, vlo, vhi, clip};
        if (g->s2_rows) plane_s2_rows(&p3);
        else plane_s1_rows(g, x, w, vb, clip, vlo, vhi, y);
    } else {
        for (int64_t oh0 = 0; oh0 < g->OH; oh0 += g->OHB) {
            const int64_t rows = g->OH - oh0 < g->OHB ? g->OH - oh0 : g->OHB;
            const int64_t base = oh0 * g->OW, n = rows * g->OW;
            if (g->st == 1) {
                band_sum(g, x + base, base, n, w, vb, clip, vlo, vhi, y);
            } else {
                split_band(g, x, oh0, buf);
                band_sum(g, buf + g->lead, base, n, w, vb, clip, vlo, vhi, y);
            }
        }
    }
    act_after(g, a, clip, y);
}

typedef struct {
    const same_geom *g;
    const same_args *a;
    int64_t first;      /* planes before it were done by the channel-lane kernel */
    int64_t end;        /* one past the last plane */
} same_job;

static void same_job_run(const void *ctx, int64_t p, float *buf)
{
    const same_job *j = ctx;
    plane_same(j->g, j->a, j->first + p, buf);
}

/* stride 1, 3x3, rows of one vector: planes SIDE u .. SIDE u + SIDE - 1 from the first side by
 * side, so their FMA chains overlap (two measured faster than four on 14x14 maps) */
static void side_job_run(const void *ctx, int64_t u, float *buf)
{
    (void)buf;
    const same_job *j = ctx;
    const same_geom *g = j->g;
    const same_args *a = j->a;
    const int64_t p = j->first + SIDE * u, HW = g->H * g->W;
    const int n = (int)(j->end - p < SIDE ? j->end - p : SIDE);
    vf vlo, vhi;
    const int clip = act_clip(a, &vlo, &vhi);
    planes_s1_side(g, a, p, n, clip, vlo, vhi);
    for (int k = 0; k < n; k++) act_after(g, a, clip, a->y + (p + k) * HW);
}

#if defined(__AVX512F__)
/* Stride 1, 3x3, rows of at most 8 (MobileNetV2's 7x7 maps), AVX-512: two planes share each
 * vector, plane a in lanes 0-7 and plane b in lanes 8-15 (each half loaded and stored with its
 * own mask), so a row of 7 fills 14 of 16 lanes instead of 7; their weights are per-lane
 * vectors.  Rows rolled as in dw3_s1_strips, two such strips (four planes) side by side. */
enum { HALF = 8 };

typedef struct {
    const float *xa, *xb;
    float *ya, *yb;
    vf w[9], vb;
} dw3_halves;

static inline __attribute__((always_inline)) vf halves_load(const dw3_halves *c, int64_t at,
                                                           __mmask16 m)
{
    /* lanes 8-15 read from xb + at - 8 + l: plane b's row; masked lanes touch no memory */
    const vf lo = _mm512_maskz_loadu_ps((__mmask16)(m & 0xff), c->xa + at);
    return _mm512_mask_loadu_ps(lo, (__mmask16)(m & 0xff00), c->xb + at - HALF);
}

static inline __attribute__((always_inline)) void halves_store(const dw3_halves *c, int64_t at,
                                                              vf a, __mmask16 m, int clip,
                                                              vf vlo, vf vhi)
{
    if (clip) a = vf_min(vhi, vf_max(vlo, a));
    _mm512_mask_storeu_ps(c->ya + at, (__mmask16)(m & 0xff), a);
    _mm512_mask_storeu_ps(c->yb + at - HALF, (__mmask16)(m & 0xff00), a);
}

static inline __attribute__((always_inline)) void dw3_s1_halves(const dw3_halves *c, int64_t H,
                                                               int64_t W, int clip, vf vlo,
                                                               vf vhi, const int NC)
{
    /* lanes whose column - 1, column, column + 1 is in the row, for the outputs kept (l < W) */
    const uint32_t row = (1u << W) - 1u;
    const __mmask16 m1 = (__mmask16)(row | row << HALF);
    const __mmask16 m0 = (__mmask16)(m1 & ~(1u | 1u << HALF));
    const __mmask16 m2 = (__mmask16)((row >> 1) | (row >> 1) << HALF);
    vf done[2], mid[2];
    for (int k = 0; k < NC; k++) {
        mid[k] = c[k].vb;
        done[k] = vf_zero();
    }
    for (int64_t h = 0; h < H; h++) {
        for (int k = 0; k < NC; k++) {
            const vf x0 = halves_load(&c[k], h * W - 1, m0);
            const vf x1 = halves_load(&c[k], h * W, m1);
            const vf x2 = halves_load(&c[k], h * W + 1, m2);
            if (h > 0) {
                vf a = vf_fma(c[k].w[6], x0, done[k]);
                a = vf_fma(c[k].w[7], x1, a);
                a = vf_fma(c[k].w[8], x2, a);
                halves_store(&c[k], (h - 1) * W, a, m1, clip, vlo, vhi);
            }
            vf m = vf_fma(c[k].w[3], x0, mid[k]);
            m = vf_fma(c[k].w[4], x1, m);
            done[k] = vf_fma(c[k].w[5], x2, m);
            vf n = vf_fma(c[k].w[0], x0, c[k].vb);
            n = vf_fma(c[k].w[1], x1, n);
            mid[k] = vf_fma(c[k].w[2], x2, n);
        }
    }
    for (int k = 0; k < NC; k++) halves_store(&c[k], (H - 1) * W, done[k], m1, clip, vlo, vhi);
}

/* planes p, p + 1 as one strip's halves */
static inline void halves_at(const same_geom *g, const same_args *a, int64_t p, dw3_halves *c)
{
    const int64_t HW = g->H * g->W, ca = p % a->C, cb = (p + 1) % a->C;
    c->xa = a->x + p * HW; c->xb = c->xa + HW;
    c->ya = a->y + p * HW; c->yb = c->ya + HW;
    for (int q = 0; q < 9; q++)
        c->w[q] = _mm512_mask_blend_ps((__mmask16)0xff00, vf_set1(a->w[ca * 9 + q]),
                                       vf_set1(a->w[cb * 9 + q]));
    c->vb = _mm512_mask_blend_ps((__mmask16)0xff00, vf_set1(a->bias ? a->bias[ca] : 0.0f),
                                 vf_set1(a->bias ? a->bias[cb] : 0.0f));
}

/* planes 4u .. 4u + 3 from the first: two strips of two halves; a last odd plane alone */
static void halves_job_run(const void *ctx, int64_t u, float *buf)
{
    const same_job *j = ctx;
    const same_geom *g = j->g;
    const same_args *a = j->a;
    const int64_t p = j->first + 4 * u, HW = g->H * g->W;
    const int n = (int)(j->end - p < 4 ? j->end - p : 4);
    vf vlo, vhi;
    const int clip = act_clip(a, &vlo, &vhi);
    dw3_halves c[2];
    if (n >= 2) halves_at(g, a, p, &c[0]);
    if (n == 4) {
        halves_at(g, a, p + 2, &c[1]);
        dw3_s1_halves(c, g->H, g->W, clip, vlo, vhi, 2);
    } else if (n >= 2) {
        dw3_s1_halves(c, g->H, g->W, clip, vlo, vhi, 1);
    }
    for (int k = 0; k < (n & ~1); k++) act_after(g, a, clip, a->y + (p + k) * HW);
    if (n & 1) plane_same(g, a, p + n - 1, buf);
}
#endif

/* i: the CONV step's ints (dl_plan_dw_same_applies holds) | f: act a, b, c.  -1: no memory. */
int DL_ISA_FN(dl_plan_dw_same)(const int64_t *i, const double *f, const float *x,
                               const float *w, const float *bias, float *y, const float *wt)
{
    /* small maps, whole groups of 16 planes: channels as the lanes (plan_dw_cblock_simd.c) */
#if defined(__AVX512F__)
    /* 3x3 at stride 1 on rows of 8 or less: two planes per vector (dw3_s1_halves) */
    const int halves = i[9] == 1 && i[5] == 3 && i[6] == 3 && i[8] <= HALF;
#else
    const int halves = 0;
#endif
    const int64_t done = halves ? 0 : DL_ISA_FN(dl_plan_dw_cblock)(i, f, x, w, bias, y, wt);
    if (done < 0) return -1;
    if (done == i[0] * i[1]) return 0;
    same_geom g;
    g.H = i[2]; g.W = i[3]; g.OH = i[7]; g.OW = i[8]; g.st = i[9];
    const int64_t R = i[5], S = i[6], ph = i[11], pw = i[12];
    g.taps = R * S;
    g.s2_rows = g.st == 2 && R == 3 && S == 3 && g.OW >= 14;
    g.s1_rows = g.st == 1 && R == 3 && S == 3 && g.OW >= S1_MIN_W;
    g.halo = g.st == 1 ? 0 : (ph + 1) / 2;
    /* stride 1: the plane is one band, its masks cut at the plane's ends too */
    g.OHB = g.st == 1 ? g.OH : BAND_FLOATS / g.OW - 2 * g.halo;
    if (g.OHB < 1) g.OHB = 1;
    if (g.OHB > g.OH) g.OHB = g.OH;
    g.nvb = (g.OHB * g.OW + L - 1) / L;
    g.lead = L + g.halo * g.OW;
    /* room for the last row's spill and the last vector's farthest tap */
    g.PS = g.lead + (g.OHB + g.halo) * g.OW + 2 * L + g.halo;
    for (int64_t r = 0; r < R; r++)
        for (int64_t s = 0; s < S; s++) {
            const int64_t q = r * S + s;
            int64_t off;
            if (g.st == 1) {
                off = (r - ph) * g.W + (s - pw);
            } else {
                const int64_t pa = ((r - ph) % 2 + 2) % 2, pb = ((s - pw) % 2 + 2) % 2;
                const int64_t dr = (r - ph - pa) / 2, dc = (s - pw - pb) / 2;
                off = (2 * pa + pb) * g.PS + dr * g.OW + dc;
            }
            g.toff[q] = off;
        }
    /* the row kernels work out their own masks: none to make (an AVX2 lmask is 32 bytes, and
     * a 112 x 112 plane's 1568 x 9 of them were a fresh 450 KB allocation on every call) */
    const int rolled = g.s2_rows || g.s1_rows;
    const size_t nm = rolled ? 0 : (size_t)(g.nvb * g.taps);
    lmask *masks = dl_alloc(nm * sizeof(lmask) + 64);
    if (!masks) {
        return -1;
    }
    for (int64_t v = 0; v < (rolled ? 0 : g.nvb); v++)
        for (int64_t r = 0; r < R; r++)
            for (int64_t s = 0; s < S; s++) {
                const int64_t dc = g.st == 1 ? s - pw
                                   : (s - pw - (((s - pw) % 2 + 2) % 2)) / 2;
                const int64_t at = v * L + g.toff[r * S + s];   /* stride 1: in the plane */
                uint32_t b = 0;
                for (int64_t l = 0; l < L; l++) {
                    const int64_t col = (v * L + l) % g.OW + dc;
                    if (col >= 0 && col < g.OW
                        && (g.st == 2 || (at + l >= 0 && at + l < g.H * g.W)))
                        b |= 1u << l;
                }
                masks[v * g.taps + r * S + s] = lmask_bits(b);
            }
    g.masks = masks;
    const same_args a = {x, w, bias, y, f, i[1], (int)i[16]};
    const int64_t planes = i[0] * i[1] - done;
    const size_t scratch = g.st == 1 || g.s2_rows ? 0 : (size_t)(4 * g.PS) * sizeof(float);
    const int nt = dl_threads_for((size_t)(planes * g.OH * g.OW * g.taps), (size_t)1 << 16);
    const same_job j = {&g, &a, done, i[0] * i[1]};
    const int side = g.s1_rows && g.W <= L;
    int failed;
#if defined(__AVX512F__)
    if (halves)
        failed = dl_each_plane(nt, (planes + 3) / 4, scratch, halves_job_run, &j) != 0;
    else
#endif
    failed = dl_each_plane(nt, side ? (planes + SIDE - 1) / SIDE : planes, scratch,
                           side ? side_job_run : same_job_run, &j) != 0;
    dl_free(masks);
    return failed ? -1 : 0;
}
