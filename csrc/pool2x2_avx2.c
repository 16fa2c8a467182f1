/* 2x2 stride-2 max pooling of one output row, float32, AVX2 (see pool2x2_avx512.c).
 * Groups of eight outputs are vectorized.  A row of at least eight ends with the last eight
 * outputs done again as one vector (overlapping the group before: the same values written
 * twice), a shorter row (LeNet's 10 -> 5) with masked loads and stores: the one-by-one tail
 * with its NaN tests took most of LeNet's pooling (6 of 14 outputs a row on its 28 x 28
 * maps; Zen 3, one thread: the batch-32 plan's first pooling step 159 -> 20 us, eager
 * (32, 6, 28, 28) 0.26 -> 0.057 ms CPU time).  Nothing past 2*ow of either row is read. */
#include <immintrin.h>
#include "pool_kernels.h"

/* max that keeps NaN from either side (vmaxps alone returns b when either is NaN) */
static inline __m256 p2v_nanmax(__m256 a, __m256 b)
{
    return _mm256_blendv_ps(_mm256_max_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
}

/* the eight outputs of the 16 columns in v0, v1 (the two rows' maximum already taken) */
static inline __m256 p2v_pairs(__m256 v0, __m256 v1)
{
    /* per 128-bit half: (v0[0], v0[2], v1[0], v1[2]); the 64-bit permute restores order */
    const __m256 ev = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 od = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(3, 1, 3, 1));
    const __m256 m = p2v_nanmax(ev, od);
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), _MM_SHUFFLE(3, 1, 2, 0)));
}

static inline __m256 p2v_group(const float *r0, const float *r1)
{
    return p2v_pairs(p2v_nanmax(_mm256_loadu_ps(r0), _mm256_loadu_ps(r1)),
                     p2v_nanmax(_mm256_loadu_ps(r0 + 8), _mm256_loadu_ps(r1 + 8)));
}

/* lanes [0, n) set, n in [0, 8] */
static inline __m256i p2v_first(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static void maxpool2x2_row(const float *r0, const float *r1, float *y, int64_t ow)
{
    int64_t j = 0;
    for (; j + 8 <= ow; j += 8) _mm256_storeu_ps(y + j, p2v_group(r0 + 2 * j, r1 + 2 * j));
    if (j == ow) return;
    if (ow >= 8) {
        j = ow - 8;
        _mm256_storeu_ps(y + j, p2v_group(r0 + 2 * j, r1 + 2 * j));
        return;
    }
    /* ow < 8: 2*ow columns in two masked vectors (masked-off lanes read as 0 and are
     * dropped by the store) */
    const __m256i lo = p2v_first(2 * ow), hi = p2v_first(2 * ow > 8 ? 2 * ow - 8 : 0);
    const __m256 v0 = p2v_nanmax(_mm256_maskload_ps(r0, lo), _mm256_maskload_ps(r1, lo));
    const __m256 v1 = p2v_nanmax(_mm256_maskload_ps(r0 + 8, hi), _mm256_maskload_ps(r1 + 8, hi));
    _mm256_maskstore_ps(y, p2v_first(ow), p2v_pairs(v0, v1));
}

/* outputs j .. j+7 of a row with indices (window offsets 0, 1, W, W + 1 as int32 lanes): the
 * scan's rule, first maximum kept and a later NaN taking over.  Compared in the even/odd
 * shuffles' lane order; best and at are put back in order once at the end. */
static inline void p2v_group_idx(const float *r0, const float *r1, float *y, int64_t *idx,
                                 int64_t first, __m256i off_w)
{
    const __m256 a0 = _mm256_loadu_ps(r0), a1 = _mm256_loadu_ps(r0 + 8);
    const __m256 b0 = _mm256_loadu_ps(r1), b1 = _mm256_loadu_ps(r1 + 8);
    const __m256 cand[3] = {_mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1)),
                            _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1))};
    const __m256i offs[3] = {_mm256_set1_epi32(1), off_w,
                             _mm256_add_epi32(off_w, _mm256_set1_epi32(1))};
    __m256 best = _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0));
    __m256 at = _mm256_setzero_ps();
    for (int k = 0; k < 3; k++) {
        const __m256 v = cand[k];
        const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                                         _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        best = _mm256_blendv_ps(best, v, take);
        at = _mm256_blendv_ps(at, _mm256_castsi256_ps(offs[k]), take);
    }
    best = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(best), _MM_SHUFFLE(3, 1, 2, 0)));
    const __m256i ai = _mm256_castpd_si256(_mm256_permute4x64_pd(_mm256_castps_pd(at),
                                                                 _MM_SHUFFLE(3, 1, 2, 0)));
    _mm256_storeu_ps(y, best);
    const __m256i lane2 = _mm256_setr_epi64x(0, 2, 4, 6);
    const __m256i f = _mm256_add_epi64(_mm256_set1_epi64x(first), lane2);
    _mm256_storeu_si256((__m256i *)idx,
                        _mm256_add_epi64(f, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(ai))));
    _mm256_storeu_si256((__m256i *)(idx + 4),
                        _mm256_add_epi64(_mm256_add_epi64(f, _mm256_set1_epi64x(8)),
                                         _mm256_cvtepi32_epi64(_mm256_extracti128_si256(ai, 1))));
}

/* the same with the flat argmax (base: offset of r0[0] in the plane, rows W apart), for the
 * training forward (pool_impl.h's scalar loop was ~4x the no-index kernel's time on LeNet).
 * A row of 8+ ends with its last eight outputs again as one group (the same values written
 * twice); a shorter one (LeNet's 10 -> 5) goes through an 8-output buffer, since a masked
 * 256-bit store is microcoded on AMD Zen and nothing past 2*ow may be read. */
static void maxpool2x2_row_idx(const float *r0, const float *r1, float *y, int64_t *idx,
                               int64_t ow, int64_t base, int64_t W)
{
    if (W >= INT32_MAX) {  /* offsets W + 1 kept as int32 lanes */
        for (int64_t j = 0; j < ow; j++) {
            const float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
            float best = a;
            int64_t at = 0;
            if (b > best || b != b) best = b, at = 1;
            if (c > best || c != c) best = c, at = W;
            if (d > best || d != d) best = d, at = W + 1;
            y[j] = best;
            idx[j] = base + 2 * j + at;
        }
        return;
    }
    const __m256i off_w = _mm256_set1_epi32((int)W);
    int64_t j = 0;
    for (; j + 8 <= ow; j += 8)
        p2v_group_idx(r0 + 2 * j, r1 + 2 * j, y + j, idx + j, base + 2 * j, off_w);
    if (j == ow) return;
    if (ow >= 8) {
        j = ow - 8;
        p2v_group_idx(r0 + 2 * j, r1 + 2 * j, y + j, idx + j, base + 2 * j, off_w);
        return;
    }
    float a[16] = {0}, b[16] = {0}, yb[8];
    int64_t ib[8];
    for (int64_t k = 0; k < 2 * ow; k++) a[k] = r0[k], b[k] = r1[k];
    p2v_group_idx(a, b, yb, ib, base, off_w);
    for (int64_t k = 0; k < ow; k++) y[k] = yb[k], idx[k] = ib[k];
}

const pool_kernels_t pool_kernels_avx2 = {maxpool2x2_row, maxpool2x2_row_idx};
