/* Fused LayerNorm and RMSNorm over the last n elements of `rows` contiguous rows.
 *
 * LayerNorm: y = (x - mean) * rstd * gamma + beta, rstd = 1 / sqrt(var + eps) (biased var).
 * RMSNorm:   y = x * rstd * gamma,                 rstd = 1 / sqrt(mean(x^2) + eps).
 * gamma and beta may be NULL (no affine / no bias).  Forward saves mean and rstd per row
 * (either may be NULL when no backward follows).  Backward fills dx and, when not NULL,
 * dgamma and dbeta (sums over rows, overwritten).  Return 0, or -1 when scratch memory could
 * not be allocated.
 */
#ifndef DLCORE_LAYERNORM_H
#define DLCORE_LAYERNORM_H

#include <stddef.h>

int dl_layernorm_fwd_f32(size_t rows, size_t n, const float *x, const float *gamma,
                         const float *beta, double eps, float *y, float *mean, float *rstd);
int dl_layernorm_bwd_f32(size_t rows, size_t n, const float *x, const float *gamma,
                         const float *mean, const float *rstd, const float *dy, float *dx,
                         float *dgamma, float *dbeta);
int dl_layernorm_fwd_f64(size_t rows, size_t n, const double *x, const double *gamma,
                         const double *beta, double eps, double *y, double *mean, double *rstd);
int dl_layernorm_bwd_f64(size_t rows, size_t n, const double *x, const double *gamma,
                         const double *mean, const double *rstd, const double *dy, double *dx,
                         double *dgamma, double *dbeta);
/* RMSNorm: the same with mean fixed at 0 (no beta, no saved mean). */
int dl_rmsnorm_fwd_f32(size_t rows, size_t n, const float *x, const float *gamma, double eps,
                       float *y, float *rstd);
int dl_rmsnorm_bwd_f32(size_t rows, size_t n, const float *x, const float *gamma,
                       const float *rstd, const float *dy, float *dx, float *dgamma);
int dl_rmsnorm_fwd_f64(size_t rows, size_t n, const double *x, const double *gamma, double eps,
                       double *y, double *rstd);
int dl_rmsnorm_bwd_f64(size_t rows, size_t n, const double *x, const double *gamma,
                       const double *rstd, const double *dy, double *dx, double *dgamma);

#endif
