/* Fused optimizer updates, one copy per ISA (see setup.py).  Single-threaded over [0, n);
 * csrc/optim.c splits the buffers over threads.
 *
 * float32: written once against the `vf` vocabulary; the last n % DL_VF_LEN elements go
 * through the same vector body on small zero-padded copies, so the tail computes exactly
 * what the body would.  float64: plain loops the compiler vectorizes.
 *
 * Each body mirrors torch.optim's single-tensor code step by step (same operations in the
 * same order, scalars rounded to the buffer's precision as PyTorch does):
 *   lerp_(end, w):     w < 0.5 ? x + w*(end - x) : end - (end - x)*(1 - w)
 *   addcmul_(a, b, c): x + (c*a)*b          addcdiv_(a, b, c): x + c*(a/b)
 * Options that are off skip their operations entirely (weight_decay == 0 adds nothing), so
 * Inf and NaN in parameters behave as they do in PyTorch.
 */
#include <math.h>
#include <string.h>
#include "simd.h"
#include "optim_kernels.h"

static inline vf vneg(vf a) { return vf_mul(a, vf_set1(-1.0f)); }

/* x.lerp_(end, w) in PyTorch's two-sided form; small = (|w| < 0.5), wm = w or w - 1. */
static inline vf vlerp(vf x, vf end, vf w, int small)
{
    vf diff = vf_sub(end, x);
    return small ? vf_fma(w, diff, x) : vf_fma(w, diff, end);
}

static inline double dlerp(double x, double end, double w, int small)
{
    double diff = end - x;
    return small ? x + w * diff : end - diff * (1.0 - w);
}

/* Copies `len` (< DL_VF_LEN) floats into a zero-padded vector-sized scratch. */
static inline void pad_in(float *dst, const float *src, size_t len)
{
    memset(dst, 0, sizeof(float) * DL_VF_LEN);
    if (src) memcpy(dst, src, sizeof(float) * len);
}

static inline void pad_out(float *dst, const float *src, size_t len)
{
    if (dst) memcpy(dst, src, sizeof(float) * len);
}

/* The tail of a float32 update: from element i on, r (< DL_VF_LEN) elements of the gradient
 * into t[0] and of the nw state buffers w[k] (NULL: absent, read as zeros) into t[k + 1], each
 * a zero-padded vector; tail_out writes the state back. */
enum { TAIL_MAX = 5 };
static inline void tail_in(float t[][DL_VF_LEN], const float *g, float *const *w, int nw,
                           size_t i, size_t r)
{
    pad_in(t[0], g + i, r);
    for (int k = 0; k < nw; k++) pad_in(t[k + 1], w[k] ? w[k] + i : NULL, r);
}

static inline void tail_out(float *const *w, float t[][DL_VF_LEN], int nw, size_t i, size_t r)
{
    for (int k = 0; k < nw; k++) pad_out(w[k] ? w[k] + i : NULL, t[k + 1], r);
}

/* The gradient a step follows: g, negated when maximizing, plus wd * p under (coupled) weight
 * decay, as PyTorch adds it */
static inline vf vgrad(const float *g, vf pp, int maximize, int has_wd, vf wd)
{
    vf d = vf_loadu(g);
    if (maximize) d = vneg(d);
    if (has_wd) d = vf_fma(pp, wd, d);
    return d;
}

static inline double dgrad(double g, double pp, int maximize, int has_wd, double wd)
{
    double d = maximize ? -g : g;
    return has_wd ? d + wd * pp : d;
}

/* A running average of squares: avg * beta + (c * d) * d (addcmul_'s order) */
static inline vf vsq_avg(vf avg, vf beta, vf c, vf d)
{
    return vf_add(vf_mul(avg, beta), vf_mul(vf_mul(c, d), d));
}

static inline double dsq_avg(double avg, double beta, double c, double d)
{
    return avg * beta + (c * d) * d;
}

/* ------------------------------------------------------------------------------------ SGD */

typedef struct {
    vf lr_neg, momentum, one_m_damp, wd;
    int has_wd, has_mom, nesterov, maximize, first;
} sgd_c;

