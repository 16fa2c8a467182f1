/* LayerNorm / RMSNorm row kernels, float32, one copy per ISA (see layernorm_kernels.h).
 * Rows are short enough (hundreds to thousands) to stay in L1 across the passes. */
#include <math.h>

#include "dlcore/layernorm.h"
#include "simd.h"
#include "layernorm_kernels.h"

static float sum_f32(const float *x, size_t n)
{
    vf a0 = vf_zero(), a1 = vf_zero();
    size_t i = 0;
    for (; i + 2 * DL_VF_LEN <= n; i += 2 * DL_VF_LEN) {
        a0 = vf_add(a0, vf_loadu(x + i));
        a1 = vf_add(a1, vf_loadu(x + i + DL_VF_LEN));
    }
    for (; i + DL_VF_LEN <= n; i += DL_VF_LEN) a0 = vf_add(a0, vf_loadu(x + i));
    float s = vf_reduce_add(vf_add(a0, a1));
    for (; i < n; i++) s += x[i];
    return s;
}

/* sum (x - m)^2 into *s2 and sum (x - m) into *s1: the second is the corrected two-pass
 * algorithm's term, which recovers the rounding of m (so a row of equal values, or of one
 * value, gets its mean exactly and normalizes to exactly zero). */
static void sumsq_f32(const float *x, size_t n, float m, float *s1, float *s2)
{
    vf vm = vf_set1(m), a0 = vf_zero(), a1 = vf_zero(), d_0 = vf_zero(), d_1 = vf_zero();
    size_t i = 0;
    for (; i + 2 * DL_VF_LEN <= n; i += 2 * DL_VF_LEN) {
        vf d0 = vf_sub(vf_loadu(x + i), vm), d1 = vf_sub(vf_loadu(x + i + DL_VF_LEN), vm);
        a0 = vf_fma(d0, d0, a0);
        a1 = vf_fma(d1, d1, a1);
        d_0 = vf_add(d_0, d0);
        d_1 = vf_add(d_1, d1);
    }
    for (; i + DL_VF_LEN <= n; i += DL_VF_LEN) {
        vf d0 = vf_sub(vf_loadu(x + i), vm);
        a0 = vf_fma(d0, d0, a0);
        d_0 = vf_add(d_0, d0);
    }
    float s = vf_reduce_add(vf_add(a0, a1)), t = vf_reduce_add(vf_add(d_0, d_1));
    for (; i < n; i++) {
        s += (x[i] - m) * (x[i] - m);
        t += x[i] - m;
    }
    *s1 = t;
    *s2 = s;
}

/* The rare row whose squared deviations overflow float32 (|x - m| above ~1e19) but whose
 * statistics are representable: mean and 1/std again in double, where they do not. */
static void row_stats_f64(const float *x, size_t n, float eps, int rms, float *m, float *rs)
{
    double mu = 0.0, ss = 0.0;
    if (!rms) {
        for (size_t i = 0; i < n; i++) mu += x[i];
        mu /= (double)n;
    }
    for (size_t i = 0; i < n; i++) ss += ((double)x[i] - mu) * ((double)x[i] - mu);
    *m = (float)mu;
    *rs = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
}

