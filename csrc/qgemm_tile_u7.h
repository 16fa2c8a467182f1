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

/* rows per u7 tile: 3 rows x 2 panels (32 columns) keep 12 sums, the ones and a broadcast in
 * the 16 ymm registers, the weights read as vpmaddubsw's memory operand.  Per group of 4 k the
 * tile issues 3 broadcasts for 384 multiply-adds where the 4-row, 1-panel one issued 4 for
 * 256: both are bound by the two integer-multiply pipes (24 multiplies either way), the 3x2
 * one spends fewer other operations around them (tile step 96x64x256 in L1, alternated
 * rounds: 87-89 against 82-86 GMAC/s) */
#define QG_MR_U7 3

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

/* NP (1 or 2) panels (16 columns each) for MR rows over kp: per group of 4 k, each row's
 * broadcast 4 codes against the 8 columns of each half of each panel's packed group. */
static inline __attribute__((always_inline)) void
panels_u7(const size_t MR, const size_t NP, size_t kp, const uint8_t *A, size_t lda,
          const int8_t *B, size_t pstride, int32_t *C, int accumulate)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[QG_MR_U7][4];
    for (size_t i = 0; i < MR; i++)
        for (size_t h = 0; h < 2 * NP; h++)
            acc[i][h] = accumulate ? _mm256_loadu_si256((const __m256i *)(C + i * QG_LDC + 8 * h))
                                   : _mm256_setzero_si256();
    for (size_t g = 0; g < kp / 4; g++) {
        for (size_t i = 0; i < MR; i++) {
            int32_t a4;
            memcpy(&a4, A + i * lda + g * 4, 4);
            const __m256i a = _mm256_set1_epi32(a4);
            for (size_t h = 0; h < 2 * NP; h++) {
                const __m256i b = _mm256_loadu_si256(
                    (const __m256i *)(B + (h / 2) * pstride + g * 64 + 32 * (h % 2)));
                acc[i][h] = _mm256_add_epi32(
                    acc[i][h], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
            }
        }
    }
    for (size_t i = 0; i < MR; i++)
        for (size_t h = 0; h < 2 * NP; h++)
            _mm256_storeu_si256((__m256i *)(C + i * QG_LDC + 8 * h), acc[i][h]);
}

/* the panels of one row tile in pairs, an odd last one alone */
static inline __attribute__((always_inline)) void
rows_u7(const size_t MR, size_t nv, size_t Kp, const uint8_t *A, size_t lda, const int8_t *B,
        size_t pstride, int32_t *C, int accumulate)
{
    size_t v = 0;
    for (; v + 2 <= nv; v += 2)
        panels_u7(MR, 2, Kp, A, lda, B + v * pstride, pstride, C + v * QG_NR, accumulate);
    if (v < nv) panels_u7(MR, 1, Kp, A, lda, B + v * pstride, pstride, C + v * QG_NR, accumulate);
}

static void tile_u7(size_t mr, size_t nv, size_t Kp, const uint8_t *A, size_t lda,
                    const int8_t *B, size_t pstride, int32_t *C, int accumulate)
{
    if (!rows_are_u7(mr, Kp, A, lda)) {
        tile(mr, nv, Kp, A, lda, B, pstride, C, accumulate);
        return;
    }
    switch (mr) {
    case 3: rows_u7(3, nv, Kp, A, lda, B, pstride, C, accumulate); break;
    case 2: rows_u7(2, nv, Kp, A, lda, B, pstride, C, accumulate); break;
    default: rows_u7(1, nv, Kp, A, lda, B, pstride, C, accumulate); break;
    }
}

#endif
