/* The key/value-cache family's per-ISA kernel (kvcache_simd.c, one copy per ISA), reached
 * through kvcache_kernels() (see dispatch.h); the driver is csrc/kvcache.c.
 *   attend_row: out[D] = softmax(scale * k[j] . q, j < S) weighted sum of v[j]; k, v rows
 *               D floats apart; s is scratch of S floats. */
#ifndef DLCORE_KVCACHE_KERNELS_H
#define DLCORE_KVCACHE_KERNELS_H

#include <stddef.h>
#include "dispatch.h"

typedef struct {
    void (*attend_row)(size_t S, size_t D, const float *q, const float *k, const float *v,
                       float scale, float *s, float *out);
} kvcache_kernels_t;

DL_KERNEL_TABLE(kvcache_kernels_t, kvcache_kernels)

#endif
