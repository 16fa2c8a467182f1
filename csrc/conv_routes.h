/* The float32 forward routes an eager conv2d shares with the inference plan's executor
 * (conv_routes.c); conv.c tries them around Winograd, before im2col + GEMM. */
#ifndef DLCORE_CONV_ROUTES_H
#define DLCORE_CONV_ROUTES_H

#include "dlcore/conv.h"

/* Each returns 0 when p is not a form it takes (nothing written), else 1 with *rc the
 * result (0, or -1 when scratch memory could not be allocated).
 *   direct     the executor's direct kernels (CONV_DIRECT, plan_direct*_simd.c): stride 2 on
 *              at most DL_PLAN_S2W_MAX_C input channels (a network's first layer), or stride
 *              1 with few output channels on a small map where Winograd does not run even
 *              without a cached filter transform (LeNet's 5x5 layers)
 *   small_map  one image on a small map as the transposed product col^T W^T (the CONV_GEMM
 *              step's mode 2, plan_conv.c): the map's positions are the product's rows */
int dl_conv_route_direct_f32(const dl_conv_params *p, const float *x, const float *w,
                             const float *bias, float *y, int *rc);
int dl_conv_route_small_map_f32(const dl_conv_params *p, const float *x, const float *w,
                                const float *bias, float *y, int *rc);

#endif
