/* Losses: the float32 kernels through the ISA's table (loss_simd.c), NLL (pure indexing, no SIMD
 * to gain), and the float64 kernels in scalar C (they exist for gradient checks). */
#include <math.h>
#include <string.h>
#include "dlcore/loss.h"
#include "dlcore/runtime.h"
#include "loss_kernels.h"

enum { CE64_GRAIN = 16384, PL64_GRAIN = 16384, NLL_GRAIN = 65536 };

int64_t dl_ce_fwd_f32(const float *x, const int64_t *target, const float *weight, size_t N,
                      size_t C, int64_t ignore_index, float smoothing, float *loss, float *lse,
                      double *sum_loss, double *sum_weight)
{
    return loss_kernels()->ce_fwd(x, target, weight, N, C, ignore_index, smoothing, loss, lse,
                                  sum_loss, sum_weight);
}

void dl_ce_bwd_f32(const float *x, const int64_t *target, const float *weight, const float *lse,
                   size_t N, size_t C, int64_t ignore_index, float smoothing, const float *g,
                   float gscale, float *gx)
{
    loss_kernels()->ce_bwd(x, target, weight, lse, N, C, ignore_index, smoothing, g, gscale, gx);
}

void dl_ce_prob_fwd_f32(const float *x, const float *q, const float *weight, size_t N, size_t C,
                        float smoothing, float *loss, float *lse, double *sum_loss)
{
    loss_kernels()->ce_prob_fwd(x, q, weight, N, C, smoothing, loss, lse, sum_loss);
}

void dl_ce_prob_bwd_f32(const float *x, const float *q, const float *weight, const float *lse,
                        size_t N, size_t C, float smoothing, const float *g, float gscale,
                        float *gx)
{
    loss_kernels()->ce_prob_bwd(x, q, weight, lse, N, C, smoothing, g, gscale, gx);
}

int dl_ploss_fwd_f32(int kind, const float *x, const float *t, const float *w, const float *pw,
                     size_t n, float param, float *out, double *sum)
{
    return loss_kernels()->ploss_fwd(kind, x, t, w, pw, n, param, out, sum);
}

int dl_ploss_bwd_f32(int kind, const float *x, const float *t, const float *w, const float *pw,
                     size_t n, float param, const float *g, float gscale, float *gx)
{
    return loss_kernels()->ploss_bwd(kind, x, t, w, pw, n, param, g, gscale, gx);
}

/* ---- NLL (float32 and float64) -------------------------------------------------------------- */
static int target_ok(int64_t t, size_t C, int64_t ignore_index)
{
    return t != ignore_index && t >= 0 && t < (int64_t)C;
}

#define DL_TEMPLATE "loss_nll_impl.h"
#include "each_dtype.h"

/* ---- cross-entropy, float64 ------------------------------------------------------------------ */
static double row_lse64(const double *x, size_t C, double *m_out)
{
    double m = -INFINITY;
    int nan = 0;
    for (size_t c = 0; c < C; c++) {
        if (x[c] > m) m = x[c];
        nan |= x[c] != x[c];
    }
    if (nan) m = NAN;
    double s = 0.0;
    for (size_t c = 0; c < C; c++) s += exp(x[c] - m);
    *m_out = m;
    return log(s);
}

static double weight_total64(const double *w, size_t C)
{
    if (!w) return (double)C;
    double s = 0.0;
    for (size_t c = 0; c < C; c++) s += w[c];
    return s;
}

