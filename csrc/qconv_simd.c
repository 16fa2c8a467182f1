/* The static int8 CNN family's kernels for one ISA (compiled once per ISA; qconv_kernels.h).
 * Channels are the innermost (NHWC) dimension, so every loop here runs over contiguous
 * channels and the compiler vectorizes it with this copy's ISA flags. */
#include <math.h>
#include <string.h>
#include "simd.h"
#include "qconv_kernels.h"
#include "qrequant.h"

/* clamp(rint(v * inv) + zp, lo, hi); NaN -> lo (a u8 has no NaN); hi 255, or 127 for 7-bit
 * codes (q->y_u7) */
static inline uint8_t requant(float v, float inv, float zp, float lo, float hi)
{
    float r = rintf(v * inv) + zp;
    r = r > hi ? hi : r;
    r = r >= lo ? r : lo;
    return (uint8_t)(int32_t)r;
}

/* Depthwise channels [c_begin, C) of one output row: int32 sums in plain C, QC_CB channels
 * at a time (the channels past the last whole vector, and windows too big for dw_row_vec) */
static void dw_row_int(const dl_qconv_shape_t *s, const uint8_t *x, const int8_t *w,
                       const float *w_scale, const float *bias, const dl_qparams_t *q,
                       size_t oh, uint8_t *y, size_t c_begin)
{
    const size_t C = s->C, W = s->W;
    const int32_t zp = q->x_zp;
    const float inv = 1.0f / q->y_scale, yzp = (float)q->y_zp;
    const float lo = q->relu ? yzp : 0.0f, hi = q->y_u7 ? 127.0f : 255.0f;
    for (size_t ow = 0; ow < s->OW; ow++) {
        uint8_t *yo = y + ow * C;
        for (size_t c0 = c_begin; c0 < C; c0 += QC_CB) {
            const size_t cb = C - c0 < QC_CB ? C - c0 : QC_CB;
            int32_t acc[QC_CB];
            memset(acc, 0, sizeof acc);
            for (size_t kh = 0; kh < s->KH; kh++) {
                const ptrdiff_t ih = (ptrdiff_t)(oh * s->SH + kh * s->DH) - (ptrdiff_t)s->PT;
                if (ih < 0 || ih >= (ptrdiff_t)s->H) continue;
                for (size_t kw = 0; kw < s->KW; kw++) {
                    const ptrdiff_t iw = (ptrdiff_t)(ow * s->SW + kw * s->DW) - (ptrdiff_t)s->PL;
                    if (iw < 0 || iw >= (ptrdiff_t)W) continue;
                    const uint8_t *xp = x + ((size_t)ih * W + (size_t)iw) * C + c0;
                    const int8_t *wp = w + (kh * s->KW + kw) * C + c0;
                    #pragma omp simd
                    for (size_t c = 0; c < cb; c++)
                        acc[c] += ((int32_t)xp[c] - zp) * (int32_t)wp[c];
                }
            }
            const float *ws = w_scale + c0;
            #pragma omp simd
            for (size_t c = 0; c < cb; c++) {
                float v = (float)acc[c] * (q->x_scale * ws[c]);
                v = bias ? v + bias[c0 + c] : v;
                yo[c0 + c] = requant(v, inv, yzp, lo, hi);
            }
        }
    }
}

#if defined(__AVX2__)
/* OB adjacent interior output columns of one vector of channels, window KW wide at stride SW
 * (constants where it is inlined, so the loops unroll and acc stays in registers): each input
 * column is loaded and converted once and feeds every output whose window holds it, and the
 * OB sums are independent FMA chains - one column at a time is bound by one chain's latency.
 * xr[r]: the first input column of window row r; wr[r]: that row's float weights. */
static inline __attribute__((always_inline)) void
dw_cols(size_t nr, const uint8_t *const *xr, const float *const *wr, size_t C, const int KW,
        const int SW, const int OB, vf *acc)
{
    for (int o = 0; o < OB; o++) acc[o] = vf_zero();
    for (size_t r = 0; r < nr; r++) {
        vf wv[8];
        for (int kw = 0; kw < KW; kw++) wv[kw] = vf_loadu(wr[r] + kw * DL_VF_LEN);
        #pragma GCC unroll 32
        for (int j = 0; j < (OB - 1) * SW + KW; j++) {
            const vf xv = vf_load_u8(xr[r] + (size_t)j * C);
            #pragma GCC unroll 16
            for (int o = 0; o < OB; o++) {
                const int kw = j - o * SW;
                if (kw >= 0 && kw < KW) acc[o] = vf_fma(xv, wv[kw], acc[o]);
            }
        }
    }
}
#define QC_OB1 8          /* output columns per block at stride 1 */
#define QC_OB2 4          /* and at stride 2 */
#endif

