/* The static int8 CNN family's per-ISA kernels (qconv_simd.c, one copy per ISA), reached
 * through qconv_kernels() (dispatch.h); the driver is qconv.c, the API dlcore/qconv.h.
 *   dw_row:  one output row oh of a depthwise convolution of one NHWC image (x points at
 *            the image), all OW x C outputs, requantized
 *   add:     n elements of the requantized sum of two u8 tensors
 *   max_row: one output row oh of max pooling of one NHWC image
 *   quantize_nhwc: len positions of C <= DL_QZ_MAX_C float channel planes (x: channel c's
 *            run at x + c P) as interleaved u8 codes y[j C + c] (0..qmax), QuantizeFn's
 *            arithmetic
 * requantized outputs are clamped to 127 instead of 255 where q->y_u7 (7-bit codes)
 * dw_row runs whole vectors of channels on simd.h's words (exact integer sums carried in
 * float, see qconv_simd.c), the rest in plain C int32 loops vectorized by the compiler. */
#ifndef DLCORE_QCONV_KERNELS_H
#define DLCORE_QCONV_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "dispatch.h"
#include "dlcore/qconv.h"

typedef struct {
    void (*dw_row)(const dl_qconv_shape_t *s, const uint8_t *x, const int8_t *w,
                   const float *w_scale, const float *bias, const dl_qparams_t *q, size_t oh,
                   uint8_t *y);
    void (*add)(size_t n, const uint8_t *a, const uint8_t *b, float b_scale, int32_t b_zp,
                const dl_qparams_t *q, uint8_t *y);
    void (*max_row)(const dl_qconv_shape_t *s, const uint8_t *x, size_t oh, uint8_t *y);
    void (*quantize_nhwc)(size_t C, size_t P, size_t len, const float *x, float scale,
                          float zp, float qmax, uint8_t *y);
} qconv_kernels_t;

DL_KERNEL_TABLE(qconv_kernels_t, qconv_kernels)

/* quantize_nhwc's most channels and positions per call (a stack buffer of both) */
#define DL_QZ_MAX_C 16
#define DL_QZ_MAX_LEN 256

/* the depthwise kernel's channel block: int32 sums of this many channels stay in registers */
#define QC_CB 64
/* the vector depthwise kernel's largest window (its float sums stay exact up to 514 taps;
 * 49 = 7x7 keeps the window's float weights small on the stack) */
#define QC_VEC_TAPS 49

#endif
