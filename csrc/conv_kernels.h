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
 *                   (np = OH*OW, p0 = 0), through zero-padded planes of Hp x Wp, on AVX2 split
 *                   by stride into phase planes (see conv_phase_extent), or, on AVX-512 where a
 *                   padded row fits one register, straight from / into x (xp: scratch of
 *                   conv_image_scratch(p) elements); col2im_image adds to x's contents.
 *                   ldc >= np + DL_CONV_RUN_SLACK: im2col_image may write up to
 *                   DL_CONV_RUN_SLACK - 1 elements past a row's np columns (a whole vector
 *                   stored for a shorter run; the caller writes its next image there later or
 *                   leaves them unused); col2im_image may read as many past them and before
 *                   col (whole vectors, the lanes off the run dropped), so its caller leaves
 *                   DL_CONV_RUN_SLACK readable elements before the tile's first column
 *   dw_same_fwd, dw_same_bwd_data, dw3_wgrad_plane
 *                   depthwise with "same" padding read in place (conv_dw_same_simd.c) */
#ifndef DLCORE_CONV_KERNELS_H
#define DLCORE_CONV_KERNELS_H

#include <stdint.h>
#include "dlcore/conv.h"
#include "dispatch.h"

/* elements past each row of an im2col_image column tile (see above) */
#define DL_CONV_RUN_SLACK 16

/* The phase planes of the AVX2 small-map forms: the zero-padded planes of Hp x Wp
 * (conv_im2col_impl.h's pad_extent) split by the stride, plane (c, a, b) holding
 * xp[c, i*sh + a, j*sw + b] at row i < Hq = ceil(Hp / sh), column j < Wq (ceil(Wp / sw)
 * rounded up to a multiple of `vec` lanes).  Tap (r, s) of output (oh, ow) then reads plane
 * (c, (r*dh) % sh, (s*dw) % sw) at row oh + (r*dh) / sh, column ow + (s*dw) / sw: every run
 * of a tap is contiguous, whatever the stride (a 4x4 stride-2 layer's runs of 7 were 7
 * scalar copies each on AVX2). */
static inline void conv_phase_extent(const dl_conv_params *p, int64_t vec, int64_t *Hq,
                                     int64_t *Wq)
{
    const int64_t Hp = (p->OH - 1) * p->sh + (p->R - 1) * p->dh + 1;
    const int64_t Wp = (p->OW - 1) * p->sw + (p->S - 1) * p->dw + 1;
    *Hq = (Hp + p->sh - 1) / p->sh;
    *Wq = ((Wp + p->sw - 1) / p->sw + vec - 1) / vec * vec;
}

/* Scratch elements of im2col_image / col2im_image for one image's Cg = C/groups channels:
 * the padded planes, or the phase planes (laid out for vectors of up to 16 lanes) and the
 * padded rows they are split from, a padded row, and the slack a whole-vector read past a
 * run's end may touch. */
static inline int64_t conv_image_scratch(const dl_conv_params *p)
{
    const int64_t Cg = p->C / p->groups;
    const int64_t Hp = (p->OH - 1) * p->sh + (p->R - 1) * p->dh + 1;
    const int64_t Wp = (p->OW - 1) * p->sw + (p->S - 1) * p->dw + 1;
    int64_t Hq, Wq;
    conv_phase_extent(p, 16, &Hq, &Wq);
    const int64_t phases = Cg * p->sh * p->sw * Hq * Wq, padded = Cg * Hp * Wp;
    return (2 * phases > padded ? 2 * phases : padded) + Wq * p->sw + 2 * DL_CONV_RUN_SLACK;
}

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
