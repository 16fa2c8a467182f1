/* Activations and softmax: the float32 kernels through the ISA's table (act_simd.c) and the
 * float64 kernels, plain scalar C on libm (float64 exists for finite-difference gradient checks,
 * so it favours accuracy over speed). */
#include <math.h>
#include "dlcore/act.h"
#include "dlcore/runtime.h"
#include "act_kernels.h"

enum { ACT64_GRAIN = 16384, SM64_GRAIN = 16384 };

int dl_act_bwd_uses_output(int kind)
{
    switch (kind) {
    case DL_AF_RELU: case DL_AF_SIGMOID: case DL_AF_TANH: return 1;
    default: return (kind >= 0 && kind < DL_AF_COUNT) ? 0 : -1;
    }
}

int dl_act_fwd_f32(int kind, const float *x, float *y, size_t n, float a, float b, float c)
{
    return act_kernels()->fwd(kind, x, y, n, a, b, c);
}

int dl_silu_mul_f32(const float *gu, size_t ld, size_t rows, size_t F, float *out)
{
    if (rows > 0 && ld < 2 * F) return -1;
    if (rows == 0 || F == 0) return 0;
    act_kernels()->silu_mul(gu, ld, rows, F, out);
    return 0;
}

int dl_act_bwd_f32(int kind, const float *x, const float *y, const float *gy, float *gx, size_t n,
                   float a, float b, float c)
{
    return act_kernels()->bwd(kind, x, y, gy, gx, n, a, b, c);
}

void dl_softmax_fwd_f32(const float *x, float *y, size_t outer, size_t dim, size_t inner, int log_)
{
    act_kernels()->softmax_fwd(x, y, outer, dim, inner, log_);
}

void dl_softmax_bwd_f32(const float *y, const float *gy, float *gx, size_t outer, size_t dim,
                        size_t inner, int log_)
{
    act_kernels()->softmax_bwd(y, gy, gx, outer, dim, inner, log_);
}

/* ---- float64 ------------------------------------------------------------------------------- */
static const double K_SQRT1_2 = 0.70710678118654752440;
static const double K_INV_SQRT_2PI = 0.39894228040143267794;
static const double K_SQRT_2_PI = 0.79788456080286535588;

static double d_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double d_softplus1(double v) { return (v > 0 ? v : 0.0) + log1p(exp(-fabs(v))); }
static double d_phi(double x) { return 0.5 * erfc(-x * K_SQRT1_2); }
static double d_gelu_tanh_u(double x) { return K_SQRT_2_PI * (x + 0.044715 * x * x * x); }

static double d_fwd(int kind, double x, double a, double b, double c)
{
    switch (kind) {
    case DL_AF_RELU: return x > 0 ? x : (x != x ? x : 0.0);
    case DL_AF_LEAKY_RELU: return x > 0 ? x : x * a;
    case DL_AF_SIGMOID: return d_sigmoid(x);
    case DL_AF_TANH: return tanh(x);
    case DL_AF_GELU: return x * d_phi(x);
    case DL_AF_GELU_TANH: return 0.5 * x * (1.0 + tanh(d_gelu_tanh_u(x)));
    case DL_AF_SILU: return x * d_sigmoid(x);
    case DL_AF_ELU: return x > 0 ? b * x : a * b * expm1(c * x);
    case DL_AF_SOFTPLUS: return a * x > b ? x : d_softplus1(a * x) / a;
    case DL_AF_HARDTANH: return x != x ? x : (x < a ? a : (x > b ? b : x));
    case DL_AF_HARDSWISH: return x != x ? x : x * fmin(fmax(x + 3.0, 0.0), 6.0) / 6.0;
    case DL_AF_HARDSIGMOID: return x != x ? x : fmin(fmax(x + 3.0, 0.0), 6.0) / 6.0;
    case DL_AF_MISH: return x * tanh(d_softplus1(x));
    default: return 0.0;
    }
}

