/* Depthwise "same" convolution of small maps (rows under 14 outputs: MobileNetV2's 7x7 layers
 * and its 14 -> 7 stride-2 layer) with L planes side by side as the lanes of a vector (L:
 * simd.h's DL_VF_LEN, 16 on AVX-512, 8 on AVX2).
 *
 * On the flat grid of one plane (plan_dw_same_simd.c) a 7x7 map is 49 outputs in four
 * vectors of 16, each tap a masked load: a quarter of the lanes and most of the loads are
 * spent on edges.  Here a group of L planes is transposed (vf_transpose_sq) into
 * position-major vectors, one lane per plane, copied into a zero-bordered grid, and every
 * output position is then R * S full-width FMAs with per-lane weights (the planes' channels)
 * and plain loads; the result is transposed back into the L output planes.  The sums are
 * formed in the same order as the flat kernel's (bias, then the taps row by row).
 *
 * Only where the ISA has an L x L register transpose (DL_VF_TRANSPOSE_SQ: AVX-512, AVX2); the
 * portable copy takes no planes.  Planes past the last whole group of L are left to the flat
 * kernel. */
#include <stdint.h>
#include <stddef.h>

#include "dlcore/act.h"
#include "dlcore/plan.h"
#include "dlcore/runtime.h"
#include "simd.h"
#include "plan_dw_cblock.h"
#include "plan_planes.h"

#ifdef DL_VF_TRANSPOSE_SQ

enum { LANES = DL_VF_LEN, MAX_SIDE = DL_CBLOCK_MAX_SIDE, MAX_OW = DL_CBLOCK_MAX_OW };
_Static_assert((int)LANES <= (int)DL_CBLOCK_PAD, "a group's lanes overrun the table's rows");

typedef struct {
    const double *f;
    const float *x;
    const float *wt;    /* the lane-weight table (plan_dw_cblock.h): (taps + 1) rows of CW */
    int64_t CW;
    float *y;
    int64_t C, H, W, OH, OW, R, S, st, ph, pw, Hp, Wp;
    int kind, clip;
    float lo, hi;
} cb_args;

/* dst[j * L + l] = src[l * lds + j], j < n: L planes' values at n positions */
static void to_lanes(const float *src, int64_t lds, int64_t n, float *dst)
{
    int64_t j = 0;
    for (; j + LANES <= n; j += LANES) vf_transpose_sq(src + j, lds, dst + j * LANES, LANES);
    for (; j < n; j++)
        for (int l = 0; l < LANES; l++) dst[j * LANES + l] = src[l * lds + j];
}

/* dst[l * ldd + j] = src[j * L + l], j < n: back into L planes */
static void from_lanes(const float *src, int64_t n, float *dst, int64_t ldd)
{
    int64_t j = 0;
    for (; j + LANES <= n; j += LANES) vf_transpose_sq(src + j * LANES, LANES, dst + j, ldd);
    for (; j < n; j++)
        for (int l = 0; l < LANES; l++) dst[l * ldd + j] = src[j * LANES + l];
}

/* NB consecutive outputs of row oh from column ow0, into O (position-major) */
static inline __attribute__((always_inline)) void outputs(const cb_args *a, const float *P,
                                                         const float *wl, vf vb, vf vlo,
                                                         vf vhi, int64_t oh, int64_t ow0,
                                                         float *O, const int NB)
{
    vf acc[4];
    for (int k = 0; k < NB; k++) acc[k] = vb;
    for (int64_t r = 0; r < a->R; r++) {
        const float *row = P + ((oh * a->st + r) * a->Wp + ow0 * a->st) * LANES;
        for (int64_t s = 0; s < a->S; s++) {
            const vf wt = vf_loadu(wl + (r * a->S + s) * a->CW);
            for (int k = 0; k < NB; k++)
                acc[k] = vf_fma(wt, vf_loadu(row + (k * a->st + s) * LANES), acc[k]);
        }
    }
    for (int k = 0; k < NB; k++) {
        vf v = acc[k];
        if (a->clip) v = vf_min(vhi, vf_max(vlo, v));
        vf_storeu(O + (oh * a->OW + ow0 + k) * LANES, v);
    }
}

