/* Pooling's per-ISA float32 row kernels, reached through pool_kernels() (see dispatch.h): one
 * output row of 2x2 stride-2 max pooling from input rows r0, r1 (2*ow readable each); the _idx
 * form also writes flat plane offsets (r0[0] at base, rows W apart).  Hand-written per ISA
 * (pool2x2_avx512.c, pool2x2_avx2.c); a NULL slot (the generic path) means
 * pool_impl.h's portable loop. */
#ifndef DLCORE_POOL_KERNELS_H
#define DLCORE_POOL_KERNELS_H

#include <stdint.h>
#include "dispatch.h"

typedef struct {
    void (*maxpool2x2_row)(const float *r0, const float *r1, float *y, int64_t ow);
    void (*maxpool2x2_row_idx)(const float *r0, const float *r1, float *y, int64_t *idx,
                               int64_t ow, int64_t base, int64_t W);
} pool_kernels_t;

DL_KERNEL_TABLE(pool_kernels_t, pool_kernels)

#endif
