/* The executor's window kernels: max pooling, and depthwise convolution (one filter per
 * channel, any stride and padding, dilation 1) with bias and activation fused into what it
 * writes (MobileNet's and EfficientNet's dw conv + BN folded + ReLU6).  Each plane is first
 * copied zero-padded and, for stride 2, split into even and odd columns (and rows, for the
 * convolution), so an output vector is a register-resident sum of contiguous loads
 * (simd.h). */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "dlcore/act.h"
#include "dlcore/plan.h"
#include "dlcore/runtime.h"
#include "simd.h"
#include "simd_lanes.h"
#include "dw_grid_sum.h"
#include "plan_kernels.h"
#include "plan_dw_same.h"
#include "plan_planes.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

static int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

typedef struct {
    int64_t H, W, R, S, OH, OW, sh, sw, ph, pw;
    int64_t PH, PW;      /* padded plane */
    int64_t CW;          /* row length of each stored column phase (PW / sw, rounded up) */
    int64_t OWV;         /* OW rounded up to whole vectors */
} dw_geom;

static void fill(float *p, float v, int64_t n)
{
    for (int64_t j = 0; j < n; j++) p[j] = v;
}

/* dst[k] = src[2k] for k < n; src has `avail` floats readable (2n - 1 <= avail). */
static void every_second(const float *src, int64_t n, int64_t avail, float *dst)
{
    int64_t k = 0;
#if defined(__AVX512F__)
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                         28, 30);
    for (; 2 * (k + 16) <= avail && k + 16 <= n; k += 16)
        _mm512_storeu_ps(dst + k, _mm512_permutex2var_ps(_mm512_loadu_ps(src + 2 * k), ev,
                                                         _mm512_loadu_ps(src + 2 * k + 16)));
#elif defined(__AVX2__)
    for (; 2 * (k + 8) <= avail && k + 8 <= n; k += 8) {
        __m256 a = _mm256_loadu_ps(src + 2 * k), b = _mm256_loadu_ps(src + 2 * k + 8);
        __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        _mm256_storeu_ps(dst + k, _mm256_castpd_ps(_mm256_permute4x64_pd(
            _mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0))));
    }
#endif
    for (; k < n; k++) dst[k] = src[2 * k];
}

/* pad x (H, W) into `pl`: sw column phases of PH rows of CW floats, `pad` elsewhere (padded
 * column pc = c + pw is stored in phase pc % sw at index pc / sw) */
static void pad_plane(const dw_geom *g, const float *x, float *pl, float pad)
{
    const int64_t sw = g->sw, CW = g->CW;
    for (int64_t q = 0; q < sw; q++) {
        float *ph_base = pl + q * g->PH * CW;
        /* the first input column of this phase and where it lands */
        int64_t c0 = ((q - g->pw) % sw + sw) % sw;
        int64_t k0 = (c0 + g->pw) / sw;
        int64_t n = c0 < g->W ? (g->W - 1 - c0) / sw + 1 : 0;
        fill(ph_base, pad, g->ph * CW);
        for (int64_t r = 0; r < g->H; r++) {
            float *dst = ph_base + (r + g->ph) * CW;
            const float *src = x + r * g->W + c0;
            fill(dst, pad, k0);
            if (sw == 1) {
                memcpy(dst + k0, src, sizeof(float) * (size_t)n);
            } else if (sw == 2) {
                every_second(src, n, g->W - c0, dst + k0);
            } else {
                for (int64_t k = 0; k < n; k++) dst[k0 + k] = src[k * sw];
            }
            fill(dst + k0 + n, pad, CW - k0 - n);
        }
        fill(ph_base + (g->H + g->ph) * CW, pad, (g->PH - g->H - g->ph) * CW);
    }
}

static void geometry(dw_geom *g, int64_t H, int64_t W, int64_t R, int64_t S, int64_t OH,
                     int64_t OW, int64_t sh, int64_t sw, int64_t ph, int64_t pw)
{
    g->H = H; g->W = W; g->R = R; g->S = S; g->OH = OH; g->OW = OW;
    g->sh = sh; g->sw = sw; g->ph = ph; g->pw = pw;
    g->OWV = round_up(g->OW, DL_VF_LEN);
    g->PH = (g->OH - 1) * g->sh + g->R;
    if (g->PH < g->H + g->ph) g->PH = g->H + g->ph;
    g->CW = g->OWV + (g->S - 1) / g->sw + 1;
    const int64_t need_cols = (g->W + g->pw + g->sw - 1) / g->sw + 1;
    if (g->CW < need_cols) g->CW = need_cols;
}