static inline void sgd_vec(float *p, const float *g, float *buf, const sgd_c *c)
{
    vf pp = vf_loadu(p);
    vf d = vgrad(g, pp, c->maximize, c->has_wd, c->wd);
    if (c->has_mom) {
        vf b;
        if (c->first) b = d;
        else b = vf_fma(d, c->one_m_damp, vf_mul(vf_loadu(buf), c->momentum));
        vf_storeu(buf, b);
        d = c->nesterov ? vf_fma(b, c->momentum, d) : b;
    }
    vf_storeu(p, vf_fma(d, c->lr_neg, pp));
}

static void sgd_f32(float *p, const float *g, float *buf, size_t n, const dl_sgd_args *a)
{
    sgd_c c;
    c.lr_neg = vf_set1((float)-a->lr);
    c.momentum = vf_set1((float)a->momentum);
    c.one_m_damp = vf_set1((float)(1.0 - a->dampening));
    c.wd = vf_set1((float)a->weight_decay);
    c.has_wd = a->weight_decay != 0.0;
    c.has_mom = a->momentum != 0.0 && buf != NULL;
    c.nesterov = a->nesterov;
    c.maximize = a->maximize;
    c.first = a->first;
    size_t i = 0;
    for (; i + DL_VF_LEN <= n; i += DL_VF_LEN)
        sgd_vec(p + i, g + i, c.has_mom ? buf + i : NULL, &c);
    if (i < n) {
        float t[TAIL_MAX][DL_VF_LEN], *w[2] = {p, c.has_mom ? buf : NULL};
        tail_in(t, g, w, 2, i, n - i);
        sgd_vec(t[1], t[0], t[2], &c);
        tail_out(w, t, 2, i, n - i);
    }
}

typedef struct {
    double lr_neg, mom, damp1, wd;
    int has_wd, nesterov, maximize, first;
} sgd_d;

/* One element; `has_mom` is a constant at each call site (see adam_f64_one).  On the first
 * step buf[i] is read but not used (the select takes d), so its content does not matter. */
static inline void sgd_f64_one(double *restrict p, const double *restrict g,
                               double *restrict buf, size_t i, const sgd_d *c, int has_mom)
{
    double d = dgrad(g[i], p[i], c->maximize, c->has_wd, c->wd);
    if (has_mom) {
        double b = c->first ? d : buf[i] * c->mom + d * c->damp1;
        buf[i] = b;
        d = c->nesterov ? d + c->mom * b : b;
    }
    p[i] = p[i] + d * c->lr_neg;
}

static void sgd_f64(double *restrict p, const double *restrict g, double *restrict buf,
                    size_t n, const dl_sgd_args *a)
{
    sgd_d c;
    c.lr_neg = -a->lr;
    c.mom = a->momentum;
    c.damp1 = 1.0 - a->dampening;
    c.wd = a->weight_decay;
    c.has_wd = a->weight_decay != 0.0;
    c.nesterov = a->nesterov;
    c.maximize = a->maximize;
    c.first = a->first;
    if (a->momentum != 0.0 && buf != NULL) {
        for (size_t i = 0; i < n; i++) sgd_f64_one(p, g, buf, i, &c, 1);
    } else {
        for (size_t i = 0; i < n; i++) sgd_f64_one(p, g, NULL, i, &c, 0);
    }
}

/* ----------------------------------------------------------------------------------- Adam */

typedef struct {
    vf decay, wd, w1, c2, beta2, bc2_sqrt, eps, step_neg;
    int has_wd, decoupled, small1, maximize, amsgrad;
} adam_c;

static inline void adam_vec(float *p, const float *g, float *m, float *v, float *vmax,
                            const adam_c *c)
{
    vf d = vf_loadu(g);
    vf pp = vf_loadu(p);
    if (c->maximize) d = vneg(d);
    if (c->has_wd) {
        if (c->decoupled) pp = vf_mul(pp, c->decay);
        else d = vf_fma(pp, c->wd, d);
    }
    vf mm = vlerp(vf_loadu(m), d, c->w1, c->small1);
    vf vv = vf_add(vf_mul(vf_loadu(v), c->beta2), vf_mul(vf_mul(c->c2, d), d));
    vf_storeu(m, mm);
    vf_storeu(v, vv);
    if (c->amsgrad) {
        vv = vf_max(vf_loadu(vmax), vv);  /* NaN in v wins (data second) */
        vf_storeu(vmax, vv);
    }
    vf denom = vf_add(vf_div(vf_sqrt(vv), c->bc2_sqrt), c->eps);
    vf_storeu(p, vf_fma(c->step_neg, vf_div(mm, denom), pp));
}

