/* Batch normalization over x viewed as (N, C, L): statistics per channel c over N*L values.
 * (N, C) inputs have L = 1, (N, C, H, W) have L = H*W.  Statistics accumulate in double.
 *
 * Training forward: y = (x - mean) * invstd * weight + bias with the batch's mean and biased
 * variance; mean and invstd = 1/sqrt(var + eps) are saved for backward; when running_mean /
 * running_var are given they become (1 - momentum) * old + momentum * batch value, with the
 * unbiased variance (var * n / (n - 1)), as PyTorch does.
 * Eval forward: the same with given mean and invstd (from the running statistics).
 * weight/bias may be NULL (no affine transform).  fwd_train returns 0, or -1 when its small
 * per-channel scratch could not be allocated.
 */
#ifndef DLCORE_BATCHNORM_H
#define DLCORE_BATCHNORM_H

#include <stdint.h>

int dl_batchnorm_fwd_train_f32(int64_t N, int64_t C, int64_t L, const float *x,
                                const float *weight, const float *bias, double eps, float *y,
                                float *save_mean, float *save_invstd, float *running_mean,
                                float *running_var, double momentum);
int dl_batchnorm_fwd_train_f64(int64_t N, int64_t C, int64_t L, const double *x,
                                const double *weight, const double *bias, double eps, double *y,
                                double *save_mean, double *save_invstd, double *running_mean,
                                double *running_var, double momentum);
void dl_batchnorm_fwd_eval_f32(int64_t N, int64_t C, int64_t L, const float *x,
                               const float *weight, const float *bias, const float *mean,
                               const float *invstd, float *y);
void dl_batchnorm_fwd_eval_f64(int64_t N, int64_t C, int64_t L, const double *x,
                               const double *weight, const double *bias, const double *mean,
                               const double *invstd, double *y);

/* Backward.  batch_stats: mean/invstd were the batch's own (training), so they depend on x;
 * otherwise they are constants (eval).  gx, gw, gb may each be NULL (not wanted). */
void dl_batchnorm_bwd_f32(int64_t N, int64_t C, int64_t L, const float *x, const float *gy,
                          const float *weight, const float *mean, const float *invstd,
                          int batch_stats, float *gx, float *gw, float *gb);
void dl_batchnorm_bwd_f64(int64_t N, int64_t C, int64_t L, const double *x, const double *gy,
                          const double *weight, const double *mean, const double *invstd,
                          int batch_stats, double *gx, double *gw, double *gb);

#endif
