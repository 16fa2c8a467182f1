/* The SIMD vocabulary: one float32 vector type `vf` with DL_VF_LEN lanes and the operations
 * kernels are written against.  Which ISA it maps to follows the flags the including file is
 * compiled with (setup.py compiles every *_simd.c once per ISA):
 *   AVX-512F -> __m512 (16 lanes), AVX2+FMA -> __m256 (8 lanes), otherwise a plain float.
 * Kernels do `for (; i + DL_VF_LEN <= n; i += DL_VF_LEN)` over vectors, then a scalar tail
 * using the s* helpers, which give the same answers as the vector forms within their error.
 *
 * Loop tails may instead use vf_load_part / vf_store_part (the first k lanes), which give the
 * tail exactly the vector path's answer.
 *
 * Math, one core per function for every ISA (float32; measured against double-precision libm
 * over the float range; the generic path uses libm):
 *   vf_exp          <= 1.01 ulp on [-87.3, 88.7]; 0 below, +inf above, NaN in -> NaN out
 *   vf_exp_nonpos   e^x for x <= 0 (softmax, cross-entropy): vf_exp's accuracy; 0 below -87.3
 *   vf_exp_fast     e^x for softmax weights (mostly x <= 0): on AVX-512 one scalef, gradual
 *                   underflow to 0 and +inf past 88.7; elsewhere vf_exp
 *   vf_expm1        <= 2e-7 relative (Taylor below |x| < 0.5, exp - 1 above)
 *   vf_log          <= 2 ulp for positive normal and subnormal x; 0 -> -inf, < 0 -> NaN
 *   vf_log1p01(u)   u in [0, 1]: <= 2e-7 relative (2 atanh(u / (2 + u)) series)
 *   vf_softplus     log(1 + e^v) without overflow, from vf_exp_nonpos and vf_log1p01
 *   vf_erfc(z)      z >= 0: <= 1.2e-7 relative from the Chebyshev fit (Numerical Recipes
 *                   erfcc), plus ~z^2 * 6e-8 from rounding the exponent (z^2 < 100 in range)
 *   vf_tanh         <= 3e-7 absolute, <= 2e-7 relative for |x| < 0.25 (odd polynomial)
 *   vf_sigmoid      <= 3e-7 absolute
 *   vf_sigmoid_fast, vf_tanh_fast: a few 1e-8 absolute (the recurrent cells' short route:
 *                   one clamped e^x and one reciprocal each; no relative precision near 0)
 * Every e^x here is vf_exp_poly's reduction and polynomial with 2^n applied by vf_pow2i or,
 * where the range needs it, vf_scale_pow2 (AVX-512's scalef).
 */
#ifndef DLCORE_SIMD_H
#define DLCORE_SIMD_H