static void ln_fwd_rows(size_t r0, size_t r1, size_t n, const float *x,
                        const float *gamma, const float *beta, float eps, int rms,
                        float *y, float *mean, float *rstd)
{
    for (size_t r = r0; r < r1; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float m = rms ? 0.0f : sum_f32(xr, n) / (float)n, s1, s2;
        sumsq_f32(xr, n, m, &s1, &s2);
        float var = s2 / (float)n;
        if (!rms) {
            float c = s1 / (float)n;
            m += c;
            var -= c * c;
            if (var < 0.0f) var = 0.0f; /* rounding; a NaN stays NaN */
        }
        float rs = 1.0f / sqrtf(var + eps);
        if (isinf(var) && isfinite(m)) row_stats_f64(xr, n, eps, rms, &m, &rs);
        if (mean) mean[r] = m;
        if (rstd) rstd[r] = rs;
        /* y = (x - m) * rs, then the affine part.  Not x * rs - m * rs in one fma: when
         * x is close to m (a row of one element, or of equal values) the two rounded
         * products cancel to noise of |x| * rs * eps, far above float32's tolerance. */
        vf va = vf_set1(rs), vm = vf_set1(m);
        size_t i = 0;
        for (; i + DL_VF_LEN <= n; i += DL_VF_LEN) {
            vf t = vf_mul(vf_sub(vf_loadu(xr + i), vm), va);
            if (gamma) t = vf_mul(t, vf_loadu(gamma + i));
            if (beta) t = vf_add(t, vf_loadu(beta + i));
            vf_storeu(yr + i, t);
        }
        for (; i < n; i++) {
            float t = (xr[i] - m) * rs;
            if (gamma) t *= gamma[i];
            if (beta) t += beta[i];
            yr[i] = t;
        }
    }
}

/* dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma, xhat = (x - mean) * rstd;
 * dgamma += dy * xhat, dbeta += dy (caller's per-thread partials). */
static void ln_bwd_rows(size_t r0, size_t r1, size_t n, const float *x,
                        const float *gamma, const float *mean, const float *rstd,
                        const float *dy, float *dx, float *dgamma, float *dbeta,
                        int rms)
{
    for (size_t r = r0; r < r1; r++) {
        const float *xr = x + r * n, *gr = dy + r * n;
        float *dxr = dx + r * n;
        float m = rms ? 0.0f : mean[r], rs = rstd[r];
        vf vm = vf_set1(m), vr = vf_set1(rs);
        vf sg = vf_zero(), sgx = vf_zero();
        float sgs = 0.0f, sgxs = 0.0f;
        size_t i = 0;
        /* g = dy * gamma is stored in dx for the second pass: that pass then subtracts
         * mean(g) from the very values it was summed from (a product recomputed there could
         * be fused into an fma, unrounded, and g - mean(g) would not cancel to 0 for one
         * element or equal ones). */
        for (; i + DL_VF_LEN <= n; i += DL_VF_LEN) {
            vf xh = vf_mul(vf_sub(vf_loadu(xr + i), vm), vr);
            vf dyv = vf_loadu(gr + i);
            vf g = gamma ? vf_mul(dyv, vf_loadu(gamma + i)) : dyv;
            vf_storeu(dxr + i, g);
            sg = vf_add(sg, g);
            sgx = vf_fma(g, xh, sgx);
            if (dgamma) vf_storeu(dgamma + i, vf_fma(dyv, xh, vf_loadu(dgamma + i)));
            if (dbeta) vf_storeu(dbeta + i, vf_add(vf_loadu(dbeta + i), dyv));
        }
        for (; i < n; i++) {
            float xh = (xr[i] - m) * rs, g = gamma ? gr[i] * gamma[i] : gr[i];
            dxr[i] = g;
            sgs += g;
            sgxs += g * xh;
            if (dgamma) dgamma[i] += gr[i] * xh;
            if (dbeta) dbeta[i] += gr[i];
        }
        float mg = (vf_reduce_add(sg) + sgs) / (float)n;
        float mgx = (vf_reduce_add(sgx) + sgxs) / (float)n;
        if (rms) mg = 0.0f;
        vf vmg = vf_set1(mg), vmgx = vf_set1(mgx);
        for (i = 0; i + DL_VF_LEN <= n; i += DL_VF_LEN) {
            vf xh = vf_mul(vf_sub(vf_loadu(xr + i), vm), vr);
            vf g = vf_loadu(dxr + i);
            vf t = vf_sub(vf_sub(g, vmg), vf_mul(xh, vmgx));
            vf_storeu(dxr + i, vf_mul(t, vr));
        }
        for (; i < n; i++) {
            float xh = (xr[i] - m) * rs, g = dxr[i];
            dxr[i] = (g - mg - xh * mgx) * rs;
        }
    }
}

const layernorm_kernels_t DL_ISA_FN(layernorm_kernels) = {ln_fwd_rows, ln_bwd_rows};
