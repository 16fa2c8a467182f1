/* The bf16 GEMM micro-kernel on AVX512-BF16: vdpbf16ps multiplies a pair of bf16 activations
 * by a pair of bf16 weights per lane and adds both products to a float32 accumulator, so a
 * zmm instruction does 32 multiply-adds where an fp32 FMA does 16.  Tile: up to 6 rows x 4
 * panels (64 columns), 24 accumulators; one broadcast of an activation pair per row. */
#include <immintrin.h>
#include <string.h>
#include "bf16_kernels.h"

static inline __attribute__((always_inline)) void
tile_fixed(const size_t MR, const size_t NV, size_t K, const uint16_t *A, size_t lda,
           const uint16_t *B, size_t pstride, float *C)
{
    __m512 acc[BF_MR_AVX512][BF_NV];
    for (size_t i = 0; i < MR; i++)
        for (size_t v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    const size_t kp_full = K / 2, kp_all = (K + 1) / 2;
    for (size_t kp = 0; kp < kp_all; kp++) {
        __m512bh b[BF_NV];
        for (size_t v = 0; v < NV; v++)
            b[v] = (__m512bh)_mm512_loadu_si512((const void *)(B + v * pstride + kp * 32));
        for (size_t i = 0; i < MR; i++) {
            int32_t a2;
            if (kp < kp_full) memcpy(&a2, A + i * lda + 2 * kp, 4);
            else a2 = A[i * lda + 2 * kp];        /* odd K: the last k, paired with +0 */
            __m512bh a = (__m512bh)_mm512_set1_epi32(a2);
            for (size_t v = 0; v < NV; v++) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], a, b[v]);
        }
    }
    for (size_t i = 0; i < MR; i++)
        for (size_t v = 0; v < NV; v++) _mm512_storeu_ps(C + i * BF_LDC + v * 16, acc[i][v]);
}

#define BF_CASE_NV(MR)                                                                   \
    switch (nv) {                                                                        \
    case 4: tile_fixed(MR, 4, K, A, lda, B, pstride, C); break;                          \
    case 3: tile_fixed(MR, 3, K, A, lda, B, pstride, C); break;                          \
    case 2: tile_fixed(MR, 2, K, A, lda, B, pstride, C); break;                          \
    default: tile_fixed(MR, 1, K, A, lda, B, pstride, C); break;                         \
    }

void bf16_tile_avx512bf16(size_t mr, size_t nv, size_t K, const uint16_t *A, size_t lda,
                          const uint16_t *B, size_t pstride, float *C)
{
    switch (mr) {
    case 6: BF_CASE_NV(6) break;
    case 5: BF_CASE_NV(5) break;
    case 4: BF_CASE_NV(4) break;
    case 3: BF_CASE_NV(3) break;
    case 2: BF_CASE_NV(2) break;
    default: BF_CASE_NV(1) break;
    }
}
