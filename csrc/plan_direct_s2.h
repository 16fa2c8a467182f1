/* The direct 3x3 stride-2 convolution on a few input channels (plan_direct_s2_simd.c), for
 * the executor's CONV_DIRECT step in plan_direct_simd.c: declared for the ISA copy being
 * compiled, so each copy of the step calls the copy of the kernel built with the same flags. */
#ifndef DLCORE_PLAN_DIRECT_S2_H
#define DLCORE_PLAN_DIRECT_S2_H

#include <stdint.h>
#include "simd.h"

/* The CONV_DIRECT step i, f (i[9] == 2: a 3x3 filter, stride 2, top and left padding 0 or 1,
 * dilation 1, groups 1; the planner checks) on weights packed by dl_plan_direct_pack; 0 */
int DL_ISA_FN(dl_plan_direct_s2)(const int64_t *i, const double *f, const float *wp,
                                 const float *bias, const float *x, float *y);
/* The same step with any other filter (i[9] == 2, dilation 1, groups 1, at most
 * DL_PLAN_S2W_MAX_C input channels and DL_PLAN_S2W_MAX_RS rows and columns, top and left
 * padding below them; plan_direct_s2w_simd.c); 0, or -1 past those limits */
int DL_ISA_FN(dl_plan_direct_s2w)(const int64_t *i, const double *f, const float *wp,
                                  const float *bias, const float *x, float *y);

#endif
