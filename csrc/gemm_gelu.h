/* GELU for the GEMM epilogue on whole vectors: x * Phi(x), Phi the normal CDF (the "exact",
 * erf-based GELU, not the tanh approximation).  Written against the SIMD vocabulary, so it is
 * the zmm or ymm form according to the flags of the file including it (gemm_avx512.c,
 * gemm_avx2.c).
 *
 * Phi(x) = 1 - erfc(a)/2 for x >= 0 and erfc(a)/2 for x < 0, with a = |x| / sqrt 2, and
 *   erfc(a) = t * exp(-a^2 + P(t)),  t = 1 / (1 + a/2),  a in [0, 10]
 * where P is a degree-9 polynomial fitted here (least squares, reweighted towards minimax) to
 * log(erfc(a) e^{a^2} / t).  Working with erfc keeps the relative accuracy in the negative tail,
 * where 1 + erf(x) would cancel.  Measured against double precision: Phi within 3.3e-7
 * relative, so GELU within a few ulp over the float range.  a^2 is split into a rounded part
 * and its exact error (FMA) so exp's argument is not off by a^2's rounding for large |x|.
 * NaN propagates; +inf -> +inf; x < -10 sqrt 2 (incl. -inf) -> 0: there GELU(x) is below
 * 1.2e-43 in magnitude, a float denormal.
 */
#ifndef DLCORE_GEMM_GELU_H
#define DLCORE_GEMM_GELU_H

#include "simd.h"

static inline vf dl_gelu_vf(vf x)
{
    static const float P[10] = {-1.2654415369033813f, 0.9984937310218811f,
                                0.3878888189792633f, 0.02841060608625412f,
                                0.02003578655421734f, -0.11648210883140564f,
                                -0.6516208052635193f, 1.122681975364685f,
                                -0.6661826968193054f, 0.14221619069576263f};
    const vf half = vf_set1(0.5f), one = vf_set1(1.0f);
    vf z = vf_mul(x, vf_set1(0.70710678118654752f));
    /* min returns its second operand when either is NaN: a NaN stays NaN */
    vf a = vf_min(vf_set1(10.0f), vf_abs(z));
    vf t = vf_div(one, vf_fma(a, half, one));
    vf p = vf_set1(P[9]);
    for (int i = 8; i >= 0; i--) p = vf_fma(p, t, vf_set1(P[i]));
    vf hi = vf_mul(a, a);
    vf lo = vf_fma(a, a, vf_sub(vf_zero(), hi));
    vf e = vf_mul(t, vf_exp(vf_sub(vf_sub(p, lo), hi)));   /* erfc(a) */
    vf he = vf_mul(half, e);
    vf phi = vf_select_lt(z, vf_zero(), he, vf_sub(one, he));
    vf r = vf_mul(x, phi);
    return vf_select_lt(x, vf_set1(-14.142136f), vf_zero(), r);
}

#endif