static double d_bwd(int kind, double x, double y, double g, double a, double b, double c)
{
    switch (kind) {
    case DL_AF_RELU: return y <= 0 ? 0.0 : g;
    case DL_AF_LEAKY_RELU: return x > 0 ? g : g * a;
    case DL_AF_SIGMOID: return g * (1.0 - y) * y;
    case DL_AF_TANH: return g * (1.0 - y * y);
    case DL_AF_GELU: return g * (d_phi(x) + x * K_INV_SQRT_2PI * exp(-0.5 * x * x));
    case DL_AF_GELU_TANH: {
        double t = tanh(d_gelu_tanh_u(x));
        double du = K_SQRT_2_PI * (1.0 + 3.0 * 0.044715 * x * x);
        return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du);
    }
    case DL_AF_SILU: {
        double s = d_sigmoid(x);
        return g * s * (1.0 + x * (1.0 - s));
    }
    case DL_AF_ELU: return x <= 0 ? g * a * b * c * exp(c * x) : g * b;
    case DL_AF_SOFTPLUS: return a * x > b ? g : g * d_sigmoid(a * x);
    case DL_AF_HARDTANH: return (x <= a || x >= b) ? 0.0 : g;
    case DL_AF_HARDSWISH: return x <= -3.0 ? 0.0 : (x < 3.0 ? g * (x / 3.0 + 0.5) : g);
    case DL_AF_HARDSIGMOID: return (x > -3.0 && x < 3.0) ? g / 6.0 : 0.0;
    case DL_AF_MISH: {
        double t = tanh(d_softplus1(x));
        return g * (t + x * d_sigmoid(x) * (1.0 - t * t));
    }
    default: return 0.0;
    }
}

int dl_act_fwd_f64(int kind, const double *x, double *y, size_t n, double a, double b, double c)
{
    if (kind < 0 || kind >= DL_AF_COUNT) return -1;
    int nt = dl_threads_for(n, ACT64_GRAIN);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (size_t i = 0; i < n; i++) y[i] = d_fwd(kind, x[i], a, b, c);
    return 0;
}

int dl_act_bwd_f64(int kind, const double *x, const double *y, const double *gy, double *gx,
                   size_t n, double a, double b, double c)
{
    int uses_y = dl_act_bwd_uses_output(kind);
    if (uses_y < 0) return -1;
    int nt = dl_threads_for(n, ACT64_GRAIN);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (size_t i = 0; i < n; i++) {
        double xv = uses_y ? 0.0 : x[i], yv = uses_y ? y[i] : 0.0;
        gx[i] = d_bwd(kind, xv, yv, gy[i], a, b, c);
    }
    return 0;
}

/* One (dim, inner) block, column j: elements x[d * inner + j]. */
static void softmax64_col(const double *x, double *y, size_t dim, size_t inner, size_t j, int log_)
{
    double m = -INFINITY;
    int nan = 0;
    for (size_t d = 0; d < dim; d++) {
        double v = x[d * inner + j];
        if (v > m) m = v;
        nan |= v != v;
    }
    if (nan) m = NAN;
    double s = 0.0;
    for (size_t d = 0; d < dim; d++) {
        double e = exp(x[d * inner + j] - m);
        if (!log_) y[d * inner + j] = e;
        s += e;
    }
    if (!log_) {
        double inv = 1.0 / s;
        for (size_t d = 0; d < dim; d++) y[d * inner + j] *= inv;
    } else {
        double ls = log(s);  /* (x - m) - log s keeps x near a huge m exact */
        for (size_t d = 0; d < dim; d++) y[d * inner + j] = (x[d * inner + j] - m) - ls;
    }
}

void dl_softmax_fwd_f64(const double *x, double *y, size_t outer, size_t dim, size_t inner,
                        int log_)
{
    if (outer == 0 || dim == 0 || inner == 0) return;
    size_t tasks = outer * inner;
    int nt = dl_threads_for(tasks * dim, SM64_GRAIN);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (size_t t = 0; t < tasks; t++) {
        size_t o = t / inner, j = t % inner;
        softmax64_col(x + o * dim * inner, y + o * dim * inner, dim, inner, j, log_);
    }
}

void dl_softmax_bwd_f64(const double *y, const double *gy, double *gx, size_t outer, size_t dim,
                        size_t inner, int log_)
{
    if (outer == 0 || dim == 0 || inner == 0) return;
    size_t tasks = outer * inner;
    int nt = dl_threads_for(tasks * dim, SM64_GRAIN);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (size_t t = 0; t < tasks; t++) {
        size_t base = (t / inner) * dim * inner + t % inner;
        double s = 0.0;
        for (size_t d = 0; d < dim; d++)
            s += log_ ? gy[base + d * inner] : gy[base + d * inner] * y[base + d * inner];
        for (size_t d = 0; d < dim; d++) {
            size_t o = base + d * inner;
            gx[o] = log_ ? gy[o] - exp(y[o]) * s : y[o] * (gy[o] - s);
        }
    }
}