int64_t dl_ce_fwd_f64(const double *x, const int64_t *target, const double *weight, size_t N,
                      size_t C, int64_t ignore_index, double smoothing, double *loss, double *lse,
                      double *sum_loss, double *sum_weight)
{
    const double W = weight_total64(weight, C), eps = smoothing;
    double tl = 0.0, tw = 0.0;
    int64_t bad = INT64_MAX;
    int nt = dl_threads_for(N * C, CE64_GRAIN);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1) \
    reduction(+ : tl, tw) reduction(min : bad)
    for (size_t i = 0; i < N; i++) {
        int64_t t = target[i];
        if (!target_ok(t, C, ignore_index)) {
            if (t != ignore_index && (int64_t)i < bad) bad = (int64_t)i;
            if (loss) loss[i] = 0.0;
            if (lse) lse[2 * i] = lse[2 * i + 1] = 0.0;
            continue;
        }
        const double *xi = x + i * C;
        double m, ls = row_lse64(xi, C, &m);
        double wt = weight ? weight[t] : 1.0;
        double l = (1.0 - eps) * wt * ((m - xi[t]) + ls);
        if (eps != 0.0) {
            double sd = 0.0;
            for (size_t c = 0; c < C; c++) sd += (weight ? weight[c] : 1.0) * (xi[c] - m);
            l += eps / (double)C * (W * ls - sd);
        }
        if (loss) loss[i] = l;
        if (lse) lse[2 * i] = m, lse[2 * i + 1] = ls;
        tl += l;
        tw += wt;
    }
    *sum_loss = tl;
    *sum_weight = tw;
    return bad == INT64_MAX ? -1 : bad;
}

void dl_ce_bwd_f64(const double *x, const int64_t *target, const double *weight,
                   const double *lse, size_t N, size_t C, int64_t ignore_index, double smoothing,
                   const double *g, double gscale, double *gx)
{
    const double W = weight_total64(weight, C), eps = smoothing;
    int nt = dl_threads_for(N * C, CE64_GRAIN);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (size_t i = 0; i < N; i++) {
        int64_t t = target[i];
        double *gi = gx + i * C;
        if (!target_ok(t, C, ignore_index)) {
            memset(gi, 0, C * sizeof(double));
            continue;
        }
        const double *xi = x + i * C;
        double sc = (g ? g[i] : 1.0) * gscale, wt = weight ? weight[t] : 1.0;
        double A = sc * ((1.0 - eps) * wt + eps * W / (double)C), B = sc * eps / (double)C;
        for (size_t c = 0; c < C; c++)
            gi[c] = exp((xi[c] - lse[2 * i]) - lse[2 * i + 1]) * A - B * (weight ? weight[c] : 1.0);
        gi[t] -= sc * (1.0 - eps) * wt;
    }
}

void dl_ce_prob_fwd_f64(const double *x, const double *q, const double *weight, size_t N,
                        size_t C, double smoothing, double *loss, double *lse, double *sum_loss)
{
    const double eps = smoothing;
    double tl = 0.0;
    int nt = dl_threads_for(N * C, CE64_GRAIN);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1) reduction(+ : tl)
    for (size_t i = 0; i < N; i++) {
        const double *xi = x + i * C, *qi = q + i * C;
        double m, ls = row_lse64(xi, C, &m), l = 0.0;
        for (size_t c = 0; c < C; c++) {
            double wq = ((1.0 - eps) * qi[c] + eps / (double)C) * (weight ? weight[c] : 1.0);
            l += wq * ((m - xi[c]) + ls);
        }
        if (loss) loss[i] = l;
        if (lse) lse[2 * i] = m, lse[2 * i + 1] = ls;
        tl += l;
    }
    *sum_loss = tl;
}

void dl_ce_prob_bwd_f64(const double *x, const double *q, const double *weight,
                        const double *lse, size_t N, size_t C, double smoothing, const double *g,
                        double gscale, double *gx)
{
    const double eps = smoothing;
    int nt = dl_threads_for(N * C, CE64_GRAIN);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (size_t i = 0; i < N; i++) {
        const double *xi = x + i * C, *qi = q + i * C;
        double sc = (g ? g[i] : 1.0) * gscale, sq = 0.0;
        for (size_t c = 0; c < C; c++)
            sq += ((1.0 - eps) * qi[c] + eps / (double)C) * (weight ? weight[c] : 1.0);
        for (size_t c = 0; c < C; c++) {
            double wq = ((1.0 - eps) * qi[c] + eps / (double)C) * (weight ? weight[c] : 1.0);
            gx[i * C + c] = sc * (exp((xi[c] - lse[2 * i]) - lse[2 * i + 1]) * sq - wq);
        }
    }
}

