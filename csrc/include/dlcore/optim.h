/* Fused optimizer updates: each call reads a parameter buffer, its gradient and its state
 * buffers once and writes the parameter and the state back in the same pass (in place).
 *
 * The element-wise formulas follow torch.optim's single-tensor implementations operation by
 * operation (same order, same scalars), so results agree with PyTorch to rounding.  Scalars
 * that depend only on the step count (bias corrections, Adagrad's decayed lr) are computed by
 * the caller in double precision and passed in.
 *
 * All buffers of one call have n elements, are contiguous and do not overlap.  Optional state
 * buffers are NULL when the option that needs them is off.  Work above a size threshold is
 * split over dl_num_threads() OpenMP threads in contiguous chunks.
 */
#ifndef DLCORE_OPTIM_H
#define DLCORE_OPTIM_H

#include <stddef.h>

typedef struct {
    double lr, momentum, dampening, weight_decay;
    int nesterov, maximize;
    int first;  /* first step with momentum: the buffer starts as a copy of the gradient */
} dl_sgd_args;

typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
    int decoupled;      /* AdamW: p *= 1 - lr*wd before the update, instead of g += wd*p */
    int maximize;
    double step_size;   /* lr / (1 - beta1^t) */
    double bc2_sqrt;    /* sqrt(1 - beta2^t) */
} dl_adam_args;

typedef struct {
    double lr, alpha, eps, weight_decay, momentum;
    int centered, maximize;
} dl_rmsprop_args;

typedef struct {
    double clr;  /* lr / (1 + (t - 1) * lr_decay) */
    double eps, weight_decay;
    int maximize;
} dl_adagrad_args;

/* buf: momentum buffer (NULL when momentum == 0). */
void dl_sgd_f32(float *p, const float *g, float *buf, size_t n, const dl_sgd_args *a);
void dl_sgd_f64(double *p, const double *g, double *buf, size_t n, const dl_sgd_args *a);

/* m, v: first and second moments; vmax: running max of v (amsgrad) or NULL. */
void dl_adam_f32(float *p, const float *g, float *m, float *v, float *vmax, size_t n,
                 const dl_adam_args *a);
void dl_adam_f64(double *p, const double *g, double *m, double *v, double *vmax, size_t n,
                 const dl_adam_args *a);

/* sq: square average; gavg: gradient average (centered) or NULL; buf: momentum or NULL. */
void dl_rmsprop_f32(float *p, const float *g, float *sq, float *gavg, float *buf, size_t n,
                    const dl_rmsprop_args *a);
void dl_rmsprop_f64(double *p, const double *g, double *sq, double *gavg, double *buf,
                    size_t n, const dl_rmsprop_args *a);

/* sum: accumulated squared gradients. */
void dl_adagrad_f32(float *p, const float *g, float *sum, size_t n, const dl_adagrad_args *a);
void dl_adagrad_f64(double *p, const double *g, double *sum, size_t n,
                    const dl_adagrad_args *a);

/* Sum of squares accumulated in double (for gradient-norm clipping). */
double dl_sumsq_f32(const float *x, size_t n);
double dl_sumsq_f64(const double *x, size_t n);

#endif
