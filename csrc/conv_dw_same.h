/* The eager depthwise kernels of conv_dw_same_simd.c, declared for the ISA copy being compiled
 * (conv_simd.c puts them in that copy's conv_kernels table). */
#ifndef DLCORE_CONV_DW_SAME_H
#define DLCORE_CONV_DW_SAME_H

#include <stdint.h>
#include "dlcore/conv.h"
#include "simd.h"

/* p's forward (bias may be NULL): 0, -1 when memory is short, 1 when p is not a form this
 * kernel takes (then nothing is written) */
int DL_ISA_FN(dl_conv_dw_same_fwd)(const dl_conv_params *p, const float *x, const float *w,
                                   const float *bias, float *y);
/* p's input gradient gx = bias_init (per channel, may be NULL) + the adjoint of the forward;
 * returns as above (stride 1 only) */
int DL_ISA_FN(dl_conv_dw_same_bwd_data)(const dl_conv_params *p, const float *gy,
                                        const float *w, const float *bias_init, float *gx);
/* gw[0..8] = the 3x3 (stride 1, padding 1) weight gradient of one H x W plane pair, *gsum =
 * the sum of gy's plane */
void DL_ISA_FN(dl_conv_dw3_wgrad_plane)(const float *x, const float *gy, int64_t H, int64_t W,
                                        float *gw, float *gsum);

#endif
