/* The loss family's per-ISA float32 kernels (loss_simd.c, one copy per ISA), reached through
 * loss_kernels() (see dispatch.h).  Their contracts are those of dlcore/loss.h. */
#ifndef DLCORE_LOSS_KERNELS_H
#define DLCORE_LOSS_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "dispatch.h"

typedef struct {
    int64_t (*ce_fwd)(const float *x, const int64_t *target, const float *weight, size_t N,
                      size_t C, int64_t ignore_index, float smoothing, float *loss, float *lse,
                      double *sum_loss, double *sum_weight);
    void (*ce_bwd)(const float *x, const int64_t *target, const float *weight, const float *lse,
                   size_t N, size_t C, int64_t ignore_index, float smoothing, const float *g,
                   float gscale, float *gx);
    void (*ce_prob_fwd)(const float *x, const float *q, const float *weight, size_t N, size_t C,
                        float smoothing, float *loss, float *lse, double *sum_loss);
    void (*ce_prob_bwd)(const float *x, const float *q, const float *weight, const float *lse,
                        size_t N, size_t C, float smoothing, const float *g, float gscale,
                        float *gx);
    int (*ploss_fwd)(int kind, const float *x, const float *t, const float *w, const float *pw,
                     size_t n, float param, float *out, double *sum);
    int (*ploss_bwd)(int kind, const float *x, const float *t, const float *w, const float *pw,
                     size_t n, float param, const float *g, float gscale, float *gx);
} loss_kernels_t;

DL_KERNEL_TABLE(loss_kernels_t, loss_kernels)

#endif
