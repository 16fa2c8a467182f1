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

/* no AVX2 kernel with indices: pool_impl.h's loop */
const pool_kernels_t pool_kernels_avx2 = {maxpool2x2_row, NULL};