#include <float.h>
#include <math.h>
#include <stddef.h>
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
/* out[0..3] = the lane sums of a, b, c and d: one shared reduction tree for four dots */
static inline void vf_reduce_add4(vf a, vf b, vf c, vf d, float *out)
{
    __m512 x = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    __m512 y = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    __m512 z = _mm512_add_ps(_mm512_shuffle_ps(x, y, _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(x, y, _MM_SHUFFLE(3, 2, 3, 2)));
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(z), _mm512_extractf32x8_ps(z, 1));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}
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
/* a <= b ? x : y, a >= b ? x : y, a == b ? x : y; false (so y) when either is NaN */
static inline vf vf_select_le(vf a, vf b, vf x, vf y)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LE_OQ), y, x);
}
static inline vf vf_select_ge(vf a, vf b, vf x, vf y)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GE_OQ), y, x);
}
static inline vf vf_select_eq(vf a, vf b, vf x, vf y)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ), y, x);
}
/* lanes that are NaN in a take a; the others take b */
static inline vf vf_keep_nan(vf a, vf b)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), b, a);
}
/* the first k (<= DL_VF_LEN) lanes from p, the rest `fill`; only those k are read / written */
#define DL_VF_MASKED 1   /* partial vectors are single masked instructions */
static inline vf vf_load_part(const float *p, size_t k, float fill)
{
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), (__mmask16)((1u << k) - 1u), p);
}
static inline void vf_store_part(float *p, vf a, size_t k)
{
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << k) - 1u), a);
}
/* the bits of a float vector as integers and back; integer lane arithmetic */
static inline vi vf_bits(vf a) { return _mm512_castps_si512(a); }
static inline vf vf_from_bits(vi a) { return _mm512_castsi512_ps(a); }
static inline vi vi_set1(int32_t a) { return _mm512_set1_epi32(a); }
static inline vi vi_add(vi a, vi b) { return _mm512_add_epi32(a, b); }
static inline vi vi_and(vi a, vi b) { return _mm512_and_si512(a, b); }
static inline vi vi_or(vi a, vi b) { return _mm512_or_si512(a, b); }
static inline vi vi_srli(vi a, unsigned int n) { return _mm512_srli_epi32(a, n); }
/* a > b ? x : y for integer lanes, by a float comparison */
static inline vi vi_select_gt(vf a, vf b, vi x, vi y)
{
    return _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), y, x);
}
/* p * 2^n for integral n (as floats) in one instruction: gradual underflow to 0, overflow to
 * +inf, no limit on n */
#define DL_VF_SCALEF 1
static inline vf vf_scale_pow2(vf p, vf n) { return _mm512_scalef_ps(p, n); }
/* 1 / d for d in [1, 6e34] (or NaN): 14-bit estimate, one Newton step doubles the bits */
static inline vf vf_recip_fast(vf d)
{
    vf r = _mm512_rcp14_ps(d);
    return vf_mul(r, _mm512_fnmadd_ps(d, r, vf_set1(2.0f)));
}
/* DL_VF_LEN bytes as floats (u8 zero-extended, s8 sign-extended), and a vector of integral
 * floats in [0, 255] stored as DL_VF_LEN bytes: the int8 kernels' loads and stores */
static inline vf vf_load_u8(const uint8_t *p)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)));
}
static inline vf vf_load_s8(const int8_t *p)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
}
static inline void vf_store_u8(uint8_t *p, vf a)
{
    _mm_storeu_si128((__m128i *)p, _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(a)));
}
/* dst[j * ds + i] = src[i * ss + j] for a 16 x 16 block, in registers: 32-bit then 64-bit
 * interleaves within 128-bit lanes, then two rounds of lane shuffles */