/* Depthwise channels [0, cv) (cv a multiple of DL_VF_LEN) of one output row, one vector of
 * channels at a time with the window's weights as floats in L1.  The sums are float FMAs of
 * integers: |(x - zp) w| <= 255 * 128 per tap, so up to QC_VEC_TAPS taps every partial sum
 * is an integer below 2^24 and exact - the int32 sums of dw_row_int.  Columns whose window
 * row lies inside the image add x w and subtract zp * (sum of the rows' weights) once;
 * the border columns subtract zp per tap, skipping the padding (which stands for x = zp).
 * 3x3 and 5x5 windows at stride 1 or 2 (undilated) run their interior columns in blocks
 * (dw_cols). */
static void dw_row_vec(const dl_qconv_shape_t *s, const uint8_t *x, const int8_t *w,
                       const float *w_scale, const float *bias, const dl_qparams_t *q,
                       size_t oh, uint8_t *y, size_t cv)
{
    const size_t C = s->C, KH = s->KH, KW = s->KW, OW = s->OW;
    const ptrdiff_t W = (ptrdiff_t)s->W, ih0 = (ptrdiff_t)(oh * s->SH) - (ptrdiff_t)s->PT;
    const vf zp = vf_set1((float)q->x_zp), inv = vf_set1(1.0f / q->y_scale);
    const vf yzp = vf_set1((float)q->y_zp), top = vf_set1(q->y_u7 ? 127.0f : 255.0f);
    const vf lo = vf_set1(q->relu ? (float)q->y_zp : 0.0f), xs = vf_set1(q->x_scale);
    /* output columns [ow_lo, ow_hi) read no padding */
    size_t ow_lo = (s->PL + s->SW - 1) / s->SW, ow_hi = 0;
    const ptrdiff_t span = (ptrdiff_t)((KW - 1) * s->DW);
    if (W - 1 - span + (ptrdiff_t)s->PL >= 0)
        ow_hi = (size_t)((W - 1 - span + (ptrdiff_t)s->PL) / (ptrdiff_t)s->SW) + 1;
    ow_hi = ow_hi < OW ? ow_hi : OW;
    ow_lo = ow_lo < ow_hi ? ow_lo : ow_hi;
    size_t rows[QC_VEC_TAPS], nr = 0;             /* the window rows inside the image */
    for (size_t kh = 0; kh < KH; kh++) {
        const ptrdiff_t ih = ih0 + (ptrdiff_t)(kh * s->DH);
        if (ih >= 0 && ih < (ptrdiff_t)s->H) rows[nr++] = kh;
    }
#if defined(__AVX512F__)
    const __m512i zo = _mm512_set1_epi32(q->y_zp), lo_i = _mm512_set1_epi32(q->relu ? q->y_zp : 0);
    const __m512i hi_i = _mm512_set1_epi32(q->y_u7 ? 127 : 255);
    (void)yzp, (void)top, (void)lo;              /* the portable store's constants */
#elif defined(__AVX2__)
    const __m256i zo = _mm256_set1_epi32(q->y_zp), lo_i = _mm256_set1_epi32(q->relu ? q->y_zp : 0);
    const __m256i hi_i = _mm256_set1_epi32(q->y_u7 ? 127 : 255);
    (void)yzp, (void)top, (void)lo;
#endif
#if defined(__AVX2__)
    const int blocked = s->DW == 1 && (KW == 3 || KW == 5) && (s->SW == 1 || s->SW == 2)
                        && nr <= 8;
    const size_t OB = s->SW == 1 ? QC_OB1 : QC_OB2;
#endif
    float wf[QC_VEC_TAPS * DL_VF_LEN];
    for (size_t c0 = 0; c0 < cv; c0 += DL_VF_LEN) {
        vf wsum = vf_zero();
        for (size_t r = 0; r < nr; r++)
            for (size_t kw = 0; kw < KW; kw++) {
                const size_t t = rows[r] * KW + kw;
                vf wt = vf_load_s8(w + t * C + c0);
                vf_storeu(wf + t * DL_VF_LEN, wt);
                wsum = vf_add(wsum, wt);
            }
        const vf zw = vf_mul(zp, wsum);
        const vf sc = vf_mul(xs, vf_loadu(w_scale + c0));
        const vf b = bias ? vf_loadu(bias + c0) : vf_zero();
#if defined(__AVX512F__)
#define QC_STORE(acc, ow)                                                                  \
        do {                                                                               \
            vf v_ = bias ? vf_fma((acc), sc, b) : vf_mul((acc), sc);                       \
            dl_requant_store16(y + (ow) * C + c0, vf_mul(v_, inv), zo, lo_i, hi_i);       \
        } while (0)
#elif defined(__AVX2__)
#define QC_STORE(acc, ow)                                                                  \
        do {                                                                               \
            vf v_ = bias ? vf_fma((acc), sc, b) : vf_mul((acc), sc);                       \
            dl_requant_store8(y + (ow) * C + c0, vf_mul(v_, inv), zo, lo_i, hi_i);        \
        } while (0)
#else
#define QC_STORE(acc, ow)                                                                  \
        do {                                                                               \
            vf v_ = bias ? vf_fma((acc), sc, b) : vf_mul((acc), sc);                       \
            vf r_ = vf_min(top, vf_add(vf_roundf(vf_mul(v_, inv)), yzp)); /* NaN stays */  \
            vf_store_u8(y + (ow) * C + c0, vf_select_ge(r_, lo, r_, lo)); /* NaN -> lo */  \
        } while (0)
#endif
        size_t ow = 0;
        for (;;) {
            /* one column at a time up to the blocked run (and after it) */
            size_t stop = OW;
#if defined(__AVX2__)
            if (blocked && ow <= ow_lo && ow_lo + OB <= ow_hi) stop = ow_lo;
#endif
            for (; ow < stop; ow++) {
                const ptrdiff_t iw0 = (ptrdiff_t)(ow * s->SW) - (ptrdiff_t)s->PL;
                vf acc = vf_zero();
                for (size_t r = 0; r < nr; r++) {
                    const ptrdiff_t ih = ih0 + (ptrdiff_t)(rows[r] * s->DH);
                    const uint8_t *xr = x + (size_t)(ih * W) * C + c0;
                    const float *wr = wf + rows[r] * KW * DL_VF_LEN;
                    if (ow >= ow_lo && ow < ow_hi) {
                        for (size_t kw = 0; kw < KW; kw++)
                            acc = vf_fma(vf_load_u8(xr + (size_t)(iw0 + (ptrdiff_t)(kw * s->DW)) * C),
                                         vf_loadu(wr + kw * DL_VF_LEN), acc);
                    } else {
                        for (size_t kw = 0; kw < KW; kw++) {
                            const ptrdiff_t iw = iw0 + (ptrdiff_t)(kw * s->DW);
                            if (iw < 0 || iw >= W) continue;
                            acc = vf_fma(vf_sub(vf_load_u8(xr + (size_t)iw * C), zp),
                                         vf_loadu(wr + kw * DL_VF_LEN), acc);
                        }
                    }
                }
                if (ow >= ow_lo && ow < ow_hi) acc = vf_sub(acc, zw);
                QC_STORE(acc, ow);
            }
            if (ow >= OW) break;
#if defined(__AVX2__)
            /* ow == ow_lo: the interior in blocks of OB columns */
            const uint8_t *xr[8];
            const float *wr[8];
            for (size_t r = 0; r < nr; r++) {
                wr[r] = wf + rows[r] * KW * DL_VF_LEN;
                xr[r] = x + (size_t)((ih0 + (ptrdiff_t)(rows[r] * s->DH)) * W) * C + c0;
            }
            for (; ow + OB <= ow_hi; ow += OB) {
                const uint8_t *xo[8];
                const size_t off = (ow * s->SW - s->PL) * C;
                for (size_t r = 0; r < nr; r++) xo[r] = xr[r] + off;
                vf acc[QC_OB1];
                if (KW == 3 && s->SW == 1) dw_cols(nr, xo, wr, C, 3, 1, QC_OB1, acc);
                else if (KW == 3) dw_cols(nr, xo, wr, C, 3, 2, QC_OB2, acc);
                else if (s->SW == 1) dw_cols(nr, xo, wr, C, 5, 1, QC_OB1, acc);
                else dw_cols(nr, xo, wr, C, 5, 2, QC_OB2, acc);
                for (size_t o = 0; o < OB; o++) QC_STORE(vf_sub(acc[o], zw), ow + o);
            }
#endif
        }
#undef QC_STORE
    }
}

