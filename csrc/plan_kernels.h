/* The executor's per-ISA float32 kernels, reached through kernel tables (see dispatch.h):
 *
 *   plan_kernels()         (plan_simd.c)
 *     binary      y = a op b over up to 6 broadcast dims (strides per operand, y contiguous),
 *                 Relu applied when relu != 0; threads split rows (nthreads at most)
 *     add_rows    y[0..n) = a + b (the fused residual LayerNorm's sum)
 *   plan_window_kernels()  (plan_dw_simd.c)
 *     dwconv      strided depthwise conv: the CONV step's ints and floats (dl/plan.h), bias
 *                 and activation fused; -1 when scratch memory is short
 *     maxpool     max pooling, dilation 1: pool ints (planes H W OH OW kh kw sh sw ph pw);
 *                 NaN wins as in dlcore/pool.h; -1 when scratch memory is short */
#ifndef DLCORE_PLAN_KERNELS_H
#define DLCORE_PLAN_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "dispatch.h"

typedef struct {
    void (*binary)(int op, int ndim, const int64_t *shape, const int64_t *sa, const int64_t *sb,
                   const float *a, const float *b, float *y, int relu, int nthreads);
    void (*add_rows)(size_t n, const float *a, const float *b, float *y);
} plan_kernels_t;

typedef struct {
    int (*dwconv)(const int64_t *i, const double *f, const float *x, const float *w,
                  const float *bias, float *y);
    int (*maxpool)(const int64_t *i, const float *x, float *y);
} plan_window_kernels_t;

DL_KERNEL_TABLE(plan_kernels_t, plan_kernels)
DL_KERNEL_TABLE(plan_window_kernels_t, plan_window_kernels)

#endif
