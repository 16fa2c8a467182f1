/* The executor's per-ISA float32 kernels, reached through kernel tables (see dispatch.h):
 *
 *   plan_kernels()         (plan_simd.c)
 *     binary      y = a op b over up to 6 broadcast dims (strides per operand, y contiguous),
 *                 Relu applied when relu != 0; threads split rows (nthreads at most)
 *     add_rows    y[0..n) = a + b (the fused residual LayerNorm's sum)
 *     plane_means y[p] = the mean of plane p's n values (global average pooling)
 *   plan_window_kernels()  (plan_dw_simd.c)
 *     dwconv      strided depthwise conv: the CONV step's ints and floats (dl/plan.h), bias
 *                 and activation fused; wt the plan's lane-weight table of a small
 *                 map's step (plan_dw_cblock.h) or NULL; -1 when scratch memory is short
 *     maxpool     max pooling, dilation 1: pool ints (planes H W OH OW kh kw sh sw ph pw);
 *                 NaN wins as in dlcore/pool.h; -1 when scratch memory is short
 *   plan_pool_kernels()    (plan_maxpool_simd.c)
 *     maxpool3s2  max pooling of 3x3 windows at stride 2, padding 0 or 1 (pool ints); -1
 *                 when scratch memory is short
 *   plan_direct_kernels()  (plan_direct_simd.c)
 *     conv        the CONV_DIRECT step (dlcore/plan.h) on weights packed by
 *                 dl_plan_direct_pack; -1 past its limits */
#ifndef DLCORE_PLAN_KERNELS_H
#define DLCORE_PLAN_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "dispatch.h"
#include "dlcore/plan.h"

/* The rows of an nd-dim view in order (the last dim is the row; nd <= DL_PLAN_MAX_DIMS), with
 * the element offsets o0, o1 of their starts in two operands of strides s0, s1: an odometer
 * over the outer dims.  row_walk_at puts it at row r; row_walk_next moves it one row on. */
typedef struct {
    int64_t idx[DL_PLAN_MAX_DIMS];
    int64_t o0, o1;
} row_walk;

static inline void row_walk_at(row_walk *w, int nd, const int64_t *shape, const int64_t *s0,
                               const int64_t *s1, int64_t r)
{
    w->o0 = w->o1 = 0;
    for (int d = nd - 2; d >= 0; d--) {
        w->idx[d] = r % shape[d];
        r /= shape[d];
        w->o0 += w->idx[d] * s0[d];
        w->o1 += w->idx[d] * s1[d];
    }
}

static inline void row_walk_next(row_walk *w, int nd, const int64_t *shape, const int64_t *s0,
                                 const int64_t *s1)
{
    for (int d = nd - 2; d >= 0; d--) {
        w->o0 += s0[d];
        w->o1 += s1[d];
        if (++w->idx[d] < shape[d]) break;
        w->o0 -= s0[d] * shape[d];
        w->o1 -= s1[d] * shape[d];
        w->idx[d] = 0;
    }
}

typedef struct {
    void (*binary)(int op, int ndim, const int64_t *shape, const int64_t *sa, const int64_t *sb,
                   const float *a, const float *b, float *y, int relu, int nthreads);
    void (*add_rows)(size_t n, const float *a, const float *b, float *y);
    void (*plane_means)(size_t planes, size_t n, const float *x, float *y);
} plan_kernels_t;

typedef struct {
    int (*dwconv)(const int64_t *i, const double *f, const float *x, const float *w,
                  const float *bias, float *y, const float *wt);
    int (*maxpool)(const int64_t *i, const float *x, float *y);
} plan_window_kernels_t;

typedef struct {
    int (*conv)(const int64_t *i, const double *f, const float *wp, const float *bias,
                const float *x, float *y);
} plan_direct_kernels_t;

typedef struct {
    int (*maxpool3s2)(const int64_t *i, const float *x, float *y);
} plan_pool_kernels_t;

DL_KERNEL_TABLE(plan_kernels_t, plan_kernels)
DL_KERNEL_TABLE(plan_pool_kernels_t, plan_pool_kernels)
DL_KERNEL_TABLE(plan_direct_kernels_t, plan_direct_kernels)
DL_KERNEL_TABLE(plan_window_kernels_t, plan_window_kernels)

#endif
