/* Static int8 CNN kernels: u8 activations in NHWC with one scale and zero point per tensor,
 * s8 weights symmetric per output channel (no weight zero point).  What a statically
 * quantized ResNet / MobileNetV2 runs between its quantize at entry and dequantize at exit.
 *
 * Convolution: y[n, oh, ow, o] = requant(x_scale * w_scale[o] * sum (x - x_zp) w + bias[o])
 * where requant(v) = clamp(rint(v / y_scale) + y_zp, lo, hi), lo = y_zp with relu, else 0,
 * hi 127 with y_u7, else 255;
 * padding stands for real 0, i.e. the code x_zp.  Grouped convolutions: im2col rows in
 * (kh, kw, c) order per group into the u8s8 GEMM (dlcore/qgemm.h) with its requantize
 * epilogue; weights packed per group by dl_u8s8_pack from (OC/g, KH*KW*C/g) rows, the groups'
 * packs concatenated (dl_u8s8_packed_bytes(OC/g, K) bytes each) and colsum (OC,).  A 1x1
 * stride-1 unpadded convolution with C a multiple of 4 reads x in place.
 * Depthwise (groups == C == OC): a direct kernel over weights laid out (KH*KW, C).
 * Return codes: 0, -1 bad arguments, -2 out of memory. */
#ifndef DLCORE_QCONV_H
#define DLCORE_QCONV_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t N, H, W, C;          /* input, NHWC */
    size_t OC, KH, KW;
    size_t SH, SW, PT, PL, DH, DW;
    size_t OH, OW, groups;
} dl_qconv_shape_t;

/* requantize parameters shared by the kernels below; x_u7: x's codes should be in 0..127
 * (reduce_range), the GEMM's a_u7 hint (dlcore/qgemm.h: checked, exact either way); y_u7: the
 * output codes are clamped to 0..127 instead of 0..255 (7-bit outputs, reduce_range) */
typedef struct {
    float x_scale;
    int32_t x_zp;
    float y_scale;
    int32_t y_zp;
    int relu;
    int x_u7;
    int y_u7;
} dl_qparams_t;

int dl_qconv2d_u8(const dl_qconv_shape_t *s, const uint8_t *x, const int8_t *packed,
                  const int32_t *colsum, const float *w_scale, const float *bias,
                  const dl_qparams_t *q, uint8_t *y);

int dl_qconv2d_dw_u8(const dl_qconv_shape_t *s, const uint8_t *x, const int8_t *w,
                     const float *w_scale, const float *bias, const dl_qparams_t *q,
                     uint8_t *y);

/* y = requant(a_scale (a - a_zp) + b_scale (b - b_zp)), n elements (q->x_* describe a) */
int dl_qadd_u8(size_t n, const uint8_t *a, const uint8_t *b, float b_scale, int32_t b_zp,
               const dl_qparams_t *q, uint8_t *y);

/* max pooling over NHWC u8 (the padded taps are skipped; scale and zero point pass
 * through, as max commutes with a monotone map); s->OC, s->groups are not read */
int dl_qmaxpool2d_u8(const dl_qconv_shape_t *s, const uint8_t *x, uint8_t *y);

#endif
