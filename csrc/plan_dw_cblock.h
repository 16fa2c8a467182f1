/* Depthwise "same" convolution of small maps with the channels as vector lanes
 * (plan_dw_cblock_simd.c), for the depthwise step of plan_dw_same_simd.c: declared for the
 * ISA copy being compiled.  The copies with an L x L register transpose (AVX-512: 16, AVX2:
 * 8) have it; the portable one reports 0 planes done. */
#ifndef DLCORE_PLAN_DW_CBLOCK_H
#define DLCORE_PLAN_DW_CBLOCK_H

#include <stdint.h>
#include "simd.h"
#include "plan_dw_cblock_table.h"

/* The planes (from 0, a multiple of L = DL_VF_LEN) it computed of the CONV step i, f (bias,
 * and the activation i[16] with f): 0 when it does not take the step (no L x L transpose, rows
 * of 14 outputs or more, maps over 28 x 28, fewer than L planes); -1 when memory is short.
 * dl_plan_dw_same_applies(i) must hold.  wt: the step's table (dl_plan_dw_cblock_table) or
 * NULL to make one for this call. */
int64_t DL_ISA_FN(dl_plan_dw_cblock)(const int64_t *i, const double *f, const float *x,
                                     const float *w, const float *bias, float *y,
                                     const float *wt);

#endif
