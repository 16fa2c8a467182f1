/* 2x2 stride-2 max pooling of one output row, float32, AVX-512.
 *
 * Two input rows r0, r1 (each with at least 2*ow readable elements) give ow outputs.  Sixteen
 * outputs take 32 columns of both rows: the vertical maximum first, then the even and odd
 * columns are separated with one two-source permute each.  Masked loads and stores handle the
 * last partial group, so nothing past 2*ow is read.  NaN wins as in the scalar kernel; with
 * indices, ties keep the first of (r0[2j], r0[2j+1], r1[2j], r1[2j+1]) and a later NaN wins.
 */
#include <immintrin.h>
#include "pool_kernels.h"

/* max(a, b) that returns NaN when either is NaN (vmaxps alone returns b then) */
static inline __m512 p2_nanmax(__m512 a, __m512 b)
{
    const __m512 m = _mm512_max_ps(a, b);
    return _mm512_mask_mov_ps(m, _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), a);
}

/* lanes [0, n) set, n in [0, 16] */
static inline __mmask16 p2_first(int64_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

static void maxpool2x2_row(const float *r0, const float *r1, float *y, int64_t ow)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14,
                                           16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int64_t j = 0; j < ow; j += 16) {
        const int64_t n = ow - j < 16 ? ow - j : 16;
        const __mmask16 lo = p2_first(2 * n), hi = p2_first(2 * n - 16 > 0 ? 2 * n - 16 : 0);
        const float *a = r0 + 2 * j, *b = r1 + 2 * j;
        const __m512 v0 = p2_nanmax(_mm512_maskz_loadu_ps(lo, a), _mm512_maskz_loadu_ps(lo, b));
        const __m512 v1 = p2_nanmax(_mm512_maskz_loadu_ps(hi, a + 16),
                                    _mm512_maskz_loadu_ps(hi, b + 16));
        const __m512 m = p2_nanmax(_mm512_permutex2var_ps(v0, even, v1),
                                   _mm512_permutex2var_ps(v0, odd, v1));
        _mm512_mask_storeu_ps(y + j, p2_first(n), m);
    }
}

/* the same with the flat argmax in the plane: base is the offset of r0[0] in the plane and
 * W the plane's row length (r1 = r0 + W) */
static void maxpool2x2_row_idx(const float *r0, const float *r1, float *y, int64_t *idx,
                               int64_t ow, int64_t base, int64_t W)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14,
                                           16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    /* offsets of the four window positions relative to the window's first element */
    const __m512i at_b = _mm512_set1_epi64(1), at_c = _mm512_set1_epi64(W),
                  at_d = _mm512_set1_epi64(W + 1);
    const __m512i lane2 = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    for (int64_t j = 0; j < ow; j += 16) {
        const int64_t n = ow - j < 16 ? ow - j : 16;
        const __mmask16 lo = p2_first(2 * n), hi = p2_first(2 * n - 16 > 0 ? 2 * n - 16 : 0);
        const float *pa = r0 + 2 * j, *pb = r1 + 2 * j;
        const __m512 t0 = _mm512_maskz_loadu_ps(lo, pa), t1 = _mm512_maskz_loadu_ps(hi, pa + 16);
        const __m512 u0 = _mm512_maskz_loadu_ps(lo, pb), u1 = _mm512_maskz_loadu_ps(hi, pb + 16);
        const __m512 cand[3] = {_mm512_permutex2var_ps(t0, odd, t1),
                                _mm512_permutex2var_ps(u0, even, u1),
                                _mm512_permutex2var_ps(u0, odd, u1)};
        const __m512i offs[3] = {at_b, at_c, at_d};
        __m512 best = _mm512_permutex2var_ps(t0, even, t1);
        /* window offsets for outputs j..j+7 (lo8) and j+8..j+15 (hi8) */
        __m512i at_lo = _mm512_setzero_si512(), at_hi = _mm512_setzero_si512();
        for (int k = 0; k < 3; k++) {
            const __m512 v = cand[k];
            const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
                                   _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
            best = _mm512_mask_mov_ps(best, take, v);
            at_lo = _mm512_mask_mov_epi64(at_lo, (__mmask8)(take & 0xFF), offs[k]);
            at_hi = _mm512_mask_mov_epi64(at_hi, (__mmask8)(take >> 8), offs[k]);
        }
        _mm512_mask_storeu_ps(y + j, p2_first(n), best);
        const __m512i first = _mm512_add_epi64(_mm512_set1_epi64(base + 2 * j), lane2);
        const __m512i i_lo = _mm512_add_epi64(first, at_lo);
        const __m512i i_hi = _mm512_add_epi64(_mm512_add_epi64(first, _mm512_set1_epi64(16)),
                                              at_hi);
        const __mmask16 keep = p2_first(n);
        _mm512_mask_storeu_epi64(idx + j, (__mmask8)(keep & 0xFF), i_lo);
        _mm512_mask_storeu_epi64(idx + j + 8, (__mmask8)(keep >> 8), i_hi);
    }
}

const pool_kernels_t pool_kernels_avx512 = {maxpool2x2_row, maxpool2x2_row_idx};
