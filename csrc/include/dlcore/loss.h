/* Losses: fused cross-entropy from logits (class indices or class probabilities), NLL, and
 * pointwise losses (MSE, L1, smooth L1, Huber, BCE, BCE with logits, KL divergence), float32
 * (SIMD, per-ISA copies in loss_simd.c) and float64 (scalar, loss.c).
 *
 * Class-index kernels take logits as N contiguous rows of C and int64 targets; a target equal
 * to ignore_index contributes nothing.  Forward kernels check every other target is in [0, C)
 * before using it, and return -1, or the first row whose target is out of range (then the
 * outputs are incomplete).  Backward kernels treat an out-of-range target as ignored, so no
 * input can make them index out of bounds.
 *
 * Backward scale: row (or element) i's gradient is multiplied by (g ? g[i] : 1) * gscale, so
 * reduction='none' passes the incoming gradient g, and 'mean'/'sum' pass g = NULL and the
 * scalar upstream gradient divided by the mean's denominator in gscale. */
#ifndef DLCORE_LOSS_H
#define DLCORE_LOSS_H

#include <stddef.h>
#include <stdint.h>

/* Cross-entropy, class indices: loss_i = (1 - eps) w[t_i] (lse_i - x_i[t_i])
 *                                      + (eps / C) sum_c w[c] (lse_i - x_i[c]),
 * 0 for ignored rows (PyTorch's label smoothing).  weight may be NULL (all ones).  loss and
 * lse (N each) may be NULL; *sum_loss gets the total loss and *sum_weight the sum of w[t_i] over
 * the rows not ignored (the 'mean' denominator). */
int64_t dl_ce_fwd_f32(const float *x, const int64_t *target, const float *weight, size_t N,
                      size_t C, int64_t ignore_index, float smoothing, float *loss, float *lse,
                      double *sum_loss, double *sum_weight);
int64_t dl_ce_fwd_f64(const double *x, const int64_t *target, const double *weight, size_t N,
                      size_t C, int64_t ignore_index, double smoothing, double *loss, double *lse,
                      double *sum_loss, double *sum_weight);
/* gx_i = scale_i * (softmax(x_i) * ((1-eps) w[t] + eps W / C) - (1-eps) w[t] onehot(t)
 *                   - (eps / C) w), zero for ignored rows; lse from the forward. */
void dl_ce_bwd_f32(const float *x, const int64_t *target, const float *weight, const float *lse,
                   size_t N, size_t C, int64_t ignore_index, float smoothing, const float *g,
                   float gscale, float *gx);
void dl_ce_bwd_f64(const double *x, const int64_t *target, const double *weight,
                   const double *lse, size_t N, size_t C, int64_t ignore_index, double smoothing,
                   const double *g, double gscale, double *gx);

/* Cross-entropy, class probabilities q (N x C): with q' = (1 - eps) q + eps / C,
 * loss_i = sum_c w[c] q'_c (lse_i - x_ic); gradient scale_i * (softmax(x_i) sum_c w q' - w q'). */
void dl_ce_prob_fwd_f32(const float *x, const float *q, const float *weight, size_t N, size_t C,
                        float smoothing, float *loss, float *lse, double *sum_loss);
void dl_ce_prob_fwd_f64(const double *x, const double *q, const double *weight, size_t N,
                        size_t C, double smoothing, double *loss, double *lse, double *sum_loss);
void dl_ce_prob_bwd_f32(const float *x, const float *q, const float *weight, const float *lse,
                        size_t N, size_t C, float smoothing, const float *g, float gscale,
                        float *gx);
void dl_ce_prob_bwd_f64(const double *x, const double *q, const double *weight,
                        const double *lse, size_t N, size_t C, double smoothing, const double *g,
                        double gscale, double *gx);

/* NLL on log-probabilities: loss_i = -w[t_i] x_i[t_i]; gx is written in full (zeros except the
 * target entries). */
int64_t dl_nll_fwd_f32(const float *x, const int64_t *target, const float *weight, size_t N,
                       size_t C, int64_t ignore_index, float *loss, double *sum_loss,
                       double *sum_weight);
int64_t dl_nll_fwd_f64(const double *x, const int64_t *target, const double *weight, size_t N,
                       size_t C, int64_t ignore_index, double *loss, double *sum_loss,
                       double *sum_weight);
void dl_nll_bwd_f32(const int64_t *target, const float *weight, size_t N, size_t C,
                    int64_t ignore_index, const float *g, float gscale, float *gx);
void dl_nll_bwd_f64(const int64_t *target, const double *weight, size_t N, size_t C,
                    int64_t ignore_index, const double *g, double gscale, double *gx);

/* Pointwise losses over n elements of input x and target t (same shape), with param:
 *   MSE          (x - t)^2                                    d/dx 2 (x - t)
 *   L1           |x - t|                                      sign(x - t)
 *   SMOOTH_L1    |d| < beta ? d^2 / (2 beta) : |d| - beta/2    param = beta
 *   HUBER        |d| < delta ? d^2 / 2 : delta (|d| - delta/2) param = delta
 *   BCE          -w (t max(log x, -100) + (1 - t) max(log(1 - x), -100)), x in [0, 1]
 *   BCE_LOGITS   w ((1 - t) x + (1 + (pw - 1) t) softplus(-x))
 *   KL           t log t - t x (0 where t == 0)               d/dx -t
 *   KL_LOG_TARGET  e^t (t - x)                                d/dx -e^t
 * w (weight) and pw (pos_weight) are n-element arrays or NULL (BCE kinds only).  out (n) may
 * be NULL; *sum gets the total.  Returns 0, -1 for an unknown kind, or (forward of BCE) 1 if some
 * x is outside [0, 1] (then the outputs are incomplete). */
typedef enum {
    DL_PL_MSE = 0, DL_PL_L1 = 1, DL_PL_SMOOTH_L1 = 2, DL_PL_HUBER = 3, DL_PL_BCE = 4,
    DL_PL_BCE_LOGITS = 5, DL_PL_KL = 6, DL_PL_KL_LOG_TARGET = 7, DL_PL_COUNT = 8
} dl_ploss_t;
int dl_ploss_fwd_f32(int kind, const float *x, const float *t, const float *w, const float *pw,
                     size_t n, float param, float *out, double *sum);
int dl_ploss_fwd_f64(int kind, const double *x, const double *t, const double *w,
                     const double *pw, size_t n, double param, double *out, double *sum);
int dl_ploss_bwd_f32(int kind, const float *x, const float *t, const float *w, const float *pw,
                     size_t n, float param, const float *g, float gscale, float *gx);
int dl_ploss_bwd_f64(int kind, const double *x, const double *t, const double *w,
                     const double *pw, size_t n, double param, const double *g, double gscale,
                     double *gx);

#endif