#define DL_VF_TRANSPOSE16 1
static inline void vf_transpose16(const float *src, ptrdiff_t ss, float *dst, ptrdiff_t ds)
{
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * ss);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    /* u[4g + c], 128-bit lane L: rows 4g..4g+3 of column 4L + c */
    for (int g = 0; g < 16; g += 4) {
        __m512d t0 = _mm512_castps_pd(t[g]), t1 = _mm512_castps_pd(t[g + 1]);
        __m512d t2 = _mm512_castps_pd(t[g + 2]), t3 = _mm512_castps_pd(t[g + 3]);
        r[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        r[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        r[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        r[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    for (int c = 0; c < 4; c++) {
        __m512 v0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x44);
        __m512 v1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xEE);
        __m512 w0 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x44);
        __m512 w1 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xEE);
        _mm512_storeu_ps(dst + c * ds, _mm512_shuffle_f32x4(v0, w0, 0x88));
        _mm512_storeu_ps(dst + (4 + c) * ds, _mm512_shuffle_f32x4(v0, w0, 0xDD));
        _mm512_storeu_ps(dst + (8 + c) * ds, _mm512_shuffle_f32x4(v1, w1, 0x88));
        _mm512_storeu_ps(dst + (12 + c) * ds, _mm512_shuffle_f32x4(v1, w1, 0xDD));
    }
}
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
/* out[0..3] = the lane sums of a, b, c and d: one shared reduction tree for four dots */
static inline void vf_reduce_add4(vf a, vf b, vf c, vf d, float *out)
{
    __m256 z = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(z), _mm256_extractf128_ps(z, 1)));
}
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
static inline vf vf_select_le(vf a, vf b, vf x, vf y)
{
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LE_OQ));
}
static inline vf vf_select_ge(vf a, vf b, vf x, vf y)
{
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_GE_OQ));
}
static inline vf vf_select_eq(vf a, vf b, vf x, vf y)
{
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_EQ_OQ));
}
static inline vf vf_keep_nan(vf a, vf b)
{
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
}
static inline __m256i vf_part_mask(size_t k)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vf vf_load_part(const float *p, size_t k, float fill)
{
    __m256i m = vf_part_mask(k);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
/* 128-, 64- and 32-bit pieces rather than a masked store: a 256-bit vmaskmovps store is
 * microcoded on AMD Zen (measured on Zen 3: 4.1 ns a store against 1.0 ns for the pieces);
 * like it, nothing past lane k - 1 is touched */
static inline void vf_store_part(float *p, vf a, size_t k)
{
    if (k >= 8) {
        _mm256_storeu_ps(p, a);
        return;
    }
    __m128 h = _mm256_castps256_ps128(a);
    if (k & 4) {
        _mm_storeu_ps(p, h);
        h = _mm256_extractf128_ps(a, 1);
        p += 4;
    }
    if (k & 2) {
        _mm_storel_pi((__m64 *)p, h);
        h = _mm_movehl_ps(h, h);
        p += 2;
    }
    if (k & 1) _mm_store_ss(p, h);
}
static inline vi vf_bits(vf a) { return _mm256_castps_si256(a); }
static inline vf vf_from_bits(vi a) { return _mm256_castsi256_ps(a); }
static inline vi vi_set1(int32_t a) { return _mm256_set1_epi32(a); }
static inline vi vi_add(vi a, vi b) { return _mm256_add_epi32(a, b); }
static inline vi vi_and(vi a, vi b) { return _mm256_and_si256(a, b); }
static inline vi vi_or(vi a, vi b) { return _mm256_or_si256(a, b); }
static inline vi vi_srli(vi a, unsigned int n) { return _mm256_srli_epi32(a, (int)n); }
static inline vi vi_select_gt(vf a, vf b, vi x, vi y)
{
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(y), _mm256_castsi256_ps(x),
                                                 _mm256_cmp_ps(a, b, _CMP_GT_OQ)));
}
/* p * 2^n through the exponent field: n must lie in [-126, 127] */
static inline vf vf_scale_pow2(vf p, vf n) { return vf_mul(p, vf_pow2i(vf_round_to_int(n))); }
static inline vf vf_recip_fast(vf d) { return vf_div(vf_set1(1.0f), d); }
static inline vf vf_load_u8(const uint8_t *p)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
static inline vf vf_load_s8(const int8_t *p)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
static inline void vf_store_u8(uint8_t *p, vf a)
{
    __m256i i = _mm256_cvtps_epi32(a);
    __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
    _mm_storel_epi64((__m128i *)p, _mm_packus_epi16(w, w));
}
/* dst[j * ds + i] = src[i * ss + j] for an 8 x 8 block, in registers: 32-bit interleaves and
 * 64-bit shuffles within 128-bit lanes, then one round of lane swaps */
