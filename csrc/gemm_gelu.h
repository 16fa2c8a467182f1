/* The exact (erf-based) GELU, x * Phi(x) with Phi the normal CDF, on whole vectors, shared by
 * the activation kernel (act_simd.c) and the GEMM epilogues (gemm_avx512.c, gemm_avx2.c,
 * qgemm_simd.c, bf16_simd.c), so an op and its fused form agree.  Written against the SIMD
 * vocabulary: the zmm, ymm or scalar form according to the flags of the file including it.
 *
 * Phi(x) = erfc(z)/2 for x < 0 and 1 - erfc(z)/2 for x >= 0, z = |x| / sqrt 2: working with
 * erfc keeps the relative precision in the negative tail, where 1 + erf(x) would cancel.
 * erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), P a degree-9 fit (Numerical Recipes'
 * Chebyshev one, 1.2e-7 relative), with two cheap steps, GELU being most of a transformer MLP's
 * non-GEMM time: t by vf_recip_fast (on AVX-512 a 14-bit estimate and one Newton step, ~2^-27
 * relative, instead of a division) and e^v by vf_exp_nonpos (v = P(t) - z^2 <= 3e-8, so
 * vf_exp's overflow path is never needed).  P runs in Estrin's form: 4 dependent steps after
 * t^8 instead of Horner's 9, since a loop of these is bound by the chain's latency.
 * z is capped at 10 (erfc(10) = 2e-45 is 0 after vf_exp_nonpos's cut at -87.3 anyway), which
 * keeps 1 + z/2 finite for recip_fast; NaN passes through the min and the fit.
 *
 * dl_gelu_vf: NaN propagates; +inf -> +inf; x < -10 sqrt 2 (incl. -inf) -> 0: there GELU(x)
 * is below 1.2e-43 in magnitude, a float denormal.
 */
#ifndef DLCORE_GEMM_GELU_H
#define DLCORE_GEMM_GELU_H

#include "simd.h"

#ifdef DL_VF_SCALAR
static inline vf dl_normal_cdf_vf(vf x)
{
    vf c = vf_mul(vf_set1(0.5f), vf_erfc(vf_mul(vf_abs(x), vf_set1(0.70710678118654752f))));
    return vf_select_lt(x, vf_zero(), c, vf_sub(vf_set1(1.0f), c));
}
#else
static inline vf dl_normal_cdf_vf(vf x)
{
    /* min returns its second operand when either is NaN: a NaN stays NaN */
    vf z = vf_min(vf_set1(10.0f), vf_mul(vf_abs(x), vf_set1(0.70710678118654752f)));
    vf t = vf_recip_fast(vf_fma(vf_set1(0.5f), z, vf_set1(1.0f)));
    vf t2 = vf_mul(t, t), t4 = vf_mul(t2, t2), t8 = vf_mul(t4, t4);
    vf p01 = vf_fma(vf_set1(1.00002368f), t, vf_set1(-1.26551223f));
    vf p23 = vf_fma(vf_set1(0.09678418f), t, vf_set1(0.37409196f));
    vf p45 = vf_fma(vf_set1(0.27886807f), t, vf_set1(-0.18628806f));
    vf p67 = vf_fma(vf_set1(1.48851587f), t, vf_set1(-1.13520398f));
    vf p89 = vf_fma(vf_set1(0.17087277f), t, vf_set1(-0.82215223f));
    vf p03 = vf_fma(p23, t2, p01), p47 = vf_fma(p67, t2, p45);
    vf p = vf_fma(p89, t8, vf_fma(p47, t4, p03));
    vf c = vf_mul(vf_mul(vf_set1(0.5f), t), vf_exp_nonpos(vf_fma(vf_sub(vf_zero(), z), z, p)));
    return vf_select_lt(x, vf_zero(), c, vf_sub(vf_set1(1.0f), c));
}
#endif

static inline vf dl_gelu_vf(vf x)
{
    vf r = vf_mul(x, dl_normal_cdf_vf(x));
    return vf_select_lt(x, vf_set1(-14.142136f), vf_zero(), r);
}

/* y[0..n) = GELU(y[0..n)) in place, four independent vectors per step (each GELU is one long
 * dependency chain; four in flight keep the FMA units busy); the tail as a masked vector */
static inline void dl_gelu_row(float *y, size_t n)
{
    size_t j = 0;
    for (; j + 4 * DL_VF_LEN <= n; j += 4 * DL_VF_LEN) {
        vf a = dl_gelu_vf(vf_loadu(y + j));
        vf b = dl_gelu_vf(vf_loadu(y + j + DL_VF_LEN));
        vf c = dl_gelu_vf(vf_loadu(y + j + 2 * DL_VF_LEN));
        vf d = dl_gelu_vf(vf_loadu(y + j + 3 * DL_VF_LEN));
        vf_storeu(y + j, a);
        vf_storeu(y + j + DL_VF_LEN, b);
        vf_storeu(y + j + 2 * DL_VF_LEN, c);
        vf_storeu(y + j + 3 * DL_VF_LEN, d);
    }
    for (; j + DL_VF_LEN <= n; j += DL_VF_LEN) vf_storeu(y + j, dl_gelu_vf(vf_loadu(y + j)));
    if (j < n) vf_store_part(y + j, dl_gelu_vf(vf_load_part(y + j, n - j, 0.0f)), n - j);
}

#endif
