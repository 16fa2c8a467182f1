/* The SIMD vocabulary: one float32 vector type `vf` with DL_VF_LEN lanes and the operations
 * kernels are written against.  Which ISA it maps to follows the flags the including file is
 * compiled with (setup.py compiles every *_simd.c once per ISA):
 *   AVX-512F -> __m512 (16 lanes), AVX2+FMA -> __m256 (8 lanes), otherwise a plain float.
 * Kernels do `for (; i + DL_VF_LEN <= n; i += DL_VF_LEN)` over vectors, then a scalar tail
 * using the s* helpers, which give the same answers as the vector forms within their error.
 *
 * Approximations (measured against double-precision libm over the float range):
 *   vf_exp      <= 2 ulp on [-87.3, 88.7]; 0 below, +inf above, NaN in -> NaN out
 *   vf_tanh     <= 3e-7 absolute, <= 2e-7 relative for |x| < 0.25 (odd polynomial)
 *   vf_sigmoid  <= 3e-7 absolute
 */
#ifndef DLCORE_SIMD_H
#define DLCORE_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define DL_CAT2(a, b) a##b
#define DL_CAT(a, b) DL_CAT2(a, b)
/* Names a function after the ISA copy being compiled: DL_ISA_FN(relu_f32) -> relu_f32_avx2. */
#ifdef DL_ISA_SUFFIX
#define DL_ISA_FN(name) DL_CAT(name, DL_ISA_SUFFIX)
#endif

/* ---- scalar forms (also the tails of vector loops) ---- */
static inline float s_exp(float x) { return expf(x); }
static inline float s_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
static inline float s_tanh(float x) { return tanhf(x); }