static void adam_f32(float *p, const float *g, float *m, float *v, float *vmax, size_t n,
                     const dl_adam_args *a)
{
    adam_c c;
    double w1 = 1.0 - a->beta1;
    c.small1 = fabs(w1) < 0.5;
    c.w1 = vf_set1(c.small1 ? (float)w1 : (float)w1 - 1.0f);
    c.decay = vf_set1((float)(1.0 - a->lr * a->weight_decay));
    c.wd = vf_set1((float)a->weight_decay);
    c.c2 = vf_set1((float)(1.0 - a->beta2));
    c.beta2 = vf_set1((float)a->beta2);
    c.bc2_sqrt = vf_set1((float)a->bc2_sqrt);
    c.eps = vf_set1((float)a->eps);
    c.step_neg = vf_set1((float)-a->step_size);
    c.has_wd = a->weight_decay != 0.0;
    c.decoupled = a->decoupled;
    c.maximize = a->maximize;
    c.amsgrad = vmax != NULL;
    size_t i = 0;
    for (; i + DL_VF_LEN <= n; i += DL_VF_LEN)
        adam_vec(p + i, g + i, m + i, v + i, c.amsgrad ? vmax + i : NULL, &c);
    if (i < n) {
        float tp[DL_VF_LEN], tg[DL_VF_LEN], tm[DL_VF_LEN], tv[DL_VF_LEN], tx[DL_VF_LEN];
        size_t r = n - i;
        float *xm = c.amsgrad ? vmax + i : NULL;
        pad_in(tp, p + i, r);
        pad_in(tg, g + i, r);
        pad_in(tm, m + i, r);
        pad_in(tv, v + i, r);
        pad_in(tx, xm, r);
        adam_vec(tp, tg, tm, tv, tx, &c);
        pad_out(p + i, tp, r);
        pad_out(m + i, tm, r);
        pad_out(v + i, tv, r);
        pad_out(xm, tx, r);
    }
}

typedef struct {
    double w1, c2, beta2, decay, wd, bc2, eps, step_neg;
    int small1, coupled_wd, decoupled_wd, maximize;
} adam_d;

/* One element; `amsgrad` is a constant at each call site, so each loop below has no
 * conditional memory access and the remaining option tests become selects (vectorizable). */
static inline void adam_f64_one(double *restrict p, const double *restrict g,
                                double *restrict m, double *restrict v, double *restrict vmax,
                                size_t i, const adam_d *c, int amsgrad)
{
    double pp = p[i];
    pp = c->decoupled_wd ? pp * c->decay : pp;
    double d = dgrad(g[i], pp, c->maximize, c->coupled_wd, c->wd);
    double mm = dlerp(m[i], d, c->w1, c->small1);
    double vv = dsq_avg(v[i], c->beta2, c->c2, d);
    m[i] = mm;
    v[i] = vv;
    if (amsgrad) {
        double x = vmax[i];
        vv = (vv > x || vv != vv) ? vv : x;
        vmax[i] = vv;
    }
    double denom = sqrt(vv) / c->bc2 + c->eps;
    p[i] = pp + c->step_neg * (mm / denom);
}

static void adam_f64(double *restrict p, const double *restrict g, double *restrict m,
                     double *restrict v, double *restrict vmax, size_t n,
                     const dl_adam_args *a)
{
    adam_d c;
    c.w1 = 1.0 - a->beta1;
    c.c2 = 1.0 - a->beta2;
    c.beta2 = a->beta2;
    c.small1 = fabs(c.w1) < 0.5;
    c.decay = 1.0 - a->lr * a->weight_decay;
    c.wd = a->weight_decay;
    c.bc2 = a->bc2_sqrt;
    c.eps = a->eps;
    c.step_neg = -a->step_size;
    c.coupled_wd = a->weight_decay != 0.0 && !a->decoupled;
    c.decoupled_wd = a->weight_decay != 0.0 && a->decoupled;
    c.maximize = a->maximize;
    if (vmax) {
        for (size_t i = 0; i < n; i++) adam_f64_one(p, g, m, v, vmax, i, &c, 1);
    } else {
        for (size_t i = 0; i < n; i++) adam_f64_one(p, g, m, v, NULL, i, &c, 0);
    }
}

/* -------------------------------------------------------------------------------- RMSprop */