#define DL_VF_TRANSPOSE8 1
static inline void vf_transpose8(const float *src, ptrdiff_t ss, float *dst, ptrdiff_t ds)
{
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * ss);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    /* r[g + c], 128-bit lane L: rows g..g+3 of column 4L + c */
    for (int g = 0; g < 8; g += 4) {
        r[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
        r[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xEE);
        r[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        r[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {
        _mm256_storeu_ps(dst + c * ds, _mm256_permute2f128_ps(r[c], r[4 + c], 0x20));
        _mm256_storeu_ps(dst + (4 + c) * ds, _mm256_permute2f128_ps(r[c], r[4 + c], 0x31));
    }
}
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
static inline void vf_reduce_add4(vf a, vf b, vf c, vf d, float *out)
{
    out[0] = a;
    out[1] = b;
    out[2] = c;
    out[3] = d;
}
static inline float vf_reduce_max(vf a) { return a; }
static inline vf vf_select_gt(vf a, vf b, vf x, vf y) { return a > b ? x : y; }
static inline vf vf_select_lt(vf a, vf b, vf x, vf y) { return a < b ? x : y; }
static inline vf vf_select_le(vf a, vf b, vf x, vf y) { return a <= b ? x : y; }
static inline vf vf_select_ge(vf a, vf b, vf x, vf y) { return a >= b ? x : y; }
static inline vf vf_select_eq(vf a, vf b, vf x, vf y) { return a == b ? x : y; }
static inline vf vf_keep_nan(vf a, vf b) { return a != a ? a : b; }
/* scalar path: vector loops have no tails (DL_VF_LEN == 1) */
static inline vf vf_load_part(const float *p, size_t k, float fill) { return k ? *p : fill; }
static inline void vf_store_part(float *p, vf a, size_t k) { if (k) *p = a; }
static inline vf vf_roundf(vf a) { return rintf(a); }
static inline vf vf_load_u8(const uint8_t *p) { return (float)*p; }
static inline vf vf_load_s8(const int8_t *p) { return (float)*p; }
static inline void vf_store_u8(uint8_t *p, vf a) { *p = (uint8_t)(int32_t)a; }
#endif

/* vf_transpose_sq: the DL_VF_LEN x DL_VF_LEN block transpose in registers, where the ISA has
 * one (DL_VF_TRANSPOSE_SQ defined): dst[j * ds + i] = src[i * ss + j] */
#if defined(DL_VF_TRANSPOSE16)
#define DL_VF_TRANSPOSE_SQ 1
static inline void vf_transpose_sq(const float *src, ptrdiff_t ss, float *dst, ptrdiff_t ds)
{
    vf_transpose16(src, ss, dst, ds);
}
#elif defined(DL_VF_TRANSPOSE8)
#define DL_VF_TRANSPOSE_SQ 1
static inline void vf_transpose_sq(const float *src, ptrdiff_t ss, float *dst, ptrdiff_t ds)
{
    vf_transpose8(src, ss, dst, ds);
}
#endif

#ifndef DL_VF_SCALAR
/* The shared core of every vector e^x here: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two
 * parts for an exact reduction); returns e^r and sets *n (integral, as a float).  The callers
 * differ only in how they clamp x and apply 2^n.
 * e^r = 1 + r + r^2 q(r), q of degree 4 fitted for least maximum relative error of e^r on
 * |r| <= ln2/2 (3e-9 in exact arithmetic; Taylor's 1/k! coefficients leave 1.2e-7, two ulp, at
 * the ends).  Adding 1 last keeps r's low bits: the result is within 1.01 ulp of e^x, mostly
 * correctly rounded, where the Taylor form reached 2.7 ulp.  A softmax inherits this error in
 * every weight, and its backward multiplies it by |g - s|, which can be large. */
static inline vf vf_exp_poly(vf x, vf *n_out)
{
    vf n = vf_roundf(vf_mul(x, vf_set1(1.44269504088896341f)));
    vf r = vf_fma(n, vf_set1(-0.693145751953125f), x);
    r = vf_fma(n, vf_set1(-1.428606765330187045e-06f), r);
    vf q = vf_set1(1.381453942e-03f);
    q = vf_fma(q, r, vf_set1(8.368704468e-03f));
    q = vf_fma(q, r, vf_set1(4.166838899e-02f));
    q = vf_fma(q, r, vf_set1(1.666652113e-01f));
    q = vf_fma(q, r, vf_set1(4.999999404e-01f));
    vf t = vf_fma(q, vf_mul(r, r), r);
    *n_out = n;
    return vf_add(vf_set1(1.0f), t);
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

/* e^x for x <= 0 (or -inf, NaN): softmax and cross-entropy exponentiate x - max or x - lse.
 * vf_exp's reduction and polynomial without its overflow path: x is clamped at -87.34, so
 * n >= -126 and 2^n is one normal scale factor; lanes below the clamp give 0.  NaN stays NaN. */
static inline vf vf_exp_nonpos(vf x)
{
    const vf lo = vf_set1(-87.33654f);
    vf xc = vf_max(lo, x);
    vf n;
    vf p = vf_exp_poly(xc, &n);
    vf res = vf_mul(p, vf_pow2i(vf_round_to_int(n)));
    return vf_select_lt(x, lo, vf_zero(), res);
}

/* e^x for the softmax weights (x = score - running max or - lse: mostly <= 0, -inf where
 * masked).  On AVX-512 the 2^n step is one scalef, which needs none of vf_exp's overflow split
 * and clamp selects: it underflows gradually to exactly 0 (the clamp at -200 turns -inf into 0
 * instead of NaN) and saturates to +inf past 88.7; NaN stays NaN.  Elsewhere vf_exp. */
static inline vf vf_exp_fast(vf x)
{
#ifdef DL_VF_SCALEF
    vf xc = vf_max(vf_set1(-200.0f), x);         /* NaN stays NaN (data in 2nd operand) */
    vf n;
    vf p = vf_exp_poly(xc, &n);
    return vf_scale_pow2(p, n);
#else
    return vf_exp(x);
#endif
}

/* e^x with x clamped to [-80, 80] (NaN stays NaN): 1 + e^x stays finite and its reciprocal a
 * normal number, as the fast sigmoid and tanh below need (sigmoid(-80) ~ 1.8e-35 stands
 * for 0). */
static inline vf vf_exp_clamp80(vf x)
{
    const vf hi = vf_set1(80.0f), lo = vf_set1(-80.0f);
    vf xc = vf_min(hi, vf_max(lo, x));           /* NaN stays NaN (data in 2nd operand) */
    vf n;
    vf p = vf_exp_poly(xc, &n);
    return vf_scale_pow2(p, n);                  /* |n| <= 116 */
}

static inline vf vf_expm1(vf x)
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

/* log x = e ln2 + 2 atanh(s), x = 2^e m with m in (sqrt(1/2), sqrt(2)], s = (m - 1) / (m + 1);
 * ln2 in two parts as in vf_exp_poly.  Subnormals are scaled by 2^23 first so the exponent
 * field is meaningful. */
static inline vf vf_log(vf x)
{
    const vf flt_min = vf_set1(FLT_MIN), sqrt2 = vf_set1(1.41421356f);
    vf xs = vf_select_lt(x, flt_min, vf_mul(x, vf_set1(8388608.0f)), x);
    vf ebias = vf_select_lt(x, flt_min, vf_set1(-23.0f), vf_zero());
    vi xi = vf_bits(xs);
    vi e = vi_sub(vi_srli(xi, 23), vi_set1(127));
    vf m = vf_from_bits(vi_or(vi_and(xi, vi_set1(0x007fffff)), vi_set1(0x3f800000)));
    e = vi_select_gt(m, sqrt2, vi_add(e, vi_set1(1)), e);
    m = vf_select_gt(m, sqrt2, vf_mul(m, vf_set1(0.5f)), m);
    vf ef = vf_add(vf_from_int(e), ebias);
    vf f = vf_sub(m, vf_set1(1.0f));
    vf s = vf_div(f, vf_add(f, vf_set1(2.0f)));
    vf s2 = vf_mul(s, s);
    vf p = vf_set1(1.0f / 11.0f);
    p = vf_fma(p, s2, vf_set1(1.0f / 9.0f));
    p = vf_fma(p, s2, vf_set1(1.0f / 7.0f));
    p = vf_fma(p, s2, vf_set1(1.0f / 5.0f));
    p = vf_fma(p, s2, vf_set1(1.0f / 3.0f));
    p = vf_fma(p, s2, vf_set1(1.0f));
    vf l1p = vf_mul(vf_add(s, s), p);
    vf r = vf_fma(ef, vf_set1(0.693145751953125f),
                  vf_fma(ef, vf_set1(1.428606765330187045e-06f), l1p));
    r = vf_select_eq(x, vf_zero(), vf_set1(-INFINITY), r);
    r = vf_select_lt(x, vf_zero(), vf_set1(NAN), r);
    r = vf_select_eq(x, vf_set1(INFINITY), x, r);
    return vf_keep_nan(x, r);
}

/* log(1 + u) for u in [0, 1] (and NaN): 2 atanh(s), s = u / (2 + u) in [0, 1/3] */
static inline vf vf_log1p01(vf u)
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
static inline vf vf_erfc(vf z)
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

/* The recurrent cells' sigmoid and tanh (five per LSTM unit per step make them most of the
 * cell's time): one clamped e^x and one fast reciprocal each, sigmoid(x) = 1 / (1 + e^-x),
 * tanh(x) = 1 - 2 / (1 + e^2x).  Absolute error within a few 1e-8; NaN propagates. */
static inline vf vf_sigmoid_fast(vf x)
{
    return vf_recip_fast(vf_add(vf_set1(1.0f), vf_exp_clamp80(vf_sub(vf_zero(), x))));
}
static inline vf vf_tanh_fast(vf x)
{
    vf r = vf_recip_fast(vf_add(vf_set1(1.0f), vf_exp_clamp80(vf_add(x, x))));
    return vf_fma(vf_set1(-2.0f), r, vf_set1(1.0f));
}
#else
static inline vf vf_exp(vf x) { return expf(x); }
static inline vf vf_exp_nonpos(vf x) { return expf(x); }
static inline vf vf_exp_fast(vf x) { return expf(x); }
static inline vf vf_expm1(vf x) { return expm1f(x); }
static inline vf vf_log(vf x) { return logf(x); }
static inline vf vf_log1p01(vf u) { return log1pf(u); }
static inline vf vf_erfc(vf z) { return erfcf(z); }
static inline vf vf_sigmoid_fast(vf x) { return s_sigmoid(x); }
static inline vf vf_tanh_fast(vf x) { return s_tanh(x); }
#endif

/* log(1 + e^v) = max(v, 0) + log1p(e^-|v|), never overflowing */
static inline vf vf_softplus(vf v)
{
    return vf_add(vf_max(vf_zero(), v), vf_log1p01(vf_exp_nonpos(vf_sub(vf_zero(), vf_abs(v)))));
}

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

/* max of x[0..n), n >= 1 (a NaN lane may or may not survive: see vf_max) */
static inline float vf_row_max(const float *x, size_t n)
{
    vf m0 = vf_set1(-INFINITY), m1 = m0;
    size_t i = 0;
    for (; i + 2 * DL_VF_LEN <= n; i += 2 * DL_VF_LEN) {
        m0 = vf_max(m0, vf_loadu(x + i));
        m1 = vf_max(m1, vf_loadu(x + i + DL_VF_LEN));
    }
    for (; i + DL_VF_LEN <= n; i += DL_VF_LEN) m0 = vf_max(m0, vf_loadu(x + i));
    if (i < n) m1 = vf_max(m1, vf_load_part(x + i, n - i, -INFINITY));
    return vf_reduce_max(vf_max(m0, m1));
}

#endif
