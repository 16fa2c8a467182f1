/* The depthwise convolution of plan_dw_same_simd.c (same padding, stride 1 or 2), for the
 * executor's depthwise step in plan_dw_simd.c: declared for the ISA copy being compiled, so
 * each copy of the step calls the copy of the kernel built with the same flags. */
#ifndef DLCORE_PLAN_DW_SAME_H
#define DLCORE_PLAN_DW_SAME_H

#include <stdint.h>
#include "simd.h"

/* 1 when the CONV step's ints i (N C H W K R S OH OW sh sw ph pw dh dw groups) describe one
 * filter per channel, odd R and S (R * S <= 49) padded (R - 1) / 2 and (S - 1) / 2, stride 1
 * or 2 both ways, dilation 1; at stride 1 with other filters than 3x3, planes of at most 1024
 * outputs */
int DL_ISA_FN(dl_plan_dw_same_applies)(const int64_t *i);
/* The step's output (bias, and the activation i[16] with f), 0; -1 when memory is short.
 * wt: the plan's lane-weight table for small maps (plan_dw_cblock.h) or NULL. */
int DL_ISA_FN(dl_plan_dw_same)(const int64_t *i, const double *f, const float *x,
                               const float *w, const float *bias, float *y, const float *wt);

#endif