/* max over the window of each output, NaN winning as in the pooling kernels */
static void max_plane(const dw_geom *g, const float *pl, float *y, float *acc)
{
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *base = pl + oh * g->sh * g->CW;
        for (int64_t j = 0; j < g->OW; j++) acc[j] = -__builtin_inff();
        for (int64_t r = 0; r < g->R; r++) {
            for (int64_t s = 0; s < g->S; s++) {
                const float *src = base + ((s % g->sw) * g->PH + r) * g->CW + s / g->sw;
                for (int64_t j = 0; j < g->OW; j++) {
                    const float v = src[j];
                    acc[j] = (v > acc[j] || v != v) ? v : acc[j];
                }
            }
        }
        memcpy(y + oh * g->OW, acc, sizeof(float) * (size_t)g->OW);
    }
}

typedef struct {
    int64_t PR;    /* rows per phase: OH + (R - 1) / sh */
    int64_t CW;    /* columns per phase: OW + (S - 1) / sw */
    int64_t J;     /* flat outputs computed: OH * CW rounded up to whole vectors */
    int64_t PS;    /* floats per phase, room for the last vector's farthest tap */
} dw_flat;

/* What one plane's work needs besides its geometry: the op's operands, and for the
 * convolution the flat grid and each tap's offset in it, worked out once per step (a 7x7
 * plane's whole sum is 36 vector FMAs; the 40-odd integer divisions of working them out per
 * plane took longer than that) */
typedef struct {
    const float *x, *w, *bias;
    float *y;
    const double *f;
    int64_t K, mult;   /* output channels; output planes per input plane */
    int kind;
    const dw_flat *t;
    const int64_t *toff;
} plane_args;

typedef void (*plane_fn)(const dw_geom *g, const plane_args *a, int64_t p, float *buf);

static void max_one(const dw_geom *g, const plane_args *a, int64_t p, float *buf)
{
    pad_plane(g, a->x + p * g->H * g->W, buf, -__builtin_inff());
    max_plane(g, buf, a->y + p * g->OH * g->OW, buf + g->sw * g->PH * g->CW);
}

/* Depthwise planes on the "flat" padded grid.  The padded input is stored as sh x sw phase
 * planes (phase (a, b) holds padded rows = a mod sh and columns = b mod sw) of CW = OW +
 * (S - 1) / sw columns, so output (oh, ow) at flat index j = oh * CW + ow reads tap (r, s)
 * at j + (r / sh) * CW + s / sw of phase (r % sh, s % sw): one run of whole vectors covers
 * every output row, the few columns past OW in each row computed and dropped.  Rows of 7
 * (MobileNet's last stage) then fill 7 of every 9 lanes instead of 7 of 16. */
static void flat_geometry(const dw_geom *g, dw_flat *t)
{
    t->PR = g->OH + (g->R - 1) / g->sh;
    t->CW = g->OW + (g->S - 1) / g->sw;
    t->J = round_up(g->OH * t->CW, DL_VF_LEN);
    const int64_t reach = t->J + ((g->R - 1) / g->sh) * t->CW + (g->S - 1) / g->sw;
    const int64_t rows = t->PR * t->CW + DL_VF_LEN;   /* the last row's spill */
    t->PS = round_up(reach > rows ? reach : rows, DL_VF_LEN);
}

/* One phase row of padded columns [0, CW) for input row xr (NULL: a padding row), written
 * in whole vectors: each row's last vector spills into the next row, which is written
 * after it, or into the phase's slack (PS has a vector to spare). */
static void pad_row_s1(const dw_geom *g, const dw_flat *t, const float *xr, float *dst)
{
    for (int64_t k = 0; k < t->CW; k += DL_VF_LEN) {
        const int64_t c = k - g->pw;   /* input column of lane 0 */
        vf_storeu(dst + k, xr ? vf_load_range(xr + c, -c, g->W - c) : vf_zero());
    }
}

/* Both column phases of a stride-2 row: lane l of phase b is padded column 2 (k + l) + b */
static void pad_row_s2(const dw_geom *g, const dw_flat *t, const float *xr, float *d0,
                       float *d1)
{
    for (int64_t k = 0; k < t->CW; k += DL_VF_LEN) {
        vf in[2], o[2];
        if (!xr) {
            o[0] = o[1] = vf_zero();
        } else {
            const int64_t c = 2 * k - g->pw;
            in[0] = vf_load_range(xr + c, -c, g->W - c);
            in[1] = vf_load_range(xr + c + DL_VF_LEN, -c - DL_VF_LEN, g->W - c - DL_VF_LEN);
            vf_deinterleave2(in, o);
        }
        vf_storeu(d0 + k, o[0]);
        vf_storeu(d1 + k, o[1]);
    }
}

