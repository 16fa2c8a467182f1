/* Depthwise "same" convolution of small maps with the channels as vector lanes
 * (plan_dw_cblock_simd.c), for the depthwise step of plan_dw_same_simd.c: declared for the
 * ISA copy being compiled.  Only the AVX-512 copy has it (its 16 x 16 register transpose);
 * the others report 0 planes done. */
#ifndef DLCORE_PLAN_DW_CBLOCK_H
#define DLCORE_PLAN_DW_CBLOCK_H

#include <stdint.h>
#include "simd.h"

/* The planes (from 0, a multiple of 16) it computed of the CONV step i, f (bias, and the
 * activation i[16] with f): 0 when it does not take the step (no 16-lane transpose, rows of
 * 14 outputs or more, maps over 28 x 28, fewer than 16 planes); -1 when memory is short.
 * dl_plan_dw_same_applies(i) must hold. */
int64_t DL_ISA_FN(dl_plan_dw_cblock)(const int64_t *i, const double *f, const float *x,
                                     const float *w, const float *bias, float *y);

#endif
