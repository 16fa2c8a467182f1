/* Vector math the activation and loss kernels need beyond simd.h: partial loads/stores for loop
 * tails, ordered-or-NaN selects, expm1, log1p on [0, 1], log, erfc.  Family-local: included only
 * by act_simd.c and loss_simd.c, after simd.h.  On the generic (scalar) path these are libm.
 *
 * Accuracy (float32, measured against double libm in tests/test_activation.py):
 *   vfa_expm1        <= 2e-7 relative (Taylor below |x| < 0.5, exp - 1 above)
 *   vfa_log1p01(u)   u in [0, 1]: <= 2e-7 relative (2 atanh(u / (2 + u)) series)
 *   vfa_log          <= 2 ulp for positive normal and subnormal x; 0 -> -inf, < 0 -> NaN
 *   vfa_erfc(z)      z >= 0: <= 1.2e-7 relative from the Chebyshev fit (Numerical Recipes
 *                    erfcc), plus ~z^2 * 6e-8 from rounding the exponent (z^2 < 100 in range)
 */
#ifndef DLCORE_ACT_VMATH_H
#define DLCORE_ACT_VMATH_H

#include <float.h>
#include "simd.h"

#if defined(__AVX512F__)
/* the first k (< DL_VF_LEN) lanes from p, the rest `fill` */
static inline vf vfa_load_part(const float *p, size_t k, float fill)
{
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), (__mmask16)((1u << k) - 1u), p);
}
static inline void vfa_store_part(float *p, vf a, size_t k)
{
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << k) - 1u), a);
}
/* a <= b ? x : y and a >= b ? x : y; false (so y) when either is NaN */
static inline vf vfa_select_le(vf a, vf b, vf x, vf y)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LE_OQ), y, x);
}
static inline vf vfa_select_ge(vf a, vf b, vf x, vf y)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GE_OQ), y, x);
}
/* lanes that are NaN in a take a; the others take b */
static inline vf vfa_keep_nan(vf a, vf b)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), b, a);
}
static inline vf vfa_log(vf x)
{
    /* subnormals: scale by 2^23 first so the exponent field is meaningful */
    __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(FLT_MIN), _CMP_LT_OQ);
    vf xs = _mm512_mask_mul_ps(x, tiny, x, _mm512_set1_ps(8388608.0f));
    vf ebias = _mm512_maskz_mov_ps(tiny, _mm512_set1_ps(-23.0f));
    __m512i xi = _mm512_castps_si512(xs);
    __m512i e = _mm512_sub_epi32(_mm512_srli_epi32(xi, 23), _mm512_set1_epi32(127));
    vf m = _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(xi, _mm512_set1_epi32(0x007fffff)),
                                               _mm512_set1_epi32(0x3f800000)));
    __mmask16 big = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
    m = _mm512_mask_mul_ps(m, big, m, _mm512_set1_ps(0.5f));
    e = _mm512_mask_add_epi32(e, big, e, _mm512_set1_epi32(1));
    vf ef = _mm512_add_ps(_mm512_cvtepi32_ps(e), ebias);
    vf f = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
    vf s = _mm512_div_ps(f, _mm512_add_ps(f, _mm512_set1_ps(2.0f)));
    vf s2 = _mm512_mul_ps(s, s);
    vf p = _mm512_set1_ps(1.0f / 11.0f);
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f / 9.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f / 7.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f / 5.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f / 3.0f));
    p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f));
    vf l1p = _mm512_mul_ps(_mm512_add_ps(s, s), p);
    vf r = _mm512_fmadd_ps(ef, _mm512_set1_ps(0.693145751953125f),
                           _mm512_fmadd_ps(ef, _mm512_set1_ps(1.428606765330187045e-06f), l1p));
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_EQ_OQ), r,
                             _mm512_set1_ps(-INFINITY));
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), r,
                             _mm512_set1_ps(NAN));
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(INFINITY), _CMP_EQ_OQ), r, x);
    return vfa_keep_nan(x, r);
}
#elif defined(__AVX2__) && defined(__FMA__)
static inline __m256i vfa_part_mask(size_t k)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vf vfa_load_part(const float *p, size_t k, float fill)
{
    __m256i m = vfa_part_mask(k);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
static inline void vfa_store_part(float *p, vf a, size_t k)
{
    _mm256_maskstore_ps(p, vfa_part_mask(k), a);
}
static inline vf vfa_select_le(vf a, vf b, vf x, vf y)
{
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LE_OQ));
}
static inline vf vfa_select_ge(vf a, vf b, vf x, vf y)
{
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_GE_OQ));
}
static inline vf vfa_keep_nan(vf a, vf b)
{
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
}
static inline vf vfa_log(vf x)
{
    vf tiny = _mm256_cmp_ps(x, _mm256_set1_ps(FLT_MIN), _CMP_LT_OQ);
    vf xs = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(8388608.0f)), tiny);
    vf ebias = _mm256_and_ps(tiny, _mm256_set1_ps(-23.0f));
    __m256i xi = _mm256_castps_si256(xs);
    __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(xi, 23), _mm256_set1_epi32(127));
    vf m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(xi, _mm256_set1_epi32(0x007fffff)),
                                               _mm256_set1_epi32(0x3f800000)));
    vf big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
    e = _mm256_sub_epi32(e, _mm256_castps_si256(big));   /* mask lanes are -1 */
    vf ef = _mm256_add_ps(_mm256_cvtepi32_ps(e), ebias);
    vf f = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
    vf s = _mm256_div_ps(f, _mm256_add_ps(f, _mm256_set1_ps(2.0f)));
    vf s2 = _mm256_mul_ps(s, s);
    vf p = _mm256_set1_ps(1.0f / 11.0f);
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 9.0f));
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 7.0f));
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 5.0f));
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 3.0f));
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f));
    vf l1p = _mm256_mul_ps(_mm256_add_ps(s, s), p);
    vf r = _mm256_fmadd_ps(ef, _mm256_set1_ps(0.693145751953125f),
                           _mm256_fmadd_ps(ef, _mm256_set1_ps(1.428606765330187045e-06f), l1p));
    r = _mm256_blendv_ps(r, _mm256_set1_ps(-INFINITY),
                         _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ));
    r = _mm256_blendv_ps(r, _mm256_set1_ps(NAN), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
    r = _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, _mm256_set1_ps(INFINITY), _CMP_EQ_OQ));
    return vfa_keep_nan(x, r);
}
#else
/* scalar path: vector loops have no tails (DL_VF_LEN == 1) */
static inline vf vfa_load_part(const float *p, size_t k, float fill) { return k ? *p : fill; }
static inline void vfa_store_part(float *p, vf a, size_t k) { if (k) *p = a; }
static inline vf vfa_select_le(vf a, vf b, vf x, vf y) { return a <= b ? x : y; }
static inline vf vfa_select_ge(vf a, vf b, vf x, vf y) { return a >= b ? x : y; }
static inline vf vfa_keep_nan(vf a, vf b) { return a != a ? a : b; }
static inline vf vfa_log(vf x) { return logf(x); }
#endif

