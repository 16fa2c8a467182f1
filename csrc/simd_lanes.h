/* More of the SIMD vocabulary (see simd.h, which this extends): moving lanes around.
 *
 *   vf_load_range(p, lo, hi)   lane l is p[l] for lo <= l < hi, 0 elsewhere; p + l outside
 *                              [lo, hi) is never touched (p may point before an array)
 *   vf_interleave2(a, o)       o[0..1] as one array of 2*LEN: element 2l + j is a[j] lane l
 *   vf_deinterleave2(a, o)     the inverse: o[j] lane l is element 2l + j of a[0..1]
 *   vf_interleave4, vf_deinterleave4   the same with 4 vectors (element 4l + j)
 *   vf_shift_in(a, s)          lanes 1 .. LEN-1 of a, then s: a row of one lane further on
 *   vf_deinterleave2_x(a, o)   vf_deinterleave2 with the lanes in the ISA's crossed order:
 *                              o[j] lane l is element 2 x(l) + j of a[0..1], the same
 *                              permutation x on every call (AVX2: in-lane shuffles only)
 *   vf_uncross(v)              lane x(l) of v into lane l: a sum of crossed vectors (lane-wise
 *                              arithmetic keeps the order) put back in order once
 *   vf_range_lanes(lo, hi), vf_load_lanes(p, m)
 *                              vf_load_range in two steps: the lanes lo <= l < hi as a mask
 *                              worked out once (outside a loop), then loads by it
 *   vf_mask_lanes(a, m)        a with the lanes outside mask m zero: a whole-vector load
 *                              masked after it (on AVX2 a vmaskmovps load costs several adds)
 *
 * Interleaving turns "one vector per column residue, a lane per tile" (how Winograd's
 * transforms compute) into rows of an image and back, without a scalar loop.  On AVX-512 and
 * AVX2 they are in-lane unpacks followed by 128-bit block shuffles; the portable path has one
 * lane, where they are copies.
 */
#ifndef DLCORE_SIMD_LANES_H
#define DLCORE_SIMD_LANES_H

#include "simd.h"

#if defined(__AVX512F__)
typedef __mmask16 vf_lanes;
static inline vf_lanes vf_range_lanes(int64_t lo, int64_t hi)
{
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    return (vf_lanes)(hi <= lo ? 0u : ((1u << hi) - 1u) & ~((1u << lo) - 1u));
}
static inline vf vf_load_lanes(const float *p, vf_lanes m) { return _mm512_maskz_loadu_ps(m, p); }
/* a with the lanes outside m zero (no memory touched) */
static inline vf vf_mask_lanes(vf a, vf_lanes m) { return _mm512_maskz_mov_ps(m, a); }

static inline vf vf_load_range(const float *p, int64_t lo, int64_t hi)
{
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    if (hi <= lo) return _mm512_setzero_ps();
    const unsigned m = ((1u << hi) - 1u) & ~((1u << lo) - 1u);
    return _mm512_maskz_loadu_ps((__mmask16)m, p);
}

/* per 128-bit block: (a[4q+k] of the 4 inputs) -> 4 vectors u_k holding tile 4q+k's 4 values */
static inline void vf_block_transpose4(const vf *a, vf *u)
{
    const __m512 t0 = _mm512_unpacklo_ps(a[0], a[1]), t1 = _mm512_unpackhi_ps(a[0], a[1]);
    const __m512 t2 = _mm512_unpacklo_ps(a[2], a[3]), t3 = _mm512_unpackhi_ps(a[2], a[3]);
    u[0] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
    u[1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
    u[2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
    u[3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
}

/* the 4 x 4 transpose of 128-bit blocks: o[p] block j = u[j] block p */
static inline void vf_blocks_transpose(const vf *u, vf *o)
{
    const __m512 v0 = _mm512_shuffle_f32x4(u[0], u[1], 0x44);
    const __m512 v1 = _mm512_shuffle_f32x4(u[0], u[1], 0xEE);
    const __m512 v2 = _mm512_shuffle_f32x4(u[2], u[3], 0x44);
    const __m512 v3 = _mm512_shuffle_f32x4(u[2], u[3], 0xEE);
    o[0] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    o[1] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    o[2] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    o[3] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
}

static inline void vf_interleave4(const vf *a, vf *o)
{
    vf u[4];
    vf_block_transpose4(a, u);
    vf_blocks_transpose(u, o);
}

static inline void vf_deinterleave4(const vf *a, vf *o)
{
    vf u[4];
    vf_blocks_transpose(a, u);
    vf_block_transpose4(u, o);
}

static inline void vf_interleave2(const vf *a, vf *o)
{
    const __m512 lo = _mm512_unpacklo_ps(a[0], a[1]), hi = _mm512_unpackhi_ps(a[0], a[1]);
    /* o[0] is blocks lo.0 hi.0 lo.1 hi.1, o[1] lo.2 hi.2 lo.3 hi.3 */
    o[0] = _mm512_shuffle_f32x4(_mm512_shuffle_f32x4(lo, hi, 0x44),
                                _mm512_shuffle_f32x4(lo, hi, 0x44), 0xD8);
    o[1] = _mm512_shuffle_f32x4(_mm512_shuffle_f32x4(lo, hi, 0xEE),
                                _mm512_shuffle_f32x4(lo, hi, 0xEE), 0xD8);
}

static inline void vf_deinterleave2(const vf *a, vf *o)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    o[0] = _mm512_permutex2var_ps(a[0], even, a[1]);
    o[1] = _mm512_permutex2var_ps(a[0], odd, a[1]);
}

static inline vf vf_shift_in(vf a, float s)
{
    return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(_mm512_set1_ps(s)),
                                                   _mm512_castps_si512(a), 1));
}

