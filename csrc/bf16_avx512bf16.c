/* The bf16 GEMM micro-kernel on AVX512-BF16: vdpbf16ps multiplies a pair of bf16 activations
 * by a pair of bf16 weights per lane and adds both products to a float32 accumulator, so a
 * zmm instruction does 32 multiply-adds where an fp32 FMA does 16.  Tile: up to 6 rows x 4
 * panels (64 columns), 24 accumulators (named variables: an array of them ended partly on
 * the stack); one broadcast of an activation pair per row. */
#include <immintrin.h>
#include <string.h>
#include "bf16_kernels.h"

static inline __attribute__((always_inline)) void
tile_fixed(const size_t MR, const size_t NV, size_t K, const uint16_t *A, size_t lda,
           const uint16_t *B, size_t pstride, float *C, int accumulate)
{
    __m512 c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33, c40, c41, c42, c43, c50, c51, c52, c53;
    if (MR > 0 && NV > 0) c00 = accumulate ? _mm512_loadu_ps(C + 0 * BF_LDC + 0) : _mm512_setzero_ps();
    if (MR > 0 && NV > 1) c01 = accumulate ? _mm512_loadu_ps(C + 0 * BF_LDC + 16) : _mm512_setzero_ps();
    if (MR > 0 && NV > 2) c02 = accumulate ? _mm512_loadu_ps(C + 0 * BF_LDC + 32) : _mm512_setzero_ps();
    if (MR > 0 && NV > 3) c03 = accumulate ? _mm512_loadu_ps(C + 0 * BF_LDC + 48) : _mm512_setzero_ps();
    if (MR > 1 && NV > 0) c10 = accumulate ? _mm512_loadu_ps(C + 1 * BF_LDC + 0) : _mm512_setzero_ps();
    if (MR > 1 && NV > 1) c11 = accumulate ? _mm512_loadu_ps(C + 1 * BF_LDC + 16) : _mm512_setzero_ps();
    if (MR > 1 && NV > 2) c12 = accumulate ? _mm512_loadu_ps(C + 1 * BF_LDC + 32) : _mm512_setzero_ps();
    if (MR > 1 && NV > 3) c13 = accumulate ? _mm512_loadu_ps(C + 1 * BF_LDC + 48) : _mm512_setzero_ps();
    if (MR > 2 && NV > 0) c20 = accumulate ? _mm512_loadu_ps(C + 2 * BF_LDC + 0) : _mm512_setzero_ps();
    if (MR > 2 && NV > 1) c21 = accumulate ? _mm512_loadu_ps(C + 2 * BF_LDC + 16) : _mm512_setzero_ps();
    if (MR > 2 && NV > 2) c22 = accumulate ? _mm512_loadu_ps(C + 2 * BF_LDC + 32) : _mm512_setzero_ps();
    if (MR > 2 && NV > 3) c23 = accumulate ? _mm512_loadu_ps(C + 2 * BF_LDC + 48) : _mm512_setzero_ps();
    if (MR > 3 && NV > 0) c30 = accumulate ? _mm512_loadu_ps(C + 3 * BF_LDC + 0) : _mm512_setzero_ps();
    if (MR > 3 && NV > 1) c31 = accumulate ? _mm512_loadu_ps(C + 3 * BF_LDC + 16) : _mm512_setzero_ps();
    if (MR > 3 && NV > 2) c32 = accumulate ? _mm512_loadu_ps(C + 3 * BF_LDC + 32) : _mm512_setzero_ps();
    if (MR > 3 && NV > 3) c33 = accumulate ? _mm512_loadu_ps(C + 3 * BF_LDC + 48) : _mm512_setzero_ps();
    if (MR > 4 && NV > 0) c40 = accumulate ? _mm512_loadu_ps(C + 4 * BF_LDC + 0) : _mm512_setzero_ps();
    if (MR > 4 && NV > 1) c41 = accumulate ? _mm512_loadu_ps(C + 4 * BF_LDC + 16) : _mm512_setzero_ps();
    if (MR > 4 && NV > 2) c42 = accumulate ? _mm512_loadu_ps(C + 4 * BF_LDC + 32) : _mm512_setzero_ps();
    if (MR > 4 && NV > 3) c43 = accumulate ? _mm512_loadu_ps(C + 4 * BF_LDC + 48) : _mm512_setzero_ps();
    if (MR > 5 && NV > 0) c50 = accumulate ? _mm512_loadu_ps(C + 5 * BF_LDC + 0) : _mm512_setzero_ps();
    if (MR > 5 && NV > 1) c51 = accumulate ? _mm512_loadu_ps(C + 5 * BF_LDC + 16) : _mm512_setzero_ps();
    if (MR > 5 && NV > 2) c52 = accumulate ? _mm512_loadu_ps(C + 5 * BF_LDC + 32) : _mm512_setzero_ps();
    if (MR > 5 && NV > 3) c53 = accumulate ? _mm512_loadu_ps(C + 5 * BF_LDC + 48) : _mm512_setzero_ps();
    const size_t kp_full = K / 2, kp_all = (K + 1) / 2;
    for (size_t kp = 0; kp < kp_all; kp++) {
        const uint16_t *Bk = B + kp * 32;
        __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)Bk), b1 = b0, b2 = b0, b3 = b0;
        if (NV > 1) b1 = (__m512bh)_mm512_loadu_si512((const void *)(Bk + pstride));
        if (NV > 2) b2 = (__m512bh)_mm512_loadu_si512((const void *)(Bk + 2 * pstride));
        if (NV > 3) b3 = (__m512bh)_mm512_loadu_si512((const void *)(Bk + 3 * pstride));
        const uint16_t *Ak = A + 2 * kp;
        const int whole = kp < kp_full;
        if (MR > 0) {
            int32_t a2;
            if (whole) memcpy(&a2, Ak + 0 * lda, 4);
            else a2 = Ak[0 * lda];        /* odd K: the last k, paired with +0 */
            __m512bh a = (__m512bh)_mm512_set1_epi32(a2);
            if (NV > 0) c00 = _mm512_dpbf16_ps(c00, a, b0);
            if (NV > 1) c01 = _mm512_dpbf16_ps(c01, a, b1);
            if (NV > 2) c02 = _mm512_dpbf16_ps(c02, a, b2);
            if (NV > 3) c03 = _mm512_dpbf16_ps(c03, a, b3);
        }
        if (MR > 1) {
            int32_t a2;
            if (whole) memcpy(&a2, Ak + 1 * lda, 4);
            else a2 = Ak[1 * lda];        /* odd K: the last k, paired with +0 */
            __m512bh a = (__m512bh)_mm512_set1_epi32(a2);
            if (NV > 0) c10 = _mm512_dpbf16_ps(c10, a, b0);
            if (NV > 1) c11 = _mm512_dpbf16_ps(c11, a, b1);
            if (NV > 2) c12 = _mm512_dpbf16_ps(c12, a, b2);
            if (NV > 3) c13 = _mm512_dpbf16_ps(c13, a, b3);
        }
        if (MR > 2) {
            int32_t a2;
            if (whole) memcpy(&a2, Ak + 2 * lda, 4);
            else a2 = Ak[2 * lda];        /* odd K: the last k, paired with +0 */
            __m512bh a = (__m512bh)_mm512_set1_epi32(a2);
            if (NV > 0) c20 = _mm512_dpbf16_ps(c20, a, b0);
            if (NV > 1) c21 = _mm512_dpbf16_ps(c21, a, b1);
            if (NV > 2) c22 = _mm512_dpbf16_ps(c22, a, b2);
            if (NV > 3) c23 = _mm512_dpbf16_ps(c23, a, b3);
        }
        if (MR > 3) {
            int32_t a2;
            if (whole) memcpy(&a2, Ak + 3 * lda, 4);
            else a2 = Ak[3 * lda];        /* odd K: the last k, paired with +0 */
            __m512bh a = (__m512bh)_mm512_set1_epi32(a2);
            if (NV > 0) c30 = _mm512_dpbf16_ps(c30, a, b0);
            if (NV > 1) c31 = _mm512_dpbf16_ps(c31, a, b1);
            if (NV > 2) c32 = _mm512_dpbf16_ps(c32, a, b2);
            if (NV > 3) c33 = _mm512_dpbf16_ps(c33, a, b3);
        }
        if (MR > 4) {
            int32_t a2;
            if (whole) memcpy(&a2, Ak + 4 * lda, 4);
            else a2 = Ak[4 * lda];        /* odd K: the last k, paired with +0 */
            __m512bh a = (__m512bh)_mm512_set1_epi32(a2);
            if (NV > 0) c40 = _mm512_dpbf16_ps(c40, a, b0);
            if (NV > 1) c41 = _mm512_dpbf16_ps(c41, a, b1);
            if (NV > 2) c42 = _mm512_dpbf16_ps(c42, a, b2);
            if (NV > 3) c43 = _mm512_dpbf16_ps(c43, a, b3);
        }
        if (MR > 5) {
            int32_t a2;
            if (whole) memcpy(&a2, Ak + 5 * lda, 4);
            else a2 = Ak[5 * lda];        /* odd K: the last k, paired with +0 */
            __m512bh a = (__m512bh)_mm512_set1_epi32(a2);
            if (NV > 0) c50 = _mm512_dpbf16_ps(c50, a, b0);
            if (NV > 1) c51 = _mm512_dpbf16_ps(c51, a, b1);
            if (NV > 2) c52 = _mm512_dpbf16_ps(c52, a, b2);
            if (NV > 3) c53 = _mm512_dpbf16_ps(c53, a, b3);
        }
    }
    if (MR > 0 && NV > 0) _mm512_storeu_ps(C + 0 * BF_LDC + 0, c00);
    if (MR > 0 && NV > 1) _mm512_storeu_ps(C + 0 * BF_LDC + 16, c01);
    if (MR > 0 && NV > 2) _mm512_storeu_ps(C + 0 * BF_LDC + 32, c02);
    if (MR > 0 && NV > 3) _mm512_storeu_ps(C + 0 * BF_LDC + 48, c03);
    if (MR > 1 && NV > 0) _mm512_storeu_ps(C + 1 * BF_LDC + 0, c10);
    if (MR > 1 && NV > 1) _mm512_storeu_ps(C + 1 * BF_LDC + 16, c11);
    if (MR > 1 && NV > 2) _mm512_storeu_ps(C + 1 * BF_LDC + 32, c12);
    if (MR > 1 && NV > 3) _mm512_storeu_ps(C + 1 * BF_LDC + 48, c13);
    if (MR > 2 && NV > 0) _mm512_storeu_ps(C + 2 * BF_LDC + 0, c20);
    if (MR > 2 && NV > 1) _mm512_storeu_ps(C + 2 * BF_LDC + 16, c21);
    if (MR > 2 && NV > 2) _mm512_storeu_ps(C + 2 * BF_LDC + 32, c22);
    if (MR > 2 && NV > 3) _mm512_storeu_ps(C + 2 * BF_LDC + 48, c23);
    if (MR > 3 && NV > 0) _mm512_storeu_ps(C + 3 * BF_LDC + 0, c30);
    if (MR > 3 && NV > 1) _mm512_storeu_ps(C + 3 * BF_LDC + 16, c31);
    if (MR > 3 && NV > 2) _mm512_storeu_ps(C + 3 * BF_LDC + 32, c32);
    if (MR > 3 && NV > 3) _mm512_storeu_ps(C + 3 * BF_LDC + 48, c33);
    if (MR > 4 && NV > 0) _mm512_storeu_ps(C + 4 * BF_LDC + 0, c40);
    if (MR > 4 && NV > 1) _mm512_storeu_ps(C + 4 * BF_LDC + 16, c41);
    if (MR > 4 && NV > 2) _mm512_storeu_ps(C + 4 * BF_LDC + 32, c42);
    if (MR > 4 && NV > 3) _mm512_storeu_ps(C + 4 * BF_LDC + 48, c43);
    if (MR > 5 && NV > 0) _mm512_storeu_ps(C + 5 * BF_LDC + 0, c50);
    if (MR > 5 && NV > 1) _mm512_storeu_ps(C + 5 * BF_LDC + 16, c51);
    if (MR > 5 && NV > 2) _mm512_storeu_ps(C + 5 * BF_LDC + 32, c52);
    if (MR > 5 && NV > 3) _mm512_storeu_ps(C + 5 * BF_LDC + 48, c53);
}

#define BF_CASE_NV(MR)                                                                   \
    switch (nv) {                                                                        \
    case 4: tile_fixed(MR, 4, K, A, lda, B, pstride, C, accumulate); break;                          \
    case 3: tile_fixed(MR, 3, K, A, lda, B, pstride, C, accumulate); break;                          \
    case 2: tile_fixed(MR, 2, K, A, lda, B, pstride, C, accumulate); break;                          \
    default: tile_fixed(MR, 1, K, A, lda, B, pstride, C, accumulate); break;                         \
    }

void bf16_tile_avx512bf16(size_t mr, size_t nv, size_t K, const uint16_t *A, size_t lda,
                          const uint16_t *B, size_t pstride, float *C, int accumulate)
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
