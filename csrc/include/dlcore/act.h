/* Activations and softmax: elementwise forward/backward kernels and softmax / log-softmax over
 * one axis, float32 (SIMD, per-ISA copies in act_simd.c) and float64 (scalar, act.c).
 *
 * Every kernel reads and writes C-contiguous buffers of `n` elements; an output may alias its
 * own input (y == x, gx == gy) because each element is read before it is written.  Work above
 * a size threshold is split over the engine's OpenMP threads. */
#ifndef DLCORE_ACT_H
#define DLCORE_ACT_H

#include <stddef.h>

/* Named DL_AF_* so they do not collide with gemm.h's fused-epilogue dl_act_t. */
typedef enum {
    DL_AF_RELU = 0,        /* max(x, 0)                                        bwd from y */
    DL_AF_LEAKY_RELU = 1,  /* x > 0 ? x : a*x              a = negative_slope  bwd from x */
    DL_AF_SIGMOID = 2,     /* 1 / (1 + e^-x)                                   bwd from y */
    DL_AF_TANH = 3,        /*                                                  bwd from y */
    DL_AF_GELU = 4,        /* x * Phi(x), exact (erf) form                     bwd from x */
    DL_AF_GELU_TANH = 5,   /* 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))    bwd from x */
    DL_AF_SILU = 6,        /* x * sigmoid(x)                                   bwd from x */
    DL_AF_ELU = 7,         /* b * (x > 0 ? x : a*(e^(c*x) - 1)): elu (a,1,1), selu, celu (a,1,1/a) */
    DL_AF_SOFTPLUS = 8,    /* a*x > b ? x : log(1 + e^(a*x)) / a   a = beta, b = threshold */
    DL_AF_HARDTANH = 9,    /* clamp(x, a, b); relu6 = hardtanh(0, 6)          bwd from x */
    DL_AF_HARDSWISH = 10,  /* x * relu6(x + 3) / 6                             bwd from x */
    DL_AF_HARDSIGMOID = 11,/* relu6(x + 3) / 6                                 bwd from x */
    DL_AF_MISH = 12,       /* x * tanh(softplus(x))                            bwd from x */
    DL_AF_COUNT = 13
} dl_actfn_t;

/* 1 if the backward of `kind` reads the forward output y, 0 if it reads the input x, -1 if
 * `kind` is not a valid kind. */
int dl_act_bwd_uses_output(int kind);

/* y = f(x).  Returns 0, or -1 for an unknown kind (nothing written). */
int dl_act_fwd_f32(int kind, const float *x, float *y, size_t n, float a, float b, float c);
int dl_act_fwd_f64(int kind, const double *x, double *y, size_t n, double a, double b, double c);
/* out[r, i] = silu(gu[r, i]) * gu[r, F + i] for r < rows, i < F, gu's rows ld apart: SwiGLU
 * over a stacked gate|up row (the same float32 roundings as SiLU, then the product).  Returns
 * 0, or -1 when ld < 2 F. */
int dl_silu_mul_f32(const float *gu, size_t ld, size_t rows, size_t F, float *out);
/* gx = gy * f'(x); x or y (see dl_act_bwd_uses_output) may be NULL when not read. */
int dl_act_bwd_f32(int kind, const float *x, const float *y, const float *gy, float *gx, size_t n,
                   float a, float b, float c);
int dl_act_bwd_f64(int kind, const double *x, const double *y, const double *gy, double *gx,
                   size_t n, double a, double b, double c);

/* Softmax (log_ = 0) or log-softmax (log_ = 1) over the middle axis of an array of shape
 * (outer, dim, inner); inner == 1 is the common last-axis case (contiguous rows).  A row whose
 * entries are all -inf gives NaN, as in PyTorch; NaN anywhere in a row makes the row NaN. */
void dl_softmax_fwd_f32(const float *x, float *y, size_t outer, size_t dim, size_t inner, int log_);
void dl_softmax_fwd_f64(const double *x, double *y, size_t outer, size_t dim, size_t inner,
                        int log_);
/* From the forward output y: softmax gx = y * (gy - sum(gy * y)); log-softmax
 * gx = gy - exp(y) * sum(gy).  gx may alias gy. */
void dl_softmax_bwd_f32(const float *y, const float *gy, float *gx, size_t outer, size_t dim,
                        size_t inner, int log_);
void dl_softmax_bwd_f64(const double *y, const double *gy, double *gx, size_t outer, size_t dim,
                        size_t inner, int log_);

#endif
