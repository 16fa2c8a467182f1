/* AVX-512 float32 GEMM micro-kernel: a 14 x 32 register tile.
 *
 * Why 14 x 32: Zen 4 executes a 512-bit FMA as two 256-bit halves, so zmm buys no FLOPs over
 * ymm but halves the instruction count.  The tile is limited by the 32 zmm registers:
 * 14 rows x 2 zmm = 28 accumulators, 2 registers for the B row, and the A values come in as
 * embedded broadcasts from memory ({1to16} operands), so nothing spills.  Each k step issues
 * 2 B loads + 14 broadcast loads for 28 FMAs: the FMA pipes, not the load ports, are the limit.
 * C is row-major, so each tile row is two contiguous zmm stores (masked at the right edge).
 */
#include <immintrin.h>
#include "dlcore/gemm_kernels.h"

enum { MR = DL_SGEMM_AVX512_MR, NR = DL_SGEMM_AVX512_NR };

/* Lanes [0, n) of a 16-lane mask; n may exceed 16. */
static inline __mmask16 lanes(size_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* The k loop.  `acc` is a fixed-size array indexed only with constants after unrolling, so
 * the compiler keeps it in registers.  Masked loads let unpacked B (read in place, possibly
 * ending at the last column of the matrix) be read without touching memory past nr. */
static inline void kloop(size_t kc, const float *restrict a, const float *restrict b,
                         ptrdiff_t ldb, __mmask16 m0, __mmask16 m1, __m512 acc[MR][2])
{
    for (size_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_maskz_loadu_ps(m0, b);
        __m512 b1 = _mm512_maskz_loadu_ps(m1, b + 16);
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += MR;
        b += ldb;
    }
}

static void gelu_row(float *c, size_t n)
{
    for (size_t j = 0; j < n; j++) c[j] = dl_gelu_f32(c[j]);
}

void dl_sgemm_kernel_avx512(size_t kc, const void *a_, const void *b_, ptrdiff_t ldb, void *c_,
                            ptrdiff_t ldc, size_t mr, size_t nr, const dl_gemm_epi *e)
{
    const float *a = a_, *b = b_;
    float *c = c_;
    __mmask16 m0 = lanes(nr), m1 = lanes(nr > 16 ? nr - 16 : 0);
    __m512 acc[MR][2];
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
    }
    /* Bring the C tile toward L1 while the k loop runs (it is read only when beta != 0, but
     * it is always written). */
    for (size_t i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + NR - 1), _MM_HINT_T0);
    }
    kloop(kc, a, b, ldb, m0, m1, acc);

    const __m512 alpha = _mm512_set1_ps((float)e->alpha);
    const float beta_s = (float)e->beta;
    const __m512 beta = _mm512_set1_ps(beta_s);
    const float *brow = e->bias_row, *bcol = e->bias_col;
    __m512 br0 = _mm512_setzero_ps(), br1 = _mm512_setzero_ps();
    if (brow) {
        br0 = _mm512_maskz_loadu_ps(m0, brow);
        br1 = _mm512_maskz_loadu_ps(m1, brow + 16);
    }
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
        if ((size_t)i >= mr) break;
        float *ci = c + i * ldc;
        __m512 v0 = _mm512_mul_ps(alpha, acc[i][0]);
        __m512 v1 = _mm512_mul_ps(alpha, acc[i][1]);
        if (beta_s != 0.0f) {
            v0 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m0, ci), v0);
            v1 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m1, ci + 16), v1);
        }
        if (brow) {
            v0 = _mm512_add_ps(v0, br0);
            v1 = _mm512_add_ps(v1, br1);
        }
        if (bcol) {
            __m512 bc = _mm512_set1_ps(bcol[i]);
            v0 = _mm512_add_ps(v0, bc);
            v1 = _mm512_add_ps(v1, bc);
        }
        if (e->act == DL_ACT_RELU) {
            /* max returns its second operand when either is NaN: NaN propagates. */
            v0 = _mm512_max_ps(zero, v0);
            v1 = _mm512_max_ps(zero, v1);
        }
        _mm512_mask_storeu_ps(ci, m0, v0);
        _mm512_mask_storeu_ps(ci + 16, m1, v1);
        if (e->act == DL_ACT_GELU) gelu_row(ci, nr);
    }
}
