/* The attention family's per-ISA float32 kernels (attention_simd.c, one copy per ISA), reached
 * through attention_kernels() (see dispatch.h).  Their contracts are those of dlcore/attention.h. */
#ifndef DLCORE_ATTENTION_KERNELS_H
#define DLCORE_ATTENTION_KERNELS_H

#include "dlcore/attention.h"
#include "dispatch.h"

typedef struct {
    int (*fwd)(const dl_attn_desc *d, const float *q, const float *k, const float *v, float *out,
               float *lse, int *nonfinite);
    int (*bwd)(const dl_attn_desc *d, const float *q, const float *k, const float *v,
               const float *out, const float *lse, const float *dout, float *dq, float *dk,
               float *dv);
} attention_kernels_t;

DL_KERNEL_TABLE(attention_kernels_t, attention_kernels)

#endif
