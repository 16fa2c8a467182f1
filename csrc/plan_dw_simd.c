/* The executor's window kernels: max pooling, and depthwise convolution (one filter per
 * channel, any stride and padding, dilation 1) with bias and activation fused into the rows
 * it writes (MobileNet's and EfficientNet's dw conv + BN folded + ReLU6).  Each plane is
 * first copied zero-padded and, for stride 2, split into even and odd columns, so the output
 * row is a register-resident sum of contiguous vector loads (simd.h). */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "dlcore/act.h"
#include "dlcore/plan.h"
#include "dlcore/runtime.h"
#include "simd.h"
#include "plan_kernels.h"
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

/* Rows of at most two vectors (LeNet's 28, MobileNet's 14 and 7): one accumulator per
 * vector of a row would chain every tap through the FMA latency, so four accumulators cover
 * two or four rows at once.  The last group repeats the last row rather than read past the
 * padded plane; only real rows are stored. */
static void dw_plane_narrow(const dw_geom *g, const float *pl, const float *w, const int64_t *toff,
                            int64_t taps, vf vb, int clip, vf vlo, vf vhi, float *y)
{
    const int64_t OW = g->OW, nvec = g->OWV / DL_VF_LEN, rb = nvec == 1 ? 4 : 2;
    for (int64_t oh = 0; oh < g->OH; oh += rb) {
        const float *src[4];
        for (int64_t q = 0; q < 4; q++) {
            int64_t row = oh + q / nvec;
            if (row > g->OH - 1) row = g->OH - 1;
            src[q] = pl + row * g->sh * g->CW + (q % nvec) * DL_VF_LEN;
        }
        vf a0 = vb, a1 = vb, a2 = vb, a3 = vb;
        for (int64_t t = 0; t < taps; t++) {
            const vf wt = vf_set1(w[t]);
            const int64_t o = toff[t];
            a0 = vf_fma(wt, vf_loadu(src[0] + o), a0);
            a1 = vf_fma(wt, vf_loadu(src[1] + o), a1);
            a2 = vf_fma(wt, vf_loadu(src[2] + o), a2);
            a3 = vf_fma(wt, vf_loadu(src[3] + o), a3);
        }
        vf acc[4] = {a0, a1, a2, a3};
        for (int64_t q = 0; q < 4; q++) {
            const int64_t row = oh + q / nvec, j = (q % nvec) * DL_VF_LEN;
            if (row >= g->OH) break;
            vf v = clip ? vf_min(vhi, vf_max(vlo, acc[q])) : acc[q];
            if (j + DL_VF_LEN <= OW) vf_storeu(y + row * OW + j, v);
            else vf_store_part(y + row * OW + j, v, (size_t)(OW - j));
        }
    }
}

