/* The optimizer family's per-ISA kernels (optim_simd.c, one copy per ISA), reached through
 * optim_kernels() (see dispatch.h).  Each runs on one thread over [0, n) with the contract of
 * its dlcore/optim.h entry point; csrc/optim.c splits the work.  The slots are named
 * <update>_f32 / <update>_f64 so that optim_impl.h reaches the dtype's slot as SUF(update). */
#ifndef DLCORE_OPTIM_KERNELS_H
#define DLCORE_OPTIM_KERNELS_H

#include <stddef.h>
#include "dlcore/optim.h"
#include "dispatch.h"

typedef struct {
    void (*sgd_f32)(float *p, const float *g, float *buf, size_t n, const dl_sgd_args *a);
    void (*sgd_f64)(double *p, const double *g, double *buf, size_t n, const dl_sgd_args *a);
    void (*adam_f32)(float *p, const float *g, float *m, float *v, float *vmax, size_t n,
                     const dl_adam_args *a);
    void (*adam_f64)(double *p, const double *g, double *m, double *v, double *vmax, size_t n,
                     const dl_adam_args *a);
    void (*rmsprop_f32)(float *p, const float *g, float *sq, float *gavg, float *buf, size_t n,
                        const dl_rmsprop_args *a);
    void (*rmsprop_f64)(double *p, const double *g, double *sq, double *gavg, double *buf,
                        size_t n, const dl_rmsprop_args *a);
    void (*adagrad_f32)(float *p, const float *g, float *sum, size_t n, const dl_adagrad_args *a);
    void (*adagrad_f64)(double *p, const double *g, double *sum, size_t n,
                        const dl_adagrad_args *a);
    double (*sumsq_f32)(const float *x, size_t n);
    double (*sumsq_f64)(const double *x, size_t n);
} optim_kernels_t;

DL_KERNEL_TABLE(optim_kernels_t, optim_kernels)

#endif
