/* The executor's pointwise convolution on small maps (plan_pointwise.c) and its per-ISA
 * transpose (plan_pointwise_simd.c). */
#ifndef DLCORE_PLAN_POINTWISE_H
#define DLCORE_PLAN_POINTWISE_H

#include <stddef.h>
#include <stdint.h>
#include "dispatch.h"
#include "dlcore/gemm.h"
#include "dlcore/gemm_prepacked.h"

typedef struct {
    /* dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols */
    void (*transpose)(const float *src, ptrdiff_t lds, size_t rows, size_t cols, float *dst,
                      ptrdiff_t ldd);
    /* dst[c * ldd + r] += src[r * lds + c]: a residual step's output (plan_pointwise.c) */
    void (*transpose_add)(const float *src, ptrdiff_t lds, size_t rows, size_t cols, float *dst,
                          ptrdiff_t ldd);
} plan_pw_kernels_t;

DL_KERNEL_TABLE(plan_pw_kernels_t, plan_pw_kernels)

/* A step's activation applied to a finished strip of the GEMM's output (a dl_gemm_post), for
 * the transposed products whose epilogue cannot run it per column (plan_pointwise.c,
 * plan_conv.c's small-map product). */
typedef struct {
    int kind;
    float a, b, c;
} plan_act_ctx;

void plan_act_strip(const void *ctx, float *C, size_t rows, size_t cols, ptrdiff_t ldc);

/* The weights (K x C, the step's operand 1) packed as the right operand of the transposed
 * product, for a CONV_GEMM step whose i[20] asks for it; NULL otherwise or out of memory (the
 * run then takes dl_plan_conv_gemm). */
dl_sgemm_packed_b *dl_plan_pointwise_pack(const int64_t *i, const float *w);
/* The step: see plan_pointwise.c */
void dl_plan_pointwise_t(const int64_t *i, const double *f, const dl_sgemm_packed_b *pb,
                         const float *x, const float *bias, float *y, float *col);
/* A pointwise CONV_GEMM step with i[21] == 1 (a residual sum fused, dlcore/jit/passes/
 * fuse_residual.py) on weights packed as the left operand: y, which holds the skip value on
 * entry, becomes y + W x + bias (the GEMM's beta = 1); no activation. */
void dl_plan_pointwise_acc(const int64_t *i, const dl_sgemm_packed_a *pa, const float *x,
                           const float *bias, float *y);

#endif