typedef struct {
    vf lr_neg, alpha, c, w, eps, wd, momentum, minus1;
    int has_wd, centered, has_mom, small, maximize;
} rms_c;

static inline void rms_vec(float *p, const float *g, float *sq, float *gavg, float *buf,
                           const rms_c *c)
{
    vf pp = vf_loadu(p);
    vf d = vgrad(g, pp, c->maximize, c->has_wd, c->wd);
    vf s = vsq_avg(vf_loadu(sq), c->alpha, c->c, d);
    vf_storeu(sq, s);
    vf avg;
    if (c->centered) {
        vf ga = vlerp(vf_loadu(gavg), d, c->w, c->small);
        vf_storeu(gavg, ga);
        avg = vf_sqrt(vf_add(s, vf_mul(vf_mul(c->minus1, ga), ga)));
    } else {
        avg = vf_sqrt(s);
    }
    avg = vf_add(avg, c->eps);
    if (c->has_mom) {
        vf b = vf_add(vf_mul(vf_loadu(buf), c->momentum), vf_div(d, avg));
        vf_storeu(buf, b);
        vf_storeu(p, vf_fma(b, c->lr_neg, pp));
    } else {
        vf_storeu(p, vf_fma(c->lr_neg, vf_div(d, avg), pp));
    }
}

static void rmsprop_f32(float *p, const float *g, float *sq, float *gavg, float *buf,
                        size_t n, const dl_rmsprop_args *a)
{
    rms_c c;
    double w = 1.0 - a->alpha;
    c.small = fabs(w) < 0.5;
    c.w = vf_set1(c.small ? (float)w : (float)w - 1.0f);
    c.lr_neg = vf_set1((float)-a->lr);
    c.alpha = vf_set1((float)a->alpha);
    c.c = vf_set1((float)(1.0 - a->alpha));
    c.eps = vf_set1((float)a->eps);
    c.wd = vf_set1((float)a->weight_decay);
    c.momentum = vf_set1((float)a->momentum);
    c.minus1 = vf_set1(-1.0f);
    c.has_wd = a->weight_decay != 0.0;
    c.centered = a->centered && gavg != NULL;
    c.has_mom = a->momentum > 0.0 && buf != NULL;
    c.maximize = a->maximize;
    size_t i = 0;
    for (; i + DL_VF_LEN <= n; i += DL_VF_LEN)
        rms_vec(p + i, g + i, sq + i, c.centered ? gavg + i : NULL,
                c.has_mom ? buf + i : NULL, &c);
    if (i < n) {
        /* spelled out: through tail_in/tail_out gcc allocates this body's registers worse
         * (2.6% more instructions per element, counted by callgrind on AVX2) */
        float tp[DL_VF_LEN], tg[DL_VF_LEN], ts[DL_VF_LEN], ta[DL_VF_LEN], tb[DL_VF_LEN];
        size_t r = n - i;
        float *xa = c.centered ? gavg + i : NULL, *xb = c.has_mom ? buf + i : NULL;
        pad_in(tp, p + i, r);
        pad_in(tg, g + i, r);
        pad_in(ts, sq + i, r);
        pad_in(ta, xa, r);
        pad_in(tb, xb, r);
        rms_vec(tp, tg, ts, ta, tb, &c);
        pad_out(p + i, tp, r);
        pad_out(sq + i, ts, r);
        pad_out(xa, ta, r);
        pad_out(xb, tb, r);
    }
}

typedef struct {
    double lr_neg, alpha, c, w, eps, wd, mom;
    int small, has_wd, maximize;
} rms_d;

/* One element; `centered` and `has_mom` are constants at each call site (see adam_f64_one). */
static inline void rms_f64_one(double *restrict p, const double *restrict g,
                               double *restrict sq, double *restrict gavg,
                               double *restrict buf, size_t i, const rms_d *c, int centered,
                               int has_mom)
{
    double d = dgrad(g[i], p[i], c->maximize, c->has_wd, c->wd);
    double s = dsq_avg(sq[i], c->alpha, c->c, d);
    sq[i] = s;
    double avg;
    if (centered) {
        double ga = dlerp(gavg[i], d, c->w, c->small);
        gavg[i] = ga;
        avg = sqrt(s + (-1.0 * ga) * ga);
    } else {
        avg = sqrt(s);
    }
    avg = avg + c->eps;
    if (has_mom) {
        double b = buf[i] * c->mom + d / avg;
        buf[i] = b;
        p[i] = p[i] + b * c->lr_neg;
    } else {
        p[i] = p[i] + c->lr_neg * (d / avg);
    }
}

