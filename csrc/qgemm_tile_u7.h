/* The AVX2 int8 tile for 7-bit activations (qgemm_simd.c includes it in the AVX2 build only):
 * u8 x s8 sums, exact, with vpmaddubsw when every activation code of the tile is in 0..127.
 *
 * vpmaddubsw multiplies u8 by s8 and adds each pair into a saturating s16.  With codes up to
 * 255 a pair reaches 255 * -128 * 2 = -65280 and saturates (why the full-range tile,
 * qgemm_tile_s16.h, widens to 16 bits); with codes up to 127 a pair is at most
 * 127 * 128 * 2 = 32512 in magnitude and fits, so vpmaddubsw is exact and vpmaddwd by 1 widens
 * its pairs to the 4-k sums in 32 bits: 2 vpmaddubsw + 2 vpmaddwd + 2 adds per row and 64
 * multiply-adds, read straight from the activation rows (a 4-byte broadcast), where the
 * 16-bit tile needs 4 vpmaddwd + 4 adds, shifts to widen the weights and a pass to widen the
 * activations.  That is what reduce_range buys (activations quantized to 0..127, torch's
 * fbgemm trick), at one bit of activation precision.
 *
 * The tile checks its own rows first (one OR per 32 bytes, ~1% of the tile's work): a code
 * above 127 anywhere in them sends the tile to the 16-bit one, so a byte outside 0..127 never
 * reaches vpmaddubsw whatever the caller promised (a static model's activations beyond the
 * calibrated range, a user's codes).  Both tiles give the same integer sums.
 *
 * Needs QG_NR, QG_LDC, <immintrin.h>, and the 16-bit tile's `tile` defined before it. */
#ifndef DLCORE_QGEMM_TILE_U7_H
#define DLCORE_QGEMM_TILE_U7_H

/* rows per u7 tile: 4 rows x 2 sums + 2 weight vectors + ones + a broadcast + 2 products
 * fit the 16 ymm registers */
#define QG_MR_U7 4

/* 1 when every byte of rows [0, mr) over [0, kp) (kp a multiple of 4) is at most 127 */
static inline int rows_are_u7(size_t mr, size_t kp, const uint8_t *A, size_t lda)
{
    __m256i any = _mm256_setzero_si256();
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (size_t i = 0; i < mr; i++) {
        const uint8_t *a = A + i * lda;
        size_t k = 0;
        for (; k + 32 <= kp; k += 32)
            any = _mm256_or_si256(any, _mm256_loadu_si256((const __m256i *)(a + k)));
        if (k < kp) {
            /* the last 1..7 words by a masked load: nothing past the row's kp is read */
            const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)((kp - k) / 4)), lane);
            any = _mm256_or_si256(any, _mm256_maskload_epi32((const int *)(a + k), m));
        }
    }
    return _mm256_movemask_epi8(any) == 0;
}

/* One panel (16 columns) for MR rows over kp: per group of 4 k, the 8 columns of each half
 * of the packed group against the row's broadcast 4 codes. */
static inline __attribute__((always_inline)) void
panel_u7(const size_t MR, size_t kp, const uint8_t *A, size_t lda, const int8_t *B, int32_t *C,
         int accumulate)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[QG_MR_U7][2];
    for (size_t i = 0; i < MR; i++)
        for (size_t h = 0; h < 2; h++)
            acc[i][h] = accumulate ? _mm256_loadu_si256((const __m256i *)(C + i * QG_LDC + 8 * h))
                                   : _mm256_setzero_si256();
    for (size_t g = 0; g < kp / 4; g++) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)(B + g * 64));
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(B + g * 64 + 32));
        for (size_t i = 0; i < MR; i++) {
            int32_t a4;
            memcpy(&a4, A + i * lda + g * 4, 4);
            const __m256i a = _mm256_set1_epi32(a4);
            acc[i][0] = _mm256_add_epi32(acc[i][0],
                                         _mm256_madd_epi16(_mm256_maddubs_epi16(a, b0), ones));
            acc[i][1] = _mm256_add_epi32(acc[i][1],
                                         _mm256_madd_epi16(_mm256_maddubs_epi16(a, b1), ones));
        }
    }
    for (size_t i = 0; i < MR; i++) {
        _mm256_storeu_si256((__m256i *)(C + i * QG_LDC), acc[i][0]);
        _mm256_storeu_si256((__m256i *)(C + i * QG_LDC + 8), acc[i][1]);
    }
}

static void tile_u7(size_t mr, size_t nv, size_t Kp, const uint8_t *A, size_t lda,
                    const int8_t *B, size_t pstride, int32_t *C, int accumulate)
{
    if (!rows_are_u7(mr, Kp, A, lda)) {
        tile(mr, nv, Kp, A, lda, B, pstride, C, accumulate);
        return;
    }
    for (size_t v = 0; v < nv; v++) {
        const int8_t *Bv = B + v * pstride;
        int32_t *Cv = C + v * QG_NR;
        switch (mr) {
        case 4: panel_u7(4, Kp, A, lda, Bv, Cv, accumulate); break;
        case 3: panel_u7(3, Kp, A, lda, Bv, Cv, accumulate); break;
        case 2: panel_u7(2, Kp, A, lda, Bv, Cv, accumulate); break;
        default: panel_u7(1, Kp, A, lda, Bv, Cv, accumulate); break;
        }
    }
}

#endif
