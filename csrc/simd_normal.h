/* The standard normal distribution on simd.h vectors: its lower tail Phi(-a) with the density's
 * Gaussian factor, and from them the exact (erf-based) GELU x Phi(x) and its slope
 * Phi(x) + x phi(x).  Header-only and inline, so any kernel family (activations, a GEMM
 * epilogue) can use it; it follows the ISA of the file that includes it.
 *
 * Phi(-a) = e^(-a^2/2) R(a) for a >= 0, with R(a) = Phi(-a) e^(a^2/2) (Mills' ratio over
 * sqrt(2 pi)) a degree 4/5 rational fitted here for least maximum relative error on [0, 16]
 * (7e-9 in exact arithmetic).  Computing the small side Phi(-|x|) keeps relative precision in
 * the negative tail, where 1 + erf(x / sqrt 2) would cancel; the large side is 1 - Phi(-|x|).
 * e^(-a^2/2) is 2^n e^r with e^r = 1 + r + r^2 q(r) as in vf_exp_poly; the reduction's first
 * step is one FMA of the exact product (-a/2) a and the exact n ln2_hi, so a^2 is never
 * rounded (a rounded a^2 would put a^2/2 ulp of error into the exponent, 7.5e-7 relative at
 * a = 5); the 2^n scale is AVX-512's scalef (gradual underflow to 0), elsewhere the exponent
 * field with a clamp.
 *
 * Error against double precision (tests/test_gelu_erf.py measures it on dense grids): GELU
 * within 4.3e-7 relative wherever it is a normal float (x > -13), tail included, and the slope
 * within 2.4e-7 of |Phi(x)| + |x phi(x)| (the erfc fit used before, with a^2 rounded into the
 * exponent, was 1.4e-5 off at x = -11.5).
 * NaN propagates; GELU(+inf) = +inf, GELU(-inf) = NaN (-inf * 0, as PyTorch gives);
 * GELU(x) = -0 for x below about -14.
 *
 * The generic (scalar) build uses libm's erfc/exp in double instead.
 */
#ifndef DLCORE_SIMD_NORMAL_H
#define DLCORE_SIMD_NORMAL_H

#include "simd.h"

/* inlined even where called several times in an unrolled loop: a call would reload every
 * constant and pass vectors through the stack */
#define DL_NORMAL_INLINE static inline __attribute__((always_inline))

#ifndef DL_VF_SCALAR
/* Phi(-a) for a in [0, 16] (or NaN) and, through *gauss, e^(-a^2/2). */
DL_NORMAL_INLINE vf vf_normal_tail(vf a, vf *gauss)
{
#ifndef DL_VF_SCALEF
    /* the exponent field's 2^n needs n >= -126: clamp there (Phi(-13.2) = 4e-40, a denormal)
     * and give 0 above it */
    vf ac = vf_min(vf_set1(13.2f), a);
#else
    vf ac = a;
#endif
    /* e^(-a^2/2) = 2^n e^r, r = -a^2/2 - n ln2 */
    vf h = vf_mul(ac, vf_set1(-0.5f));                       /* exact */
    vf n = vf_roundf(vf_mul(vf_mul(ac, vf_set1(-0.72134752044448170f)), ac));
    vf r = vf_fma(h, ac, vf_mul(n, vf_set1(-0.693145751953125f)));   /* one rounding */
    r = vf_fma(n, vf_set1(-1.428606765330187045e-06f), r);
    vf q = vf_set1(1.381461275741458e-03f);
    q = vf_fma(q, r, vf_set1(8.368710055947304e-03f));
    q = vf_fma(q, r, vf_set1(4.166838899254799e-02f));
    q = vf_fma(q, r, vf_set1(1.666652113199234e-01f));
    q = vf_fma(q, r, vf_set1(4.999999403953552e-01f));
    vf t = vf_fma(q, vf_mul(r, r), r);                       /* e^r - 1 */
    /* R(a) = P(a) / Q(a) */
    vf p = vf_set1(0.004222207237035036f);
    p = vf_fma(p, ac, vf_set1(0.04134221747517586f));
    p = vf_fma(p, ac, vf_set1(0.18533067405223846f));
    p = vf_fma(p, ac, vf_set1(0.44111061096191406f));
    p = vf_fma(p, ac, vf_set1(0.5f));
    vf d = vf_set1(0.010583405382931232f);
    d = vf_fma(d, ac, vf_set1(0.10363510251045227f));
    d = vf_fma(d, ac, vf_set1(0.47500455379486084f));
    d = vf_fma(d, ac, vf_set1(1.2111866474151611f));
    d = vf_fma(d, ac, vf_set1(1.680106282234192f));
    d = vf_fma(d, ac, vf_set1(1.0f));
    vf ratio = vf_div(p, d);
    vf c = vf_scale_pow2(vf_fma(t, ratio, ratio), n);        /* e^r R 2^n */
    if (gauss) *gauss = vf_scale_pow2(vf_add(t, vf_set1(1.0f)), n);
#ifndef DL_VF_SCALEF
    c = vf_select_gt(a, vf_set1(13.2f), vf_zero(), c);
    if (gauss) *gauss = vf_select_gt(a, vf_set1(13.2f), vf_zero(), *gauss);
#endif
    return c;
}

/* |x| clamped to 16 (Phi(-16) = 6e-58 is 0 in float); NaN stays NaN */
DL_NORMAL_INLINE vf vf_normal_arg(vf x) { return vf_min(vf_set1(16.0f), vf_abs(x)); }

/* Phi(x) */
DL_NORMAL_INLINE vf vf_normal_cdf(vf x)
{
    vf c = vf_normal_tail(vf_normal_arg(x), NULL);
    return vf_select_lt(x, vf_zero(), c, vf_sub(vf_set1(1.0f), c));
}

/* GELU(x) = x Phi(x) */
DL_NORMAL_INLINE vf vf_gelu_erf(vf x) { return vf_mul(x, vf_normal_cdf(x)); }

/* d GELU / dx = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi) */
DL_NORMAL_INLINE vf vf_gelu_erf_slope(vf x)
{
    vf g;
    vf c = vf_normal_tail(vf_normal_arg(x), &g);
    vf cdf = vf_select_lt(x, vf_zero(), c, vf_sub(vf_set1(1.0f), c));
    return vf_fma(vf_mul(x, vf_set1(0.39894228040143267794f)), g, cdf);
}
#else
/* the scalar path in double: erfc's argument x / sqrt 2 rounded to float would cost 2 z^2 ulp
 * (1e-5 relative at x = -11) */
DL_NORMAL_INLINE double dl_normal_cdf_f64(double x) { return 0.5 * erfc(x * -0.70710678118654752); }
DL_NORMAL_INLINE vf vf_normal_cdf(vf x) { return (float)dl_normal_cdf_f64(x); }
DL_NORMAL_INLINE vf vf_gelu_erf(vf x) { return (float)(x * dl_normal_cdf_f64(x)); }
DL_NORMAL_INLINE vf vf_gelu_erf_slope(vf x)
{
    double xd = x;
    return (float)(dl_normal_cdf_f64(xd) + xd * 0.39894228040143267794 * exp(-0.5 * xd * xd));
}
#endif

#endif
