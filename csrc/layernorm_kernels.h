/* The LayerNorm / RMSNorm family's per-ISA float32 row kernels (layernorm_simd.c, one copy per
 * ISA), reached through layernorm_kernels() (see dispatch.h).  Each runs rows [r0, r1) of the
 * contract in dlcore/layernorm.h; rms != 0 selects RMSNorm (mean = 0).  Backward adds into
 * dgamma and dbeta (the caller's per-thread partials; either may be NULL). */
#ifndef DLCORE_LAYERNORM_KERNELS_H
#define DLCORE_LAYERNORM_KERNELS_H

#include <stddef.h>
#include "dispatch.h"

typedef struct {
    void (*fwd_rows)(size_t r0, size_t r1, size_t n, const float *x, const float *gamma,
                     const float *beta, float eps, int rms, float *y, float *mean, float *rstd);
    void (*bwd_rows)(size_t r0, size_t r1, size_t n, const float *x, const float *gamma,
                     const float *mean, const float *rstd, const float *dy, float *dx,
                     float *dgamma, float *dbeta, int rms);
} layernorm_kernels_t;

DL_KERNEL_TABLE(layernorm_kernels_t, layernorm_kernels)

#endif
