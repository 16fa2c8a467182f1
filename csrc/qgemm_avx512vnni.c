/* The int8 GEMM micro-kernel on AVX512-VNNI: vpdpbusd multiplies 4 u8 activations by 4 s8
 * weights per 32-bit lane and adds the four products to the lane exactly (no 16-bit
 * intermediate, so no saturation).  A tile is up to 6 rows x 4 panels (64 columns): 24
 * accumulators, one broadcast of 4 activation bytes per row and k-group, 4 panel loads. */
#include <immintrin.h>
#include <string.h>
#include "qgemm_kernels.h"

static inline __attribute__((always_inline)) void
tile_fixed(const size_t MR, const size_t NV, size_t Kp, const uint8_t *A, size_t lda,
           const int8_t *B, size_t pstride, int32_t *C)
{
    __m512i acc[QG_MR_VNNI][QG_NV];
    for (size_t i = 0; i < MR; i++)
        for (size_t v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_si512();
    for (size_t kg = 0; kg < Kp / 4; kg++) {
        __m512i b[QG_NV];
        for (size_t v = 0; v < NV; v++)
            b[v] = _mm512_loadu_si512((const void *)(B + v * pstride + kg * 64));
        for (size_t i = 0; i < MR; i++) {
            int32_t a4;
            memcpy(&a4, A + i * lda + kg * 4, 4);
            __m512i a = _mm512_set1_epi32(a4);
            for (size_t v = 0; v < NV; v++) acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], a, b[v]);
        }
    }
    for (size_t i = 0; i < MR; i++)
        for (size_t v = 0; v < NV; v++)
            _mm512_storeu_si512((void *)(C + i * QG_LDC + v * 16), acc[i][v]);
}

#define QG_CASE_NV(MR)                                                                   \
    switch (nv) {                                                                        \
    case 4: tile_fixed(MR, 4, Kp, A, lda, B, pstride, C); break;                         \
    case 3: tile_fixed(MR, 3, Kp, A, lda, B, pstride, C); break;                         \
    case 2: tile_fixed(MR, 2, Kp, A, lda, B, pstride, C); break;                         \
    default: tile_fixed(MR, 1, Kp, A, lda, B, pstride, C); break;                        \
    }

void qgemm_tile_vnni(size_t mr, size_t nv, size_t Kp, const uint8_t *A, size_t lda,
                     const int8_t *B, size_t pstride, int32_t *C)
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
