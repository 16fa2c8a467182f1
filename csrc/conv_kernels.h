/* Convolution's per-ISA float32 inner loops (conv_simd.c, one copy per ISA), reached through
 * conv_kernels() (see dispatch.h); float64 runs the portable loops of conv_im2col_impl.h and
 * conv_dw_impl.h, which these match element for element.
 *
 *   im2col, col2im  the GEMM path's column tile: col[((c*R + r)*S + s) * ldc + q] holds the
 *                   input under output position p0 + q of channel c (Cg channels from x);
 *                   col2im adds it back (the adjoint)
 *   dw_rows_s1      depthwise, stride 1: out[i, j] = (accumulate ? out[i, j] : init) +
 *                   sum_{r,s} wk[r*S+s] * buf[(i+r*dh)*bw + j+s*dw] over a zero-padded input
 *                   band buf (row stride bw, roundup(ow, 16) + (S-1)*dw columns in every row)
 *   dw_wgrad_s1     gw[r*S+s] += sum_{i<oh, j<ow} gy[i*ldg + j] * buf[(i+r*dh)*bw + j+s*dw];
 *                   gy rows hold roundup(ow, 16) elements, zero past ow
 *   im2col_image, col2im_image
 *                   the small-map forms of conv_im2col_impl.h: the whole map of one image
 *                   (np = OH*OW, p0 = 0), through zero-padded planes of Hp x Wp (xp, scratch of
 *                   Cg*Hp*Wp elements) or, on AVX-512 where a padded row fits one register,
 *                   straight from / into x; col2im_image adds to x's contents
 *   dw_same_fwd, dw_same_bwd_data, dw3_wgrad_plane
 *                   depthwise with "same" padding read in place (conv_dw_same_simd.c) */
#ifndef DLCORE_CONV_KERNELS_H
#define DLCORE_CONV_KERNELS_H

#include <stdint.h>
#include "dlcore/conv.h"
#include "dispatch.h"

typedef struct {
    void (*im2col)(const dl_conv_params *p, const float *x, int64_t Cg, int64_t p0, int64_t np,
                   float *col, int64_t ldc);
    void (*col2im)(const dl_conv_params *p, const float *col, int64_t Cg, int64_t p0, int64_t np,
                   float *x, int64_t ldc);
    void (*dw_rows_s1)(const float *buf, int64_t bw, float *out, int64_t oh, int64_t ow,
                       int64_t ldo, const float *wk, int64_t R, int64_t S, int64_t dh, int64_t dw,
                       float init, int accumulate);
    void (*dw_wgrad_s1)(const float *buf, int64_t bw, const float *gy, int64_t ldg, int64_t oh,
                        int64_t ow, int64_t R, int64_t S, int64_t dh, int64_t dw, float *gw);
    void (*im2col_image)(const dl_conv_params *p, const float *x, int64_t Cg, float *xp,
                         float *col, int64_t ldc);
    void (*col2im_image)(const dl_conv_params *p, const float *col, int64_t Cg, float *xp,
                         float *x, int64_t ldc);
    /* depthwise with "same" padding (conv_dw_same.h): 1 when p is not a form they take */
    int (*dw_same_fwd)(const dl_conv_params *p, const float *x, const float *w,
                       const float *bias, float *y);
    int (*dw_same_bwd_data)(const dl_conv_params *p, const float *gy, const float *w,
                            const float *bias_init, float *gx);
    void (*dw3_wgrad_plane)(const float *x, const float *gy, int64_t H, int64_t W, float *gw,
                            float *gsum);
} conv_kernels_t;

DL_KERNEL_TABLE(conv_kernels_t, conv_kernels)

#endif