static void pad_row_any(const dw_geom *g, const dw_flat *t, const float *xr, int64_t b,
                        float *dst)
{
    for (int64_t k = 0; k < t->CW; k++) {
        const int64_t c = k * g->sw + b - g->pw;
        dst[k] = xr && c >= 0 && c < g->W ? xr[c] : 0.0f;
    }
}

static void pad_flat(const dw_geom *g, const dw_flat *t, const float *x, float *pl)
{
    const int64_t sh = g->sh, sw = g->sw, CW = t->CW;
    for (int64_t a = 0; a < sh; a++) {
        float *ph = pl + a * sw * t->PS;   /* phase (a, 0); phase (a, b) is b * PS on */
        for (int64_t i = 0; i < t->PR; i++) {
            const int64_t h = i * sh + a - g->ph;
            const float *xr = h >= 0 && h < g->H ? x + h * g->W : NULL;
            /* rows a few on fetched early: the planes come from L3 or memory */
            if (xr)
                for (int64_t c = 0; c < g->W; c += 16) __builtin_prefetch(xr + 4 * g->W + c);
            if (sw == 1)
                pad_row_s1(g, t, xr, ph + i * CW);
            else if (sw == 2)
                pad_row_s2(g, t, xr, ph + i * CW, ph + t->PS + i * CW);
            else
                for (int64_t b = 0; b < sw; b++) pad_row_any(g, t, xr, b, ph + b * t->PS + i * CW);
        }
        for (int64_t b = 0; b < sw; b++)
            fill(ph + b * t->PS + t->PR * CW, 0.0f, t->PS - t->PR * CW);
    }
}

/* fo[m][0, J) for MB filters at once (m < nm <= MB, fo[m] = fo + m * ldo): each tap's input
 * vectors are loaded once for all of them.  A one-channel input with 6 filters (LeNet's first
 * layer) otherwise reloads every tap 6 times, and unaligned loads, not FMAs, bound it. */
enum { MB = 4 };

static void dw_flat_sum_multi(const dw_flat *t, const float *pl, const float *w,
                              const int64_t *toff, int64_t taps, const float *bias, int64_t nm,
                              int clip, vf vlo, vf vhi, float *fo, int64_t ldo)
{
    for (int64_t j = 0; j < t->J; j += 2 * DL_VF_LEN) {
        const int two = j + 2 * DL_VF_LEN <= t->J;
        vf acc[MB][2];
        for (int64_t m = 0; m < MB; m++)
            acc[m][0] = acc[m][1] = vf_set1(m < nm && bias ? bias[m] : 0.0f);
        for (int64_t q = 0; q < taps; q++) {
            const float *src = pl + toff[q] + j;
            const vf v0 = vf_loadu(src), v1 = two ? vf_loadu(src + DL_VF_LEN) : v0;
            for (int64_t m = 0; m < MB; m++) {
                /* nm < MB only in the last group: its spare lanes sum with weight 0 */
                const vf wt = vf_set1(m < nm ? w[m * taps + q] : 0.0f);
                acc[m][0] = vf_fma(wt, v0, acc[m][0]);
                acc[m][1] = vf_fma(wt, v1, acc[m][1]);
            }
        }
        for (int64_t m = 0; m < nm; m++) {
            vf a0 = acc[m][0], a1 = acc[m][1];
            if (clip) {
                a0 = vf_min(vhi, vf_max(vlo, a0));
                a1 = vf_min(vhi, vf_max(vlo, a1));
            }
            vf_storeu(fo + m * ldo + j, a0);
            if (two) vf_storeu(fo + m * ldo + j + DL_VF_LEN, a1);
        }
    }
}

/* Stride 1, 3x3: `nr` (<= 4) output rows at once, each of whole vectors from the row start
 * written straight into the output plane y (rows OW floats apart; a row's last, partial
 * vector stored lane by lane, so nothing past the row is touched): a vector of an input row is loaded once and feeds every output
 * row of the block it reaches (up to 3), 18 loads for 4 rows' 36 FMAs where the flat sum
 * loads once per FMA.  Those loads are mostly unaligned and cross cache lines, and bound the
 * flat sum on planes of 14 columns and more (measured: 144 x 56 x 56 at ~30 GFLOP/s). */
