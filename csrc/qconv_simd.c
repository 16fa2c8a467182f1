/* The static int8 CNN family's kernels for one ISA (compiled once per ISA; qconv_kernels.h).
 * Channels are the innermost (NHWC) dimension, so every loop here runs over contiguous
 * channels and the compiler vectorizes it with this copy's ISA flags. */
#include <math.h>
#include <string.h>
#include "simd.h"
#include "qconv_kernels.h"

/* clamp(rint(v * inv) + zp, lo, 255); NaN -> lo (a u8 has no NaN) */
static inline uint8_t requant(float v, float inv, float zp, float lo)
{
    float r = rintf(v * inv) + zp;
    r = r > 255.0f ? 255.0f : r;
    r = r >= lo ? r : lo;
    return (uint8_t)(int32_t)r;
}

static void dw_row(const dl_qconv_shape_t *s, const uint8_t *x, const int8_t *w,
                   const float *w_scale, const float *bias, const dl_qparams_t *q, size_t oh,
                   uint8_t *y)
{
    const size_t C = s->C, W = s->W;
    const int32_t zp = q->x_zp;
    const float inv = 1.0f / q->y_scale, yzp = (float)q->y_zp;
    const float lo = q->relu ? yzp : 0.0f;
    for (size_t ow = 0; ow < s->OW; ow++) {
        uint8_t *yo = y + ow * C;
        for (size_t c0 = 0; c0 < C; c0 += QC_CB) {
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
                yo[c0 + c] = requant(v, inv, yzp, lo);
            }
        }
    }
}

static void add(size_t n, const uint8_t *a, const uint8_t *b, float b_scale, int32_t b_zp,
                const dl_qparams_t *q, uint8_t *y)
{
    const float sa = q->x_scale, za = (float)q->x_zp, sb = b_scale, zb = (float)b_zp;
    const float inv = 1.0f / q->y_scale, yzp = (float)q->y_zp, lo = q->relu ? yzp : 0.0f;
    #pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float v = sa * ((float)a[i] - za) + sb * ((float)b[i] - zb);
        y[i] = requant(v, inv, yzp, lo);
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

const qconv_kernels_t DL_ISA_FN(qconv_kernels) = {
    .dw_row = dw_row,
    .add = add,
    .max_row = max_row,
};