/* ---- pointwise, float64 ---------------------------------------------------------------------- */
static double softplus64(double v) { return (v > 0 ? v : 0.0) + log1p(exp(-fabs(v))); }

static double pl_fwd64(int kind, double x, double t, double w, double pw, double prm)
{
    double d = x - t, ad = fabs(d);
    switch (kind) {
    case DL_PL_MSE: return d * d;
    case DL_PL_L1: return ad;
    case DL_PL_SMOOTH_L1: return ad < prm ? 0.5 * d * d / prm : ad - 0.5 * prm;
    case DL_PL_HUBER: return ad < prm ? 0.5 * d * d : prm * (ad - 0.5 * prm);
    case DL_PL_BCE: {
        double lx = log(x), l1x = log1p(-x);
        lx = lx < -100.0 ? -100.0 : lx;
        l1x = l1x < -100.0 ? -100.0 : l1x;
        return -w * (t * lx + (1.0 - t) * l1x);
    }
    case DL_PL_BCE_LOGITS: return w * ((1.0 - t) * x + (1.0 + (pw - 1.0) * t) * softplus64(-x));
    case DL_PL_KL: return (t == 0.0 ? 0.0 : t * log(t)) - t * x;
    case DL_PL_KL_LOG_TARGET: return exp(t) * (t - x);
    default: return 0.0;
    }
}

static double pl_bwd64(int kind, double x, double t, double w, double pw, double prm)
{
    double d = x - t;
    switch (kind) {
    case DL_PL_MSE: return 2.0 * d;
    case DL_PL_L1: return d > 0 ? 1.0 : (d < 0 ? -1.0 : d);
    case DL_PL_SMOOTH_L1: return d <= -prm ? -1.0 : (d >= prm ? 1.0 : d / prm);
    case DL_PL_HUBER: return d <= -prm ? -prm : (d >= prm ? prm : d);
    case DL_PL_BCE: {
        double den = (1.0 - x) * x;
        return w * d / (den > 1e-12 ? den : 1e-12);
    }
    case DL_PL_BCE_LOGITS:
        return w * ((1.0 + (pw - 1.0) * t) / (1.0 + exp(-x)) - pw * t);
    case DL_PL_KL: return -t;
    case DL_PL_KL_LOG_TARGET: return -exp(t);
    default: return 0.0;
    }
}

int dl_ploss_fwd_f64(int kind, const double *x, const double *t, const double *w,
                     const double *pw, size_t n, double param, double *out, double *sum)
{
    *sum = 0.0;
    if (kind < 0 || kind >= DL_PL_COUNT) return -1;
    double tot = 0.0;
    int bad = 0;
    int nt = dl_threads_for(n, PL64_GRAIN);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1) reduction(+ : tot) \
    reduction(| : bad)
    for (size_t i = 0; i < n; i++) {
        if (kind == DL_PL_BCE && (x[i] < 0.0 || x[i] > 1.0)) bad |= 1;
        double l = pl_fwd64(kind, x[i], t[i], w ? w[i] : 1.0, pw ? pw[i] : 1.0, param);
        if (out) out[i] = l;
        tot += l;
    }
    *sum = tot;
    return bad;
}

int dl_ploss_bwd_f64(int kind, const double *x, const double *t, const double *w,
                     const double *pw, size_t n, double param, const double *g, double gscale,
                     double *gx)
{
    if (kind < 0 || kind >= DL_PL_COUNT) return -1;
    int nt = dl_threads_for(n, PL64_GRAIN);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (size_t i = 0; i < n; i++)
        gx[i] = pl_bwd64(kind, x[i], t[i], w ? w[i] : 1.0, pw ? pw[i] : 1.0, param) *
                (g ? g[i] : 1.0) * gscale;
    return 0;
}