static inline __attribute__((always_inline)) void dw3_rows(const float *pl, int64_t CW,
                                                          int64_t OW, const vf *wv, vf vb,
                                                          int clip, vf vlo, vf vhi, float *y,
                                                          const int nr)
{
    for (int64_t v = 0; v < OW; v += DL_VF_LEN) {
        vf acc[4];
        for (int m = 0; m < nr; m++) acc[m] = vb;
        for (int i = 0; i < nr + 2; i++) {
            const float *src = pl + i * CW + v;
            const vf x0 = vf_loadu(src), x1 = vf_loadu(src + 1), x2 = vf_loadu(src + 2);
            for (int m = 0; m < nr; m++) {
                const int r = i - m;   /* the tap row input row i is for output row m */
                if (r < 0 || r > 2) continue;
                acc[m] = vf_fma(wv[3 * r], x0, acc[m]);
                acc[m] = vf_fma(wv[3 * r + 1], x1, acc[m]);
                acc[m] = vf_fma(wv[3 * r + 2], x2, acc[m]);
            }
        }
        for (int m = 0; m < nr; m++) {
            vf a = acc[m];
            if (clip) a = vf_min(vhi, vf_max(vlo, a));
            if (v + DL_VF_LEN <= OW) vf_storeu(y + m * OW + v, a);
            else vf_store_part(y + m * OW + v, a, (size_t)(OW - v));
        }
    }
}

static void dw3_s1_sum(const dw_geom *g, const dw_flat *t, const float *pl, const float *w,
                       vf vb, int clip, vf vlo, vf vhi, float *y)
{
    vf wv[9];
    for (int q = 0; q < 9; q++) wv[q] = vf_set1(w[q]);
    int64_t oh = 0;
    for (; oh + 4 <= g->OH; oh += 4)
        dw3_rows(pl + oh * t->CW, t->CW, g->OW, wv, vb, clip, vlo, vhi, y + oh * g->OW, 4);
    for (; oh < g->OH; oh++)
        dw3_rows(pl + oh * t->CW, t->CW, g->OW, wv, vb, clip, vlo, vhi, y + oh * g->OW, 1);
}

/* the row-blocked sum above applies: stride 1, 3x3, one filter per plane, and rows of at least
 * 14 (narrower rows fill fewer lanes of whole row vectors than of the flat grid's) */
static int use_dw3_rows(const dw_geom *g, int64_t mult)
{
    return mult == 1 && g->sh == 1 && g->sw == 1 && g->R == 3 && g->S == 3 && g->OW >= 14;
}

/* The output planes of input plane q (q * mult + m, m < mult): the input padded once, then
 * each filter's sum copied out row by row, dropping the flat grid's extra columns. */
static void dw_group(const dw_geom *g, const plane_args *a, int64_t q, float *buf)
{
    const dw_flat t = *a->t;
    const int64_t *toff = a->toff;
    const int64_t taps = g->R * g->S, mult = a->mult, C = a->K / mult;
    const int kind = a->kind;
    const double *f = a->f;
    const int clip = kind == DL_AF_RELU || kind == DL_AF_HARDTANH;
    const float lo = kind == DL_AF_RELU ? 0.0f : (float)f[0];
    const float hi = kind == DL_AF_RELU ? __builtin_inff() : (float)f[1];
    const vf vlo = vf_set1(lo), vhi = vf_set1(hi);
    float *fo = buf + g->sh * g->sw * t.PS;
    const int64_t ldo = t.J + DL_VF_LEN, k0 = (q % C) * mult;
    pad_flat(g, &t, a->x + q * g->H * g->W, buf);
    if (use_dw3_rows(g, mult)) {
        float *y = a->y + q * g->OH * g->OW;
        dw3_s1_sum(g, &t, buf, a->w + k0 * taps, vf_set1(a->bias ? a->bias[k0] : 0.0f), clip,
                   vlo, vhi, y);
        if (!clip && kind >= 0)
            dl_act_fwd_f32(kind, y, y, (size_t)(g->OH * g->OW), (float)f[0], (float)f[1],
                           (float)f[2]);
        return;
    }
    for (int64_t m0 = 0; m0 < mult; m0 += (mult == 1 ? 1 : MB)) {
        const int64_t nm = mult == 1 ? 1 : (mult - m0 < MB ? mult - m0 : MB);
        if (mult == 1)
            dw_grid_sum(buf, a->w + k0 * taps, toff, taps, t.J,
                        vf_set1(a->bias ? a->bias[k0] : 0.0f), clip, vlo, vhi, fo);
        else
            dw_flat_sum_multi(&t, buf, a->w + (k0 + m0) * taps, toff, taps,
                              a->bias ? a->bias + k0 + m0 : NULL, nm, clip, vlo, vhi, fo, ldo);
        for (int64_t m = 0; m < nm; m++) {
            const float *fm = fo + m * ldo;
            float *y = a->y + (q * mult + m0 + m) * g->OH * g->OW;
            for (int64_t oh = 0; oh < g->OH; oh++) {
                const float *src = fm + oh * t.CW;
                float *dst = y + oh * g->OW;
                int64_t k = 0;
                for (; k + DL_VF_LEN <= g->OW; k += DL_VF_LEN)
                    vf_storeu(dst + k, vf_loadu(src + k));
                if (k < g->OW) vf_store_part(dst + k, vf_loadu(src + k), (size_t)(g->OW - k));
            }
            if (!clip && kind >= 0)
                dl_act_fwd_f32(kind, y, y, (size_t)(g->OH * g->OW), (float)f[0], (float)f[1],
                               (float)f[2]);
        }
    }
}

