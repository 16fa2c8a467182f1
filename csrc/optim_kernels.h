/* Per-ISA copies of the optimizer kernels (csrc/optim_simd.c is compiled once per ISA).
 * Each runs on one thread over [0, n); csrc/optim.c picks the copy and splits the work. */
#ifndef DLCORE_OPTIM_KERNELS_H
#define DLCORE_OPTIM_KERNELS_H

#include "dlcore/optim.h"

#define DL_OPTIM_DECLARE(isa)                                                                  \
    void dl_sgd_f32_##isa(float *p, const float *g, float *buf, size_t n, const dl_sgd_args *a); \
    void dl_sgd_f64_##isa(double *p, const double *g, double *buf, size_t n,                   \
                          const dl_sgd_args *a);                                                \
    void dl_adam_f32_##isa(float *p, const float *g, float *m, float *v, float *vmax, size_t n, \
                           const dl_adam_args *a);                                              \
    void dl_adam_f64_##isa(double *p, const double *g, double *m, double *v, double *vmax,     \
                           size_t n, const dl_adam_args *a);                                    \
    void dl_rmsprop_f32_##isa(float *p, const float *g, float *sq, float *gavg, float *buf,    \
                              size_t n, const dl_rmsprop_args *a);                              \
    void dl_rmsprop_f64_##isa(double *p, const double *g, double *sq, double *gavg,            \
                              double *buf, size_t n, const dl_rmsprop_args *a);                 \
    void dl_adagrad_f32_##isa(float *p, const float *g, float *sum, size_t n,                  \
                              const dl_adagrad_args *a);                                        \
    void dl_adagrad_f64_##isa(double *p, const double *g, double *sum, size_t n,               \
                              const dl_adagrad_args *a);                                        \
    double dl_sumsq_f32_##isa(const float *x, size_t n);                                       \
    double dl_sumsq_f64_##isa(const double *x, size_t n);

DL_OPTIM_DECLARE(generic)
DL_OPTIM_DECLARE(avx2)
DL_OPTIM_DECLARE(avx512)

#undef DL_OPTIM_DECLARE

#endif
