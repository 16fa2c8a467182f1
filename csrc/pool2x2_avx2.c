/* 2x2 stride-2 max pooling of one output row, float32, AVX2 (see pool2x2_avx512.c).
 * Full groups of eight outputs are vectorized; the rest of the row is done one by one. */
#include <immintrin.h>
#include "pool_kernels.h"

static inline float p2s_nanmax(float a, float b) { return (b > a || b != b) ? b : a; }

/* max that keeps NaN from either side (vmaxps alone returns b when either is NaN) */
static inline __m256 p2v_nanmax(__m256 a, __m256 b)
{
    return _mm256_blendv_ps(_mm256_max_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
}

static void maxpool2x2_row(const float *r0, const float *r1, float *y, int64_t ow)
{
    int64_t j = 0;
    for (; j + 8 <= ow; j += 8) {
        const __m256 v0 = p2v_nanmax(_mm256_loadu_ps(r0 + 2 * j), _mm256_loadu_ps(r1 + 2 * j));
        const __m256 v1 = p2v_nanmax(_mm256_loadu_ps(r0 + 2 * j + 8),
                                     _mm256_loadu_ps(r1 + 2 * j + 8));
        /* per 128-bit half: (v0[0], v0[2], v1[0], v1[2]); the 64-bit permute restores order */
        const __m256 ev = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0));
        const __m256 od = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(3, 1, 3, 1));
        const __m256 m = p2v_nanmax(ev, od);
        _mm256_storeu_ps(y + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m),
                                                                       _MM_SHUFFLE(3, 1, 2, 0))));
    }
    for (; j < ow; j++)
        y[j] = p2s_nanmax(p2s_nanmax(r0[2 * j], r0[2 * j + 1]),
                          p2s_nanmax(r1[2 * j], r1[2 * j + 1]));
}

/* no AVX2 kernel with indices: pool_impl.h's loop */
const pool_kernels_t pool_kernels_avx2 = {maxpool2x2_row, NULL};