static void dw_row(const dl_qconv_shape_t *s, const uint8_t *x, const int8_t *w,
                   const float *w_scale, const float *bias, const dl_qparams_t *q, size_t oh,
                   uint8_t *y)
{
#if defined(__AVX2__)
    const size_t cv = s->KH * s->KW <= QC_VEC_TAPS ? s->C / DL_VF_LEN * DL_VF_LEN : 0;
#else
    /* measured: the compiler-vectorized int32 loop is the faster one with 1 lane
     * (MobileNetV2's 56x56x144 layer: generic 2.6 ms against 7.6) */
    const size_t cv = 0;
#endif
    if (cv) dw_row_vec(s, x, w, w_scale, bias, q, oh, y, cv);
    if (cv < s->C) dw_row_int(s, x, w, w_scale, bias, q, oh, y, cv);
}

static void add(size_t n, const uint8_t *a, const uint8_t *b, float b_scale, int32_t b_zp,
                const dl_qparams_t *q, uint8_t *y)
{
    const float sa = q->x_scale, za = (float)q->x_zp, sb = b_scale, zb = (float)b_zp;
    const float inv = 1.0f / q->y_scale, yzp = (float)q->y_zp, lo = q->relu ? yzp : 0.0f;
    const float hi = q->y_u7 ? 127.0f : 255.0f;
    #pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float v = sa * ((float)a[i] - za) + sb * ((float)b[i] - zb);
        y[i] = requant(v, inv, yzp, lo, hi);
    }
}

