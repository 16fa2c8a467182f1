/* The int8 GEMM micro-kernel on AVX512-VNNI: vpdpbusd multiplies 4 u8 activations by 4 s8
 * weights per 32-bit lane and adds the four products to the lane exactly (no 16-bit
 * intermediate, so no saturation).  A tile is up to 6 rows x 4 panels (64 columns): 24
 * accumulators, one broadcast of 4 activation bytes per row and k-group, 4 panel loads.  The
 * accumulators are named variables, not an array: gcc kept an array of them partly on the
 * stack (100 moves per 24 vpdpbusd). */
#include <immintrin.h>
#include <string.h>
#include "qgemm_kernels.h"

static inline __attribute__((always_inline)) void
tile_fixed(const size_t MR, const size_t NV, size_t Kp, const uint8_t *A, size_t lda,
           const int8_t *B, size_t pstride, int32_t *C, int accumulate)
{
    __m512i c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33, c40, c41, c42, c43, c50, c51, c52, c53;
    if (MR > 0 && NV > 0) c00 = accumulate ? _mm512_loadu_si512((const void *)(C + 0 * QG_LDC + 0)) : _mm512_setzero_si512();
    if (MR > 0 && NV > 1) c01 = accumulate ? _mm512_loadu_si512((const void *)(C + 0 * QG_LDC + 16)) : _mm512_setzero_si512();
    if (MR > 0 && NV > 2) c02 = accumulate ? _mm512_loadu_si512((const void *)(C + 0 * QG_LDC + 32)) : _mm512_setzero_si512();
    if (MR > 0 && NV > 3) c03 = accumulate ? _mm512_loadu_si512((const void *)(C + 0 * QG_LDC + 48)) : _mm512_setzero_si512();
    if (MR > 1 && NV > 0) c10 = accumulate ? _mm512_loadu_si512((const void *)(C + 1 * QG_LDC + 0)) : _mm512_setzero_si512();
    if (MR > 1 && NV > 1) c11 = accumulate ? _mm512_loadu_si512((const void *)(C + 1 * QG_LDC + 16)) : _mm512_setzero_si512();
    if (MR > 1 && NV > 2) c12 = accumulate ? _mm512_loadu_si512((const void *)(C + 1 * QG_LDC + 32)) : _mm512_setzero_si512();
    if (MR > 1 && NV > 3) c13 = accumulate ? _mm512_loadu_si512((const void *)(C + 1 * QG_LDC + 48)) : _mm512_setzero_si512();
    if (MR > 2 && NV > 0) c20 = accumulate ? _mm512_loadu_si512((const void *)(C + 2 * QG_LDC + 0)) : _mm512_setzero_si512();
    if (MR > 2 && NV > 1) c21 = accumulate ? _mm512_loadu_si512((const void *)(C + 2 * QG_LDC + 16)) : _mm512_setzero_si512();
    if (MR > 2 && NV > 2) c22 = accumulate ? _mm512_loadu_si512((const void *)(C + 2 * QG_LDC + 32)) : _mm512_setzero_si512();
    if (MR > 2 && NV > 3) c23 = accumulate ? _mm512_loadu_si512((const void *)(C + 2 * QG_LDC + 48)) : _mm512_setzero_si512();
    if (MR > 3 && NV > 0) c30 = accumulate ? _mm512_loadu_si512((const void *)(C + 3 * QG_LDC + 0)) : _mm512_setzero_si512();
    if (MR > 3 && NV > 1) c31 = accumulate ? _mm512_loadu_si512((const void *)(C + 3 * QG_LDC + 16)) : _mm512_setzero_si512();
    if (MR > 3 && NV > 2) c32 = accumulate ? _mm512_loadu_si512((const void *)(C + 3 * QG_LDC + 32)) : _mm512_setzero_si512();
    if (MR > 3 && NV > 3) c33 = accumulate ? _mm512_loadu_si512((const void *)(C + 3 * QG_LDC + 48)) : _mm512_setzero_si512();
    if (MR > 4 && NV > 0) c40 = accumulate ? _mm512_loadu_si512((const void *)(C + 4 * QG_LDC + 0)) : _mm512_setzero_si512();
    if (MR > 4 && NV > 1) c41 = accumulate ? _mm512_loadu_si512((const void *)(C + 4 * QG_LDC + 16)) : _mm512_setzero_si512();
    if (MR > 4 && NV > 2) c42 = accumulate ? _mm512_loadu_si512((const void *)(C + 4 * QG_LDC + 32)) : _mm512_setzero_si512();
    if (MR > 4 && NV > 3) c43 = accumulate ? _mm512_loadu_si512((const void *)(C + 4 * QG_LDC + 48)) : _mm512_setzero_si512();
    if (MR > 5 && NV > 0) c50 = accumulate ? _mm512_loadu_si512((const void *)(C + 5 * QG_LDC + 0)) : _mm512_setzero_si512();
    if (MR > 5 && NV > 1) c51 = accumulate ? _mm512_loadu_si512((const void *)(C + 5 * QG_LDC + 16)) : _mm512_setzero_si512();
    if (MR > 5 && NV > 2) c52 = accumulate ? _mm512_loadu_si512((const void *)(C + 5 * QG_LDC + 32)) : _mm512_setzero_si512();
    if (MR > 5 && NV > 3) c53 = accumulate ? _mm512_loadu_si512((const void *)(C + 5 * QG_LDC + 48)) : _mm512_setzero_si512();
    for (size_t kg = 0; kg < Kp / 4; kg++) {
        const int8_t *Bk = B + kg * 64;
        __m512i b0 = _mm512_loadu_si512((const void *)Bk), b1 = b0, b2 = b0, b3 = b0;
        if (NV > 1) b1 = _mm512_loadu_si512((const void *)(Bk + pstride));
        if (NV > 2) b2 = _mm512_loadu_si512((const void *)(Bk + 2 * pstride));
        if (NV > 3) b3 = _mm512_loadu_si512((const void *)(Bk + 3 * pstride));
        const uint8_t *Ak = A + kg * 4;
        if (MR > 0) {
            int32_t a4;
            memcpy(&a4, Ak + 0 * lda, 4);
            __m512i a = _mm512_set1_epi32(a4);
            if (NV > 0) c00 = _mm512_dpbusd_epi32(c00, a, b0);
            if (NV > 1) c01 = _mm512_dpbusd_epi32(c01, a, b1);
            if (NV > 2) c02 = _mm512_dpbusd_epi32(c02, a, b2);
            if (NV > 3) c03 = _mm512_dpbusd_epi32(c03, a, b3);
        }
        if (MR > 1) {
            int32_t a4;
            memcpy(&a4, Ak + 1 * lda, 4);
            __m512i a = _mm512_set1_epi32(a4);
            if (NV > 0) c10 = _mm512_dpbusd_epi32(c10, a, b0);
            if (NV > 1) c11 = _mm512_dpbusd_epi32(c11, a, b1);
            if (NV > 2) c12 = _mm512_dpbusd_epi32(c12, a, b2);
            if (NV > 3) c13 = _mm512_dpbusd_epi32(c13, a, b3);
        }
        if (MR > 2) {
            int32_t a4;
            memcpy(&a4, Ak + 2 * lda, 4);
            __m512i a = _mm512_set1_epi32(a4);
            if (NV > 0) c20 = _mm512_dpbusd_epi32(c20, a, b0);
            if (NV > 1) c21 = _mm512_dpbusd_epi32(c21, a, b1);
            if (NV > 2) c22 = _mm512_dpbusd_epi32(c22, a, b2);
            if (NV > 3) c23 = _mm512_dpbusd_epi32(c23, a, b3);
        }
        if (MR > 3) {
            int32_t a4;
            memcpy(&a4, Ak + 3 * lda, 4);
            __m512i a = _mm512_set1_epi32(a4);
            if (NV > 0) c30 = _mm512_dpbusd_epi32(c30, a, b0);
            if (NV > 1) c31 = _mm512_dpbusd_epi32(c31, a, b1);
            if (NV > 2) c32 = _mm512_dpbusd_epi32(c32, a, b2);
            if (NV > 3) c33 = _mm512_dpbusd_epi32(c33, a, b3);
        }
        if (MR > 4) {
            int32_t a4;
            memcpy(&a4, Ak + 4 * lda, 4);
            __m512i a = _mm512_set1_epi32(a4);
            if (NV > 0) c40 = _mm512_dpbusd_epi32(c40, a, b0);
            if (NV > 1) c41 = _mm512_dpbusd_epi32(c41, a, b1);
            if (NV > 2) c42 = _mm512_dpbusd_epi32(c42, a, b2);
            if (NV > 3) c43 = _mm512_dpbusd_epi32(c43, a, b3);
        }
        if (MR > 5) {
            int32_t a4;
            memcpy(&a4, Ak + 5 * lda, 4);
            __m512i a = _mm512_set1_epi32(a4);
            if (NV > 0) c50 = _mm512_dpbusd_epi32(c50, a, b0);
            if (NV > 1) c51 = _mm512_dpbusd_epi32(c51, a, b1);
            if (NV > 2) c52 = _mm512_dpbusd_epi32(c52, a, b2);
            if (NV > 3) c53 = _mm512_dpbusd_epi32(c53, a, b3);
        }
    }
    if (MR > 0 && NV > 0) _mm512_storeu_si512((void *)(C + 0 * QG_LDC + 0), c00);
    if (MR > 0 && NV > 1) _mm512_storeu_si512((void *)(C + 0 * QG_LDC + 16), c01);
    if (MR > 0 && NV > 2) _mm512_storeu_si512((void *)(C + 0 * QG_LDC + 32), c02);
    if (MR > 0 && NV > 3) _mm512_storeu_si512((void *)(C + 0 * QG_LDC + 48), c03);
    if (MR > 1 && NV > 0) _mm512_storeu_si512((void *)(C + 1 * QG_LDC + 0), c10);
    if (MR > 1 && NV > 1) _mm512_storeu_si512((void *)(C + 1 * QG_LDC + 16), c11);
    if (MR > 1 && NV > 2) _mm512_storeu_si512((void *)(C + 1 * QG_LDC + 32), c12);
    if (MR > 1 && NV > 3) _mm512_storeu_si512((void *)(C + 1 * QG_LDC + 48), c13);
    if (MR > 2 && NV > 0) _mm512_storeu_si512((void *)(C + 2 * QG_LDC + 0), c20);
    if (MR > 2 && NV > 1) _mm512_storeu_si512((void *)(C + 2 * QG_LDC + 16), c21);
    if (MR > 2 && NV > 2) _mm512_storeu_si512((void *)(C + 2 * QG_LDC + 32), c22);
    if (MR > 2 && NV > 3) _mm512_storeu_si512((void *)(C + 2 * QG_LDC + 48), c23);
    if (MR > 3 && NV > 0) _mm512_storeu_si512((void *)(C + 3 * QG_LDC + 0), c30);
    if (MR > 3 && NV > 1) _mm512_storeu_si512((void *)(C + 3 * QG_LDC + 16), c31);
    if (MR > 3 && NV > 2) _mm512_storeu_si512((void *)(C + 3 * QG_LDC + 32), c32);
    if (MR > 3 && NV > 3) _mm512_storeu_si512((void *)(C + 3 * QG_LDC + 48), c33);
    if (MR > 4 && NV > 0) _mm512_storeu_si512((void *)(C + 4 * QG_LDC + 0), c40);
    if (MR > 4 && NV > 1) _mm512_storeu_si512((void *)(C + 4 * QG_LDC + 16), c41);
    if (MR > 4 && NV > 2) _mm512_storeu_si512((void *)(C + 4 * QG_LDC + 32), c42);
    if (MR > 4 && NV > 3) _mm512_storeu_si512((void *)(C + 4 * QG_LDC + 48), c43);
    if (MR > 5 && NV > 0) _mm512_storeu_si512((void *)(C + 5 * QG_LDC + 0), c50);
    if (MR > 5 && NV > 1) _mm512_storeu_si512((void *)(C + 5 * QG_LDC + 16), c51);
    if (MR > 5 && NV > 2) _mm512_storeu_si512((void *)(C + 5 * QG_LDC + 32), c52);
    if (MR > 5 && NV > 3) _mm512_storeu_si512((void *)(C + 5 * QG_LDC + 48), c53);
}

#define QG_CASE_NV(MR)                                                                   \
    switch (nv) {                                                                        \
    case 4: tile_fixed(MR, 4, Kp, A, lda, B, pstride, C, accumulate); break;                         \
    case 3: tile_fixed(MR, 3, Kp, A, lda, B, pstride, C, accumulate); break;                         \
    case 2: tile_fixed(MR, 2, Kp, A, lda, B, pstride, C, accumulate); break;                         \
    default: tile_fixed(MR, 1, Kp, A, lda, B, pstride, C, accumulate); break;                        \
    }

void qgemm_tile_vnni(size_t mr, size_t nv, size_t Kp, const uint8_t *A, size_t lda,
                     const int8_t *B, size_t pstride, int32_t *C, int accumulate)
{
    switch (mr) {
    case 6: QG_CASE_NV(6) break;
    case 5: QG_CASE_NV(5) break;
    case 4: QG_CASE_NV(4) break;
    case 3: QG_CASE_NV(3) break;
    case 2: QG_CASE_NV(2) break;
    default: QG_CASE_NV(1) break;
    }
}