static void dw_plane(const dw_geom *g, const float *pl, const float *w, float bias, float *y,
                     float *orow, int kind, const double *f)
{
    const int clip = kind == DL_AF_RELU || kind == DL_AF_HARDTANH;
    const float lo = kind == DL_AF_RELU ? 0.0f : (float)f[0];
    const float hi = kind == DL_AF_RELU ? __builtin_inff() : (float)f[1];
    const vf vlo = vf_set1(lo), vhi = vf_set1(hi), vb = vf_set1(bias);
    /* tap (r, s) reads phase s % sw, row oh * sh + r, from index ow + s / sw */
    int64_t toff[64];
    const int64_t taps = g->R * g->S;
    for (int64_t r = 0; r < g->R; r++)
        for (int64_t s = 0; s < g->S; s++)
            toff[r * g->S + s] = ((s % g->sw) * g->PH + r) * g->CW + s / g->sw;
    const int64_t OW = g->OW;
    if (g->OWV <= 2 * DL_VF_LEN) {
        dw_plane_narrow(g, pl, w, toff, taps, vb, clip, vlo, vhi, y);
        if (!clip && kind >= 0)
            dl_act_fwd_f32(kind, y, y, (size_t)(g->OH * OW), (float)f[0], (float)f[1],
                           (float)f[2]);
        return;
    }
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *base = pl + oh * g->sh * g->CW;
        float *out = y + oh * OW;
        int64_t j = 0;
        /* four vectors of the row at once: one accumulator's taps chain through the FMA
         * latency, four independent ones keep the FMA unit busy */
        for (; j + 4 * DL_VF_LEN <= OW; j += 4 * DL_VF_LEN) {
            vf a0 = vb, a1 = vb, a2 = vb, a3 = vb;
            for (int64_t t = 0; t < taps; t++) {
                const vf wt = vf_set1(w[t]);
                const float *src = base + toff[t] + j;
                a0 = vf_fma(wt, vf_loadu(src), a0);
                a1 = vf_fma(wt, vf_loadu(src + DL_VF_LEN), a1);
                a2 = vf_fma(wt, vf_loadu(src + 2 * DL_VF_LEN), a2);
                a3 = vf_fma(wt, vf_loadu(src + 3 * DL_VF_LEN), a3);
            }
            if (clip) {
                a0 = vf_min(vhi, vf_max(vlo, a0));
                a1 = vf_min(vhi, vf_max(vlo, a1));
                a2 = vf_min(vhi, vf_max(vlo, a2));
                a3 = vf_min(vhi, vf_max(vlo, a3));
            }
            vf_storeu(out + j, a0);
            vf_storeu(out + j + DL_VF_LEN, a1);
            vf_storeu(out + j + 2 * DL_VF_LEN, a2);
            vf_storeu(out + j + 3 * DL_VF_LEN, a3);
        }
        /* the rest one vector at a time; the last, partial one through orow (the padded
         * plane has room for a whole vector's loads, y does not for its store) */
        for (; j < OW; j += DL_VF_LEN) {
            vf acc = vb;
            for (int64_t t = 0; t < taps; t++)
                acc = vf_fma(vf_set1(w[t]), vf_loadu(base + toff[t] + j), acc);
            if (clip) acc = vf_min(vhi, vf_max(vlo, acc));
            if (j + DL_VF_LEN <= OW) {
                vf_storeu(out + j, acc);
            } else {
                vf_storeu(orow, acc);
                memcpy(out + j, orow, sizeof(float) * (size_t)(OW - j));
            }
        }
        if (!clip && kind >= 0)
            dl_act_fwd_f32(kind, out, out, (size_t)OW, (float)f[0], (float)f[1],
                           (float)f[2]);
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

/* What one plane's work needs besides its geometry: the op's operands. */
typedef struct {
    const float *x, *w, *bias;
    float *y;
    const double *f;
    int64_t K, mult;   /* output channels; output planes per input plane */
    int kind;
} plane_args;

typedef void (*plane_fn)(const dw_geom *g, const plane_args *a, int64_t p, float *buf);

static void max_one(const dw_geom *g, const plane_args *a, int64_t p, float *buf)
{
    pad_plane(g, a->x + p * g->H * g->W, buf, -__builtin_inff());
    max_plane(g, buf, a->y + p * g->OH * g->OW, buf + g->sw * g->PH * g->CW);
}

static void dw_one(const dw_geom *g, const plane_args *a, int64_t p, float *buf)
{
    const int64_t c = p % a->K;
    pad_plane(g, a->x + p / a->mult * g->H * g->W, buf, 0.0f);
    dw_plane(g, buf, a->w + c * g->R * g->S, a->bias ? a->bias[c] : 0.0f,
             a->y + p * g->OH * g->OW, buf + g->sw * g->PH * g->CW, a->kind, a->f);
}

/* The planes split over a team, each thread with its own padded-plane scratch.
 * -1: no memory. */
static int each_plane(const dw_geom *g, int64_t planes, const plane_args *a, plane_fn fn)
{
    const size_t scratch = (size_t)(g->sw * g->PH * g->CW + g->OWV);
    int nt = dl_threads_for((size_t)(planes * g->OH * g->OW * g->R * g->S), (size_t)1 << 16);
    if (nt > planes) nt = (int)planes;
    int failed = 0;
#ifdef DL_HAVE_OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(| : failed)
#endif
    {
        int t = 0, team = 1;
#ifdef DL_HAVE_OPENMP
        t = omp_get_thread_num();
        team = omp_get_num_threads();
#endif
        float *buf = dl_alloc(scratch * sizeof(float));
        if (!buf) {
            failed = 1;
        } else {
            for (int64_t p = t; p < planes; p += team)
                fn(g, a, p, buf);
            dl_free(buf);
        }
    }
    return failed ? -1 : 0;
}

/* i: pool params planes H W OH OW kh kw sh sw ph pw dh dw (dilation 1).  -1: no memory. */
static int maxpool_f32(const int64_t *i, const float *x, float *y)
{
    dw_geom g;
    geometry(&g, i[1], i[2], i[5], i[6], i[3], i[4], i[7], i[8], i[9], i[10]);
    const plane_args a = {x, NULL, NULL, y, NULL, 1, 1, 0};
    return each_plane(&g, i[0], &a, max_one);
}

/* i: the CONV step's ints (N C H W K R S OH OW sh sw ph pw dh dw groups act) with
 * C == groups, K a multiple of C (K / C filters per input channel: depthwise, or a
 * one-channel input's convolution), dilation 1.  Returns -1 when scratch memory is short. */
static int dwconv_f32(const int64_t *i, const double *f, const float *x, const float *w,
                      const float *bias, float *y)
{
    dw_geom g;
    if (i[5] * i[6] > 64) return 1;
    /* every vector load stays inside its phase row: index up to OWV - 1 + (S - 1) / sw */
    geometry(&g, i[2], i[3], i[5], i[6], i[7], i[8], i[9], i[10], i[11], i[12]);
    if (i[1] <= 0 || i[4] % i[1]) return 1;
    const plane_args a = {x, w, bias, y, f, i[4], i[4] / i[1], (int)i[16]};
    return each_plane(&g, i[0] * i[4], &a, dw_one);
}

const plan_window_kernels_t DL_ISA_FN(plan_window_kernels) = {dwconv_f32, maxpool_f32};