static void max_row(const dl_qconv_shape_t *s, const uint8_t *x, size_t oh, uint8_t *y)
{
    const size_t C = s->C, W = s->W;
    for (size_t ow = 0; ow < s->OW; ow++) {
        uint8_t *yo = y + ow * C;
        memset(yo, 0, C);
        for (size_t kh = 0; kh < s->KH; kh++) {
            const ptrdiff_t ih = (ptrdiff_t)(oh * s->SH + kh * s->DH) - (ptrdiff_t)s->PT;
            if (ih < 0 || ih >= (ptrdiff_t)s->H) continue;
            for (size_t kw = 0; kw < s->KW; kw++) {
                const ptrdiff_t iw = (ptrdiff_t)(ow * s->SW + kw * s->DW) - (ptrdiff_t)s->PL;
                if (iw < 0 || iw >= (ptrdiff_t)W) continue;
                const uint8_t *xp = x + ((size_t)ih * W + (size_t)iw) * C;
                #pragma omp simd
                for (size_t c = 0; c < C; c++) yo[c] = xp[c] > yo[c] ? xp[c] : yo[c];
            }
        }
    }
}

static void quantize_nhwc(size_t C, size_t P, size_t len, const float *x, float scale,
                          float zp, float qmax, uint8_t *y)
{
    uint8_t buf[DL_QZ_MAX_C * DL_QZ_MAX_LEN];
    for (size_t c = 0; c < C; c++) {
        const float *xs = x + c * P;
        uint8_t *b = buf + c * DL_QZ_MAX_LEN;
        /* as QuantizeFn: rint(x / scale) + zp in float32, clamped, NaN to 0 */
        #pragma omp simd
        for (size_t j = 0; j < len; j++) b[j] = requant(xs[j] / scale, 1.0f, zp, 0.0f, qmax);
    }
    for (size_t j = 0; j < len; j++)
        for (size_t c = 0; c < C; c++) y[j * C + c] = buf[c * DL_QZ_MAX_LEN + j];
}

const qconv_kernels_t DL_ISA_FN(qconv_kernels) = {
    .dw_row = dw_row,
    .add = add,
    .max_row = max_row,
    .quantize_nhwc = quantize_nhwc,
};