/* fn over every plane (plan_planes.h's schedule), each thread with its own padded-plane
 * scratch.  -1: no memory. */
typedef struct {
    const dw_geom *g;
    const plane_args *a;
    plane_fn fn;
} plane_job;

static void plane_job_run(const void *ctx, int64_t p, float *buf)
{
    const plane_job *j = ctx;
    j->fn(j->g, j->a, p, buf);
}

static int each_plane(const dw_geom *g, int64_t planes, const plane_args *a, plane_fn fn,
                      size_t scratch)
{
    const int nt = dl_threads_for((size_t)(planes * g->OH * g->OW * g->R * g->S), (size_t)1 << 16);
    const plane_job j = {g, a, fn};
    return dl_each_plane(nt, planes, scratch * sizeof(float), plane_job_run, &j);
}

/* i: pool params planes H W OH OW kh kw sh sw ph pw dh dw (dilation 1).  -1: no memory. */
static int maxpool_f32(const int64_t *i, const float *x, float *y)
{
    dw_geom g;
    geometry(&g, i[1], i[2], i[5], i[6], i[3], i[4], i[7], i[8], i[9], i[10]);
    const plane_args a = {x, NULL, NULL, y, NULL, 1, 1, 0, NULL, NULL};
    return each_plane(&g, i[0], &a, max_one, (size_t)(g.sw * g.PH * g.CW + g.OWV));
}

/* i: the CONV step's ints (N C H W K R S OH OW sh sw ph pw dh dw groups act) with
 * C == groups, K a multiple of C (K / C filters per input channel: depthwise, or a
 * one-channel input's convolution), dilation 1.  Returns -1 when scratch memory is short. */
static int dwconv_f32(const int64_t *i, const double *f, const float *x, const float *w,
                      const float *bias, float *y, const float *wt)
{
    dw_geom g;
    /* "same" padding at stride 1 or 2: read the planes in place (plan_dw_same_simd.c); a
     * small map's other filters, or 3x3 filters on any map (measured: 6-12% faster at
     * stride 1 on 14- to 112-column planes, 20% at stride 2; 30% on 7x7 planes) */
    if (DL_ISA_FN(dl_plan_dw_same_applies)(i) && (i[8] < 14 || (i[5] == 3 && i[6] == 3)))
        return DL_ISA_FN(dl_plan_dw_same)(i, f, x, w, bias, y, wt);
    if (i[5] * i[6] > 64) return 1;
    /* every vector load stays inside its phase row: index up to OWV - 1 + (S - 1) / sw */
    geometry(&g, i[2], i[3], i[5], i[6], i[7], i[8], i[9], i[10], i[11], i[12]);
    if (i[1] <= 0 || i[4] % i[1]) return 1;
    dw_flat t;
    flat_geometry(&g, &t);
    int64_t toff[64];
    for (int64_t r = 0; r < g.R; r++)
        for (int64_t s = 0; s < g.S; s++)
            toff[r * g.S + s] = ((r % g.sh) * g.sw + s % g.sw) * t.PS + (r / g.sh) * t.CW +
                                s / g.sw;
    const plane_args a = {x, w, bias, y, f, i[4], i[4] / i[1], (int)i[16], &t, toff};
    /* one task per input plane: its padded copy serves all its filters */
    const int64_t outs = a.mult == 1 ? 1 : MB;
    return each_plane(&g, i[0] * i[1], &a, dw_group,
                      (size_t)(g.sh * g.sw * t.PS + outs * (t.J + DL_VF_LEN)));
}

const plan_window_kernels_t DL_ISA_FN(plan_window_kernels) = {dwconv_f32, maxpool_f32};