/* one two-source permute either way: the natural order */
static inline void vf_deinterleave2_x(const vf *a, vf *o) { vf_deinterleave2(a, o); }
static inline vf vf_uncross(vf v) { return v; }
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256i vf_lanes;
static inline vf_lanes vf_range_lanes(int64_t lo, int64_t hi)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    lo = lo < 0 ? 0 : (lo > 8 ? 8 : lo);
    hi = hi < lo ? lo : (hi > 8 ? 8 : hi);
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)lo), lane),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), lane));
}
static inline vf vf_load_lanes(const float *p, vf_lanes m) { return _mm256_maskload_ps(p, m); }
static inline vf vf_mask_lanes(vf a, vf_lanes m) { return _mm256_and_ps(a, _mm256_castsi256_ps(m)); }

static inline vf vf_load_range(const float *p, int64_t lo, int64_t hi)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    lo = lo < 0 ? 0 : (lo > 8 ? 8 : lo);
    hi = hi < lo ? lo : (hi > 8 ? 8 : hi);
    const __m256i m = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)lo), lane),
                                          _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), lane));
    return _mm256_maskload_ps(p, m);
}

static inline void vf_block_transpose4(const vf *a, vf *u)
{
    const __m256 t0 = _mm256_unpacklo_ps(a[0], a[1]), t1 = _mm256_unpackhi_ps(a[0], a[1]);
    const __m256 t2 = _mm256_unpacklo_ps(a[2], a[3]), t3 = _mm256_unpackhi_ps(a[2], a[3]);
    u[0] = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
    u[1] = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
    u[2] = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
    u[3] = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
}

static inline void vf_interleave4(const vf *a, vf *o)
{
    vf u[4];
    vf_block_transpose4(a, u);
    /* tile t = 4q + k is block q of u[k]; o[p] holds tiles 2p, 2p + 1 */
    o[0] = _mm256_permute2f128_ps(u[0], u[1], 0x20);
    o[1] = _mm256_permute2f128_ps(u[2], u[3], 0x20);
    o[2] = _mm256_permute2f128_ps(u[0], u[1], 0x31);
    o[3] = _mm256_permute2f128_ps(u[2], u[3], 0x31);
}

static inline void vf_deinterleave4(const vf *a, vf *o)
{
    vf u[4];
    u[0] = _mm256_permute2f128_ps(a[0], a[2], 0x20);
    u[1] = _mm256_permute2f128_ps(a[0], a[2], 0x31);
    u[2] = _mm256_permute2f128_ps(a[1], a[3], 0x20);
    u[3] = _mm256_permute2f128_ps(a[1], a[3], 0x31);
    vf_block_transpose4(u, o);
}

static inline void vf_interleave2(const vf *a, vf *o)
{
    const __m256 lo = _mm256_unpacklo_ps(a[0], a[1]), hi = _mm256_unpackhi_ps(a[0], a[1]);
    o[0] = _mm256_permute2f128_ps(lo, hi, 0x20);
    o[1] = _mm256_permute2f128_ps(lo, hi, 0x31);
}

static inline void vf_deinterleave2(const vf *a, vf *o)
{
    /* per 128-bit block: even and odd elements of a[0] and a[1] */
    const __m256 e = _mm256_shuffle_ps(a[0], a[1], 0x88), d = _mm256_shuffle_ps(a[0], a[1], 0xDD);
    /* blocks: (a0.lo, a1.lo | a0.hi, a1.hi) -> reorder to a0.lo, a0.hi, a1.lo, a1.hi */
    o[0] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
    o[1] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(d), 0xD8));
}

static inline vf vf_shift_in(vf a, float s)
{
    const __m256 r = _mm256_permutevar8x32_ps(a, _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0));
    return _mm256_blend_ps(r, _mm256_set1_ps(s), 0x80);
}

/* vf_deinterleave2 without its two lane-crossing permutes: lanes hold elements 2x + j for
 * x = 0, 1, 4, 5, 2, 3, 6, 7 (per 128-bit block, two from each source) */
static inline void vf_deinterleave2_x(const vf *a, vf *o)
{
    o[0] = _mm256_shuffle_ps(a[0], a[1], 0x88);
    o[1] = _mm256_shuffle_ps(a[0], a[1], 0xDD);
}
static inline vf vf_uncross(vf v)
{
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8));
}
#else
typedef int vf_lanes;
static inline vf_lanes vf_range_lanes(int64_t lo, int64_t hi) { return lo <= 0 && hi > 0; }
static inline vf vf_load_lanes(const float *p, vf_lanes m) { return m ? *p : 0.0f; }
static inline vf vf_mask_lanes(vf a, vf_lanes m) { return m ? a : 0.0f; }

static inline vf vf_load_range(const float *p, int64_t lo, int64_t hi)
{
    return lo <= 0 && hi > 0 ? *p : 0.0f;
}
static inline void vf_interleave4(const vf *a, vf *o)
{
    for (int j = 0; j < 4; j++) o[j] = a[j];
}
static inline void vf_deinterleave4(const vf *a, vf *o)
{
    for (int j = 0; j < 4; j++) o[j] = a[j];
}
static inline void vf_interleave2(const vf *a, vf *o)
{
    o[0] = a[0];
    o[1] = a[1];
}
static inline void vf_deinterleave2(const vf *a, vf *o)
{
    o[0] = a[0];
    o[1] = a[1];
}
static inline vf vf_shift_in(vf a, float s)
{
    (void)a;
    return s;
}
static inline void vf_deinterleave2_x(const vf *a, vf *o) { vf_deinterleave2(a, o); }
static inline vf vf_uncross(vf v) { return v; }
#endif

#endif