#ifndef DL_VF_SCALAR
/* e^x for x <= 0 (or -inf, NaN): softmax and cross-entropy exponentiate x - max or x - lse.
 * vf_exp's reduction and polynomial without its overflow path: x is clamped at -87.34, so
 * n >= -126 and 2^n is one normal scale factor; lanes below the clamp give 0.  NaN stays NaN. */
static inline vf vfa_exp_nonpos(vf x)
{
    const vf lo = vf_set1(-87.33654f);
    vf xc = vf_max(lo, x);
    vf n;
    vf p = vf_exp_poly(xc, &n);
    vf res = vf_mul(p, vf_pow2i(vf_round_to_int(n)));
    return vf_select_lt(x, lo, vf_zero(), res);
}

static inline vf vfa_expm1(vf x)
{
    /* exp(x) - 1 cancels near 0: there use the Taylor series up to x^9/9! (error < 6e-9 at
     * |x| = 0.5, where the result is >= 0.39 in magnitude) */
    vf big = vf_sub(vf_exp(x), vf_set1(1.0f));
    vf p = vf_set1(1.0f / 362880.0f);
    p = vf_fma(p, x, vf_set1(1.0f / 40320.0f));
    p = vf_fma(p, x, vf_set1(1.0f / 5040.0f));
    p = vf_fma(p, x, vf_set1(1.0f / 720.0f));
    p = vf_fma(p, x, vf_set1(1.0f / 120.0f));
    p = vf_fma(p, x, vf_set1(1.0f / 24.0f));
    p = vf_fma(p, x, vf_set1(1.0f / 6.0f));
    p = vf_fma(p, x, vf_set1(0.5f));
    vf small = vf_fma(vf_mul(p, x), x, x);
    return vf_select_lt(vf_abs(x), vf_set1(0.5f), small, big);
}

/* log(1 + u) for u in [0, 1] (and NaN): 2 atanh(s), s = u / (2 + u) in [0, 1/3] */
static inline vf vfa_log1p01(vf u)
{
    vf s = vf_div(u, vf_add(u, vf_set1(2.0f)));
    vf s2 = vf_mul(s, s);
    vf p = vf_set1(1.0f / 17.0f);
    p = vf_fma(p, s2, vf_set1(1.0f / 15.0f));
    p = vf_fma(p, s2, vf_set1(1.0f / 13.0f));
    p = vf_fma(p, s2, vf_set1(1.0f / 11.0f));
    p = vf_fma(p, s2, vf_set1(1.0f / 9.0f));
    p = vf_fma(p, s2, vf_set1(1.0f / 7.0f));
    p = vf_fma(p, s2, vf_set1(1.0f / 5.0f));
    p = vf_fma(p, s2, vf_set1(1.0f / 3.0f));
    p = vf_fma(p, s2, vf_set1(1.0f));
    return vf_mul(vf_add(s, s), p);
}

/* erfc(z) for z >= 0: t * exp(-z^2 + P(t)), t = 1 / (1 + z/2), a Chebyshev fit with relative
 * error below 1.2e-7 (Press et al., Numerical Recipes, "erfcc"). */
static inline vf vfa_erfc(vf z)
{
    vf t = vf_div(vf_set1(1.0f), vf_fma(vf_set1(0.5f), z, vf_set1(1.0f)));
    vf p = vf_set1(0.17087277f);
    p = vf_fma(p, t, vf_set1(-0.82215223f));
    p = vf_fma(p, t, vf_set1(1.48851587f));
    p = vf_fma(p, t, vf_set1(-1.13520398f));
    p = vf_fma(p, t, vf_set1(0.27886807f));
    p = vf_fma(p, t, vf_set1(-0.18628806f));
    p = vf_fma(p, t, vf_set1(0.09678418f));
    p = vf_fma(p, t, vf_set1(0.37409196f));
    p = vf_fma(p, t, vf_set1(1.00002368f));
    p = vf_fma(p, t, vf_set1(-1.26551223f));
    return vf_mul(t, vf_exp(vf_sub(p, vf_mul(z, z))));
}
#else
static inline vf vfa_exp_nonpos(vf x) { return expf(x); }
static inline vf vfa_expm1(vf x) { return expm1f(x); }
static inline vf vfa_log1p01(vf u) { return log1pf(u); }
static inline vf vfa_erfc(vf z) { return erfcf(z); }
#endif

#endif
