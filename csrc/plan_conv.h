/* The CONV_GEMM step's kernels (plan_conv.c), for the plan (plan.c declares them too) and for
 * eager calls of the same shapes on weights packed once (conv_routes.c). */
#ifndef DLCORE_PLAN_CONV_H
#define DLCORE_PLAN_CONV_H

#include <stdint.h>
#include "dlcore/gemm.h"
#include "dlcore/gemm_prepacked.h"

/* i: as dlcore/plan.h's CONV_GEMM; pa: the weights as dl_sgemm_pack_a packs them */
void dl_plan_conv_gemm(const int64_t *i, const double *f, const dl_sgemm_packed_a *pa,
                       const float *x, const float *bias, float *y, float *col);
/* i[20] == 2: the transposed small-map product on W^T packed by dl_plan_conv_pack_t */
dl_sgemm_packed_b *dl_plan_conv_pack_t(const int64_t *i, const float *w);
void dl_plan_conv_gemm_t(const int64_t *i, const double *f, const dl_sgemm_packed_b *pb,
                         const float *x, const float *bias, float *y, float *col);

#endif