#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 vf;
typedef __m512i vi;
enum { DL_VF_LEN = 16 };
static inline vf vf_zero(void) { return _mm512_setzero_ps(); }
static inline vf vf_set1(float a) { return _mm512_set1_ps(a); }
static inline vf vf_loadu(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_storeu(float *p, vf a) { _mm512_storeu_ps(p, a); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
/* max/min return the second operand when either is NaN: put the data second to keep NaN. */
static inline vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf vf_abs(vf a) { return _mm512_abs_ps(a); }
static inline vf vf_sqrt(vf a) { return _mm512_sqrt_ps(a); }
static inline float vf_reduce_add(vf a) { return _mm512_reduce_add_ps(a); }
static inline float vf_reduce_max(vf a) { return _mm512_reduce_max_ps(a); }
/* a > b ? x : y, lane by lane */
static inline vf vf_select_gt(vf a, vf b, vf x, vf y)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), y, x);
}
static inline vf vf_select_lt(vf a, vf b, vf x, vf y)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x);
}
static inline vi vf_round_to_int(vf a) { return _mm512_cvtps_epi32(a); }
static inline vf vf_from_int(vi a) { return _mm512_cvtepi32_ps(a); }
static inline vf vf_pow2i(vi n)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23));
}
static inline vi vi_srai1(vi a) { return _mm512_srai_epi32(a, 1); }
static inline vi vi_sub(vi a, vi b) { return _mm512_sub_epi32(a, b); }
static inline vf vf_roundf(vf a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256 vf;
typedef __m256i vi;
enum { DL_VF_LEN = 8 };
static inline vf vf_zero(void) { return _mm256_setzero_ps(); }
static inline vf vf_set1(float a) { return _mm256_set1_ps(a); }
static inline vf vf_loadu(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_storeu(float *p, vf a) { _mm256_storeu_ps(p, a); }
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf vf_abs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
static inline vf vf_sqrt(vf a) { return _mm256_sqrt_ps(a); }
static inline float vf_reduce_add(vf a)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float vf_reduce_max(vf a)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline vf vf_select_gt(vf a, vf b, vf x, vf y)
{
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_GT_OQ));
}
static inline vf vf_select_lt(vf a, vf b, vf x, vf y)
{
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
}
static inline vi vf_round_to_int(vf a) { return _mm256_cvtps_epi32(a); }
static inline vf vf_from_int(vi a) { return _mm256_cvtepi32_ps(a); }
static inline vf vf_pow2i(vi n)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
}
static inline vi vi_srai1(vi a) { return _mm256_srai_epi32(a, 1); }
static inline vi vi_sub(vi a, vi b) { return _mm256_sub_epi32(a, b); }
static inline vf vf_roundf(vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
#else
#define DL_VF_SCALAR 1
typedef float vf;
typedef int32_t vi;
enum { DL_VF_LEN = 1 };
static inline vf vf_zero(void) { return 0.0f; }
static inline vf vf_set1(float a) { return a; }
static inline vf vf_loadu(const float *p) { return *p; }
static inline void vf_storeu(float *p, vf a) { *p = a; }
static inline vf vf_add(vf a, vf b) { return a + b; }
static inline vf vf_sub(vf a, vf b) { return a - b; }
static inline vf vf_mul(vf a, vf b) { return a * b; }
static inline vf vf_div(vf a, vf b) { return a / b; }
static inline vf vf_fma(vf a, vf b, vf c) { return a * b + c; }
static inline vf vf_max(vf a, vf b) { return (a > b || b != b) ? (b != b ? b : a) : b; }
static inline vf vf_min(vf a, vf b) { return (a < b || b != b) ? (b != b ? b : a) : b; }
static inline vf vf_abs(vf a) { return fabsf(a); }
static inline vf vf_sqrt(vf a) { return sqrtf(a); }
static inline float vf_reduce_add(vf a) { return a; }
static inline float vf_reduce_max(vf a) { return a; }
static inline vf vf_select_gt(vf a, vf b, vf x, vf y) { return a > b ? x : y; }
static inline vf vf_select_lt(vf a, vf b, vf x, vf y) { return a < b ? x : y; }
#endif

#ifndef DL_VF_SCALAR
/* The shared core of every vector e^x here: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two
 * parts for an exact reduction); returns e^r by a degree-6 polynomial and sets *n (integral,
 * as a float).  The callers differ only in how they clamp x and apply 2^n. */
static inline vf vf_exp_poly(vf x, vf *n_out)
{
    vf n = vf_roundf(vf_mul(x, vf_set1(1.44269504088896341f)));
    vf r = vf_fma(n, vf_set1(-0.693145751953125f), x);
    r = vf_fma(n, vf_set1(-1.428606765330187045e-06f), r);
    vf p = vf_set1(1.0f / 720.0f);
    p = vf_fma(p, r, vf_set1(1.0f / 120.0f));
    p = vf_fma(p, r, vf_set1(1.0f / 24.0f));
    p = vf_fma(p, r, vf_set1(1.0f / 6.0f));
    p = vf_fma(p, r, vf_set1(0.5f));
    p = vf_fma(p, r, vf_set1(1.0f));
    p = vf_fma(p, r, vf_set1(1.0f));
    *n_out = n;
    return p;
}

/* e^x: vf_exp_poly, then 2^n through the exponent. */
static inline vf vf_exp(vf x)
{
    const vf hi = vf_set1(88.72283f), lo = vf_set1(-87.33654f);
    vf xc = vf_min(hi, vf_max(lo, x));           /* NaN stays NaN (data in 2nd operand) */
    vf n;
    vf p = vf_exp_poly(xc, &n);
    /* n can reach 128 at the top clamp: split the scale in two factors so 2^n never overflows
     * the exponent field before the multiply. */
    vi ni = vf_round_to_int(n);
    vi n1 = vi_srai1(ni);
    vf res = vf_mul(vf_mul(p, vf_pow2i(n1)), vf_pow2i(vi_sub(ni, n1)));
    res = vf_select_lt(x, lo, vf_zero(), res);
    res = vf_select_gt(x, hi, vf_set1(INFINITY), res);
    return res;
}
#else
static inline vf vf_exp(vf x) { return expf(x); }
#endif

/* 1 / (1 + e^-x); exact limits 0 and 1 at the ends, NaN propagates. */
static inline vf vf_sigmoid(vf x)
{
    return vf_div(vf_set1(1.0f), vf_add(vf_set1(1.0f), vf_exp(vf_sub(vf_zero(), x))));
}

/* tanh: odd Taylor polynomial for |x| < 0.25 (keeps relative precision near 0), otherwise
 * sign(x) * (1 - 2 / (e^{2|x|} + 1)). */
static inline vf vf_tanh(vf x)
{
    vf ax = vf_abs(x);
    vf e = vf_exp(vf_add(ax, ax));
    vf big = vf_sub(vf_set1(1.0f), vf_div(vf_set1(2.0f), vf_add(e, vf_set1(1.0f))));
    /* copy the sign of x onto big: big * (x<0 ? -1 : 1) */
    big = vf_select_lt(x, vf_zero(), vf_sub(vf_zero(), big), big);
    vf x2 = vf_mul(x, x);
    vf p = vf_set1(62.0f / 2835.0f);
    p = vf_fma(p, x2, vf_set1(-17.0f / 315.0f));
    p = vf_fma(p, x2, vf_set1(2.0f / 15.0f));
    p = vf_fma(p, x2, vf_set1(-1.0f / 3.0f));
    vf small = vf_fma(vf_mul(p, x2), x, x);
    /* NaN: ax < 0.25 is false, so big (NaN) is chosen */
    return vf_select_lt(ax, vf_set1(0.25f), small, big);
}

#endif