static void rmsprop_f64(double *restrict p, const double *restrict g,
                        double *restrict sq, double *restrict gavg,
                        double *restrict buf, size_t n, const dl_rmsprop_args *a)
{
    rms_d c;
    c.lr_neg = -a->lr;
    c.alpha = a->alpha;
    c.c = 1.0 - a->alpha;
    c.w = 1.0 - a->alpha;
    c.small = fabs(c.w) < 0.5;
    c.eps = a->eps;
    c.wd = a->weight_decay;
    c.mom = a->momentum;
    c.has_wd = a->weight_decay != 0.0;
    c.maximize = a->maximize;
    const int centered = a->centered && gavg != NULL, has_mom = a->momentum > 0.0 && buf != NULL;
    if (centered && has_mom) {
        for (size_t i = 0; i < n; i++) rms_f64_one(p, g, sq, gavg, buf, i, &c, 1, 1);
    } else if (centered) {
        for (size_t i = 0; i < n; i++) rms_f64_one(p, g, sq, gavg, NULL, i, &c, 1, 0);
    } else if (has_mom) {
        for (size_t i = 0; i < n; i++) rms_f64_one(p, g, sq, NULL, buf, i, &c, 0, 1);
    } else {
        for (size_t i = 0; i < n; i++) rms_f64_one(p, g, sq, NULL, NULL, i, &c, 0, 0);
    }
}

/* -------------------------------------------------------------------------------- Adagrad */

typedef struct {
    vf clr_neg, eps, wd;
    int has_wd, maximize;
} adagrad_c;

static inline void adagrad_vec(float *p, const float *g, float *sum, const adagrad_c *c)
{
    vf pp = vf_loadu(p);
    vf d = vgrad(g, pp, c->maximize, c->has_wd, c->wd);
    vf s = vf_add(vf_loadu(sum), vf_mul(d, d));
    vf_storeu(sum, s);
    vf std = vf_add(vf_sqrt(s), c->eps);
    vf_storeu(p, vf_fma(c->clr_neg, vf_div(d, std), pp));
}

static void adagrad_f32(float *p, const float *g, float *sum, size_t n,
                        const dl_adagrad_args *a)
{
    adagrad_c c;
    c.clr_neg = vf_set1((float)-a->clr);
    c.eps = vf_set1((float)a->eps);
    c.wd = vf_set1((float)a->weight_decay);
    c.has_wd = a->weight_decay != 0.0;
    c.maximize = a->maximize;
    size_t i = 0;
    for (; i + DL_VF_LEN <= n; i += DL_VF_LEN) adagrad_vec(p + i, g + i, sum + i, &c);
    if (i < n) {
        float t[TAIL_MAX][DL_VF_LEN], *w[2] = {p, sum};
        tail_in(t, g, w, 2, i, n - i);
        adagrad_vec(t[1], t[0], t[2], &c);
        tail_out(w, t, 2, i, n - i);
    }
}

static void adagrad_f64(double *restrict p, const double *restrict g,
                        double *restrict sum, size_t n, const dl_adagrad_args *a)
{
    const double clr_neg = -a->clr, eps = a->eps, wd = a->weight_decay;
    const int has_wd = wd != 0.0, maximize = a->maximize;
    for (size_t i = 0; i < n; i++) {
        double d = dgrad(g[i], p[i], maximize, has_wd, wd);
        double s = sum[i] + d * d;
        sum[i] = s;
        p[i] = p[i] + clr_neg * (d / (sqrt(s) + eps));
    }
}

/* ------------------------------------------------------------------------ sum of squares */

/* Squares summed in double: no float overflow for |x| > 1.8e19, and the error stays that of
 * a double sum however long the buffer is (the loop is memory-bound either way). */
static double sumsq_f32(const float *x, size_t n)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) {
        double v = (double)x[i];
        s += v * v;
    }
    return s;
}

static double sumsq_f64(const double *x, size_t n)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) s += x[i] * x[i];
    return s;
}

const optim_kernels_t DL_ISA_FN(optim_kernels) = {
    sgd_f32, sgd_f64, adam_f32, adam_f64, rmsprop_f32, rmsprop_f64, adagrad_f32, adagrad_f64,
    sumsq_f32, sumsq_f64};
