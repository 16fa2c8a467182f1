/* AVX2 + FMA float32 GEMM micro-kernel: a 6 x 16 register tile.
 *
 * 16 ymm registers: 6 rows x 2 ymm = 12 accumulators, 2 for the B row, 1 for the broadcast A
 * value (AVX2 has no embedded broadcast), one spare.  Each k step: 2 B loads, 6 broadcasts,
 * 12 FMAs, so the two FMA pipes stay busy.  Right-edge tiles use vmaskmov loads/stores, which
 * do not touch memory in masked-off lanes.
 */
#include <immintrin.h>
#include <stdint.h>
#include "gemm_kernels.h"
#include "gemm_gelu.h"

enum { MR = DL_SGEMM_AVX2_MR, NR = DL_SGEMM_AVX2_NR };

/* All-ones in lanes [0, n) of an 8-lane integer mask; n may be >= 8. */
static inline __m256i lanes(size_t n)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int k = n >= 8 ? 8 : (int)n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), idx);
}

/* acc = the kc-step sums of R rows of op(A) (element (i, k) at a[i * ars + k * acs]) against
 * B: one FMA per k, k ascending, from zero, whichever way A is laid out, so the packed and
 * in-place paths give the same bits.  FULL (a compile-time constant) reads B with plain loads
 * (nr == NR), otherwise with vmaskmov, which touches nothing past nr. */
static inline __attribute__((always_inline)) void kloop(const int R, const int FULL, size_t kc,
                                                        const float *restrict a, ptrdiff_t ars,
                                                        ptrdiff_t acs, const float *restrict b,
                                                        ptrdiff_t ldb, __m256i m0, __m256i m1,
                                                        __m256 acc[MR][2])
{
#pragma GCC unroll 6
    for (int i = 0; i < R; i++) {
        acc[i][0] = _mm256_setzero_ps();
        acc[i][1] = _mm256_setzero_ps();
    }
    for (size_t k = 0; k < kc; k++) {
        __m256 b0 = FULL ? _mm256_loadu_ps(b) : _mm256_maskload_ps(b, m0);
        __m256 b1 = FULL ? _mm256_loadu_ps(b + 8) : _mm256_maskload_ps(b + 8, m1);
#pragma GCC unroll 6
        for (int i = 0; i < R; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i * ars);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += acs;
        b += ldb;
    }
}

/* The epilogue (gemm_kernels.h) on rows [0, min(R, mr)) of the tile, columns [0, nr). */
static inline __attribute__((always_inline)) void finish(const int R, __m256 acc[MR][2],
                                                         float *restrict c, ptrdiff_t ldc,
                                                         size_t mr, __m256i m0, __m256i m1,
                                                         const dl_gemm_epi *e)
{
    const __m256 alpha = _mm256_set1_ps((float)e->alpha);
    const float beta_s = (float)e->beta;
    const __m256 beta = _mm256_set1_ps(beta_s);
    const float *brow = e->bias_row, *bcol = e->bias_col;
    __m256 br0 = _mm256_setzero_ps(), br1 = _mm256_setzero_ps();
    if (brow) {
        br0 = _mm256_maskload_ps(brow, m0);
        br1 = _mm256_maskload_ps(brow + 8, m1);
    }
    const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int i = 0; i < R; i++) {
        if ((size_t)i >= mr) break;
        float *ci = c + i * ldc;
        __m256 v0 = _mm256_mul_ps(alpha, acc[i][0]);
        __m256 v1 = _mm256_mul_ps(alpha, acc[i][1]);
        if (beta_s != 0.0f) {
            v0 = _mm256_fmadd_ps(beta, _mm256_maskload_ps(ci, m0), v0);
            v1 = _mm256_fmadd_ps(beta, _mm256_maskload_ps(ci + 8, m1), v1);
        }
        if (brow) {
            v0 = _mm256_add_ps(v0, br0);
            v1 = _mm256_add_ps(v1, br1);
        }
        if (bcol) {
            __m256 bc = _mm256_set1_ps(bcol[i]);
            v0 = _mm256_add_ps(v0, bc);
            v1 = _mm256_add_ps(v1, bc);
        }
        if (e->act == DL_ACT_RELU) {
            /* max returns its second operand when either is NaN: NaN propagates. */
            v0 = _mm256_max_ps(zero, v0);
            v1 = _mm256_max_ps(zero, v1);
        } else if (e->act == DL_ACT_GELU) {
            v0 = dl_gelu_vf(v0);
            v1 = dl_gelu_vf(v1);
        } else if (e->act == DL_ACT_RELU6) {
            /* max and min return their second operand on NaN: NaN propagates */
            const __m256 six = _mm256_set1_ps(6.0f);
            v0 = _mm256_min_ps(six, _mm256_max_ps(zero, v0));
            v1 = _mm256_min_ps(six, _mm256_max_ps(zero, v1));
        }
        _mm256_maskstore_ps(ci, m0, v0);
        _mm256_maskstore_ps(ci + 8, m1, v1);
    }
}

void dl_sgemm_kernel_avx2(size_t kc, const void *a_, const void *b_, ptrdiff_t ldb, void *c_,
                          ptrdiff_t ldc, size_t mr, size_t nr, const dl_gemm_epi *e)
{
    const float *a = a_, *b = b_;
    float *c = c_;
    __m256i m0 = lanes(nr), m1 = lanes(nr > 8 ? nr - 8 : 0);
    __m256 acc[MR][2];
    for (size_t i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + NR - 1), _MM_HINT_T0);
    }
    /* the packed micro-panel: MR rows, zero-padded past mr */
    if (nr == NR) kloop(MR, 1, kc, a, 1, MR, b, ldb, m0, m1, acc);
    else kloop(MR, 0, kc, a, 1, MR, b, ldb, m0, m1, acc);
    finish(MR, acc, c, ldc, mr, m0, m1, e);
}

/* ---- A read in place (the small-product path) ---------------------------------------------- */

/* One tile with exactly R rows of op(A) read where they are: rows past R are never read. */
static inline __attribute__((always_inline)) void tile_sa(const int R, size_t kc,
                                                          const float *restrict a,
                                                          ptrdiff_t ars, ptrdiff_t acs,
                                                          const float *restrict b,
                                                          ptrdiff_t ldb, float *restrict c,
                                                          ptrdiff_t ldc, size_t nr,
                                                          const dl_gemm_epi *e)
{
    const __m256i m0 = lanes(nr), m1 = lanes(nr > 8 ? nr - 8 : 0);
    __m256 acc[MR][2];
    kloop(R, 0, kc, a, ars, acs, b, ldb, m0, m1, acc);
    finish(R, acc, c, ldc, (size_t)R, m0, m1, e);
}

void dl_sgemm_kernel_sa_avx2(size_t kc, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                             const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, size_t mr,
                             size_t nr, const dl_gemm_epi *e)
{
    switch (mr) {
        case 1: tile_sa(1, kc, a, ars, acs, b, ldb, c, ldc, nr, e); break;
        case 2: tile_sa(2, kc, a, ars, acs, b, ldb, c, ldc, nr, e); break;
        case 3: tile_sa(3, kc, a, ars, acs, b, ldb, c, ldc, nr, e); break;
        case 4: tile_sa(4, kc, a, ars, acs, b, ldb, c, ldc, nr, e); break;
        case 5: tile_sa(5, kc, a, ars, acs, b, ldb, c, ldc, nr, e); break;
        case 6: tile_sa(6, kc, a, ars, acs, b, ldb, c, ldc, nr, e); break;
        default: break;
    }
}
