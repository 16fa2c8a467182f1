/* The fused inverted-residual step (DL_PLAN_MBCONV, dlcore/plan.h): 1x1 expand conv (+ bias +
 * Relu/ReLU6 in the GEMM epilogue) -> depthwise conv (odd R x S, "same" padding, stride 1 or 2,
 * + bias + activation) -> 1x1 project conv (+ bias, + the skip value already in y), computed a
 * strip of output rows at a time so that the expanded map (6x the block's input: MobileNetV2's
 * 96 x 112 x 112 is 4.8 MB) never leaves L2: only the rows the strip's depthwise sums read are
 * expanded (the rows shared with the previous strip are moved, not recomputed), and the
 * depthwise result of the strip is projected while it is in cache.
 *
 *   plan_mbconv.c        the weights packed once per plan, the per-ISA entry chosen per call
 *   plan_mbconv_simd.c   the strip loop and the depthwise sums (simd.h), per ISA */
#ifndef DLCORE_PLAN_MBCONV_H
#define DLCORE_PLAN_MBCONV_H

#include <stddef.h>
#include <stdint.h>
#include "dispatch.h"
#include "dlcore/gemm.h"

/* the two pointwise weights, packed when the plan is made */
typedef struct {
    dl_sgemm_packed_a expand, project;
} dl_plan_mbconv_packed;

/* i (DL_PLAN_MBCONV): N Cin H W Ce Cout R S stride ph pw OH OW expand_act (dl_act_t) dw_act
 * (DL_AF_* or -1) residual rows_per_strip | f: dw act a, b, c.
 * x (N, Cin, H, W), bd/be/bp biases (may be NULL), wd (Ce, 1, R, S), y (N, Cout, OH, OW)
 * holding the skip value when residual.  0, or -1 when scratch memory is short. */
typedef struct {
    int (*run)(const int64_t *i, const double *f, const dl_plan_mbconv_packed *pk,
               const float *x, const float *be, const float *wd, const float *bd,
               const float *bp, float *y);
} plan_mbconv_kernels_t;

DL_KERNEL_TABLE(plan_mbconv_kernels_t, plan_mbconv_kernels)

/* 1 when the step's ints are ones the kernel takes (checked again at run time) */
int dl_plan_mbconv_ok(const int64_t *i);
/* the packed weights of step i (expand (Ce x Cin), project (Cout x Ce)); NULL when out of
 * memory.  Free with dl_plan_mbconv_free. */
dl_plan_mbconv_packed *dl_plan_mbconv_pack(const int64_t *i, const float *we, const float *wp);
void dl_plan_mbconv_free(dl_plan_mbconv_packed *pk);

#endif