/* planes L g .. L g + L - 1; buf: the group's scratch (see dl_plan_dw_cblock) */
static void group(const void *ctx, int64_t g, float *buf)
{
    const cb_args *a = ctx;
    const int64_t p0 = g * LANES, HW = a->H * a->W, OHW = a->OH * a->OW, taps = a->R * a->S;
    const int64_t Hp = a->Hp, Wp = a->Wp, W = a->W;
    float *T = buf, *P = T + HW * LANES, *O = P + Hp * Wp * LANES;
    /* the lanes' weights: tap q's vector at wl + q * CW (the bias after the last tap) */
    const float *wl = a->wt + p0 % a->C;
    to_lanes(a->x + p0 * HW, HW, HW, T);
    /* the zero-bordered grid, one vector (position) at a time: the rows are a few vectors
     * long, too short for memset/memcpy calls to pay */
    const vf z = vf_zero();
    for (int64_t v = 0; v < a->ph * Wp; v++) vf_storeu(P + v * LANES, z);
    for (int64_t v = (a->ph + a->H) * Wp; v < Hp * Wp; v++) vf_storeu(P + v * LANES, z);
    for (int64_t h = 0; h < a->H; h++) {
        float *pr = P + (h + a->ph) * Wp * LANES;
        const float *tr = T + h * W * LANES;
        for (int64_t v = 0; v < a->pw; v++) vf_storeu(pr + v * LANES, z);
        for (int64_t v = 0; v < W; v++)
            vf_storeu(pr + (a->pw + v) * LANES, vf_loadu(tr + v * LANES));
        for (int64_t v = a->pw + W; v < Wp; v++) vf_storeu(pr + v * LANES, z);
    }
    const vf vb = vf_loadu(wl + taps * a->CW), vlo = vf_set1(a->lo), vhi = vf_set1(a->hi);
    for (int64_t oh = 0; oh < a->OH; oh++) {
        int64_t ow = 0;
        for (; ow + 4 <= a->OW; ow += 4) outputs(a, P, wl, vb, vlo, vhi, oh, ow, O, 4);
        for (; ow + 2 <= a->OW; ow += 2) outputs(a, P, wl, vb, vlo, vhi, oh, ow, O, 2);
        for (; ow < a->OW; ow++) outputs(a, P, wl, vb, vlo, vhi, oh, ow, O, 1);
    }
    float *y = a->y + p0 * OHW;
    from_lanes(O, OHW, y, OHW);
    if (!a->clip && a->kind >= 0)
        for (int l = 0; l < LANES; l++)
            dl_act_fwd_f32(a->kind, y + l * OHW, y + l * OHW, (size_t)OHW, (float)a->f[0],
                           (float)a->f[1], (float)a->f[2]);
}

int64_t DL_ISA_FN(dl_plan_dw_cblock)(const int64_t *i, const double *f, const float *x,
                                     const float *w, const float *bias, float *y,
                                     const float *wt)
{
    /* N C H W K R S OH OW sh sw ph pw dh dw groups act */
    const int64_t planes = i[0] * i[1];
    if (i[8] > MAX_OW || i[2] > MAX_SIDE || i[3] > MAX_SIDE || planes < LANES) return 0;
    cb_args a;
    a.f = f; a.x = x; a.y = y;
    a.C = i[1]; a.H = i[2]; a.W = i[3]; a.OH = i[7]; a.OW = i[8]; a.R = i[5]; a.S = i[6];
    a.st = i[9]; a.ph = i[11]; a.pw = i[12];
    a.Hp = a.H + 2 * a.ph; a.Wp = a.W + 2 * a.pw;
    a.kind = (int)i[16];
    a.clip = a.kind == DL_AF_RELU || a.kind == DL_AF_HARDTANH;
    a.lo = a.kind == DL_AF_RELU ? 0.0f : (float)f[0];
    a.hi = a.kind == DL_AF_RELU ? __builtin_inff() : (float)f[1];
    const int64_t groups = planes / LANES, taps = a.R * a.S, C = a.C;
    a.CW = C + DL_CBLOCK_PAD;
    /* the plan's table, else one for this call (eager, or a plan short of memory) */
    float *own = NULL;
    if (!wt) {
        own = dl_alloc(dl_plan_dw_cblock_table_bytes(C, taps));
        if (!own) return -1;
        dl_plan_dw_cblock_table_fill(C, taps, w, bias, own);
    }
    a.wt = wt ? wt : own;
    const size_t floats = (size_t)((a.H * a.W + a.Hp * a.Wp + a.OH * a.OW) * LANES);
    const int nt = dl_threads_for((size_t)(planes * a.OH * a.OW * taps), (size_t)1 << 16);
    const int rc = dl_each_plane(nt, groups, floats * sizeof(float), group, &a);
    dl_free(own);
    return rc ? -1 : groups * LANES;
}

#else

int64_t DL_ISA_FN(dl_plan_dw_cblock)(const int64_t *i, const double *f, const float *x,
                                     const float *w, const float *bias, float *y,
                                     const float *wt)
{
    (void)i; (void)f; (void)x; (void)w; (void)bias; (void)y; (void)wt;
    return 0;
}

#endif
