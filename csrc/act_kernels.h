/* The activation family's per-ISA float32 kernels (act_simd.c, one copy per ISA), reached
 * through act_kernels() (see dispatch.h).  Their contracts are those of dlcore/act.h. */
#ifndef DLCORE_ACT_KERNELS_H
#define DLCORE_ACT_KERNELS_H

#include <stddef.h>
#include "dispatch.h"

typedef struct {
    int (*fwd)(int kind, const float *x, float *y, size_t n, float a, float b, float c);
    int (*bwd)(int kind, const float *x, const float *y, const float *gy, float *gx, size_t n,
               float a, float b, float c);
    void (*softmax_fwd)(const float *x, float *y, size_t outer, size_t dim, size_t inner,
                        int log_);
    void (*softmax_bwd)(const float *y, const float *gy, float *gx, size_t outer, size_t dim,
                        size_t inner, int log_);
    void (*silu_mul)(const float *gu, size_t ld, size_t rows, size_t F, float *out);
} act_kernels_t;

DL_KERNEL_TABLE(act_kernels_t, act_kernels)

#endif
