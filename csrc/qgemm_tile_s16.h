/* The AVX2 int8 tile (qgemm_simd.c includes it in the AVX2 build only): u8 x s8 sums, exact,
 * with vpmaddwd on 16-bit operands.
 *
 * Why not vpmaddubsw: it adds u8 x s8 pairs into a saturating s16 and 255 * -128 * 2 does not
 * fit, so an exact tile on it splits each activation byte in two (7 low bits + the top one):
 * 4 vpmaddubsw + 4 vpmaddwd + 4 adds + 3 to split, per 64 multiply-adds.  Widened to 16 bits
 * both ways, one vpmaddwd does 16 multiply-adds exactly (pairs reach 2 * 255 * 128 = 65280 in
 * 32 bits): 4 vpmaddwd + 4 adds per 64, the weights widened in registers (3 shifts per 32
 * bytes, shared by the tile's rows) and the activations once per tile into a stack buffer.
 * Measured at one thread on Zen 3 (128x384x384 .. 4096x384x384): 58-64 GMAC/s against the
 * byte-split tile's 36-41; weights pre-widened to 16 bits (twice the bytes) would save the
 * shifts, at most 5% in the same test.
 *
 * Needs QG_MR (rows per tile), QG_NR, QG_LDC and <immintrin.h>. */
#ifndef DLCORE_QGEMM_TILE_S16_H
#define DLCORE_QGEMM_TILE_S16_H

/* k per pass of the tile: its rows' widened activations (QG_MR x QG_KPASS x 2 bytes) stay on
 * the stack; a K block (QG_KC) is one pass */
#define QG_KPASS 256
/* the sums stay in registers: without this GCC reassociates the even and odd products of a row
 * into one add chain and spills half the sums (MR 6) */
#define QG_KEEP(x, y) __asm__("" : "+x"(x), "+x"(y))

/* Rows i of A (k in [0, kp), kp a multiple of 4) as 16-bit pairs for vpmaddwd: for each group
 * of 4 bytes a0..a3, e = (a0, a2) and o = (a1, a3), each one 32-bit word to broadcast.  Eight
 * groups per 32-byte load: the even bytes masked, the odd ones shifted down. */
static inline __attribute__((always_inline)) void
widen_rows(const size_t MR, size_t kp, const uint8_t *A, size_t lda, uint32_t *ae, uint32_t *ao)
{
    const __m256i even = _mm256_set1_epi16(0x00ff);
    const size_t ng = kp / 4;
    for (size_t i = 0; i < MR; i++) {
        const uint8_t *a = A + i * lda;
        uint32_t *e = ae + i * (QG_KPASS / 4), *o = ao + i * (QG_KPASS / 4);
        size_t g = 0;
        for (; g + 8 <= ng; g += 8) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(a + g * 4));
            _mm256_storeu_si256((__m256i *)(e + g), _mm256_and_si256(x, even));
            _mm256_storeu_si256((__m256i *)(o + g), _mm256_srli_epi16(x, 8));
        }
        if (g < ng) {
            /* the last 1..7 groups by a masked load: no byte past the row's kp is read, and the
             * buffer (whole 8-group rows) takes the zeros past ng (the 1x1 convolutions' K
             * of 24..144 are mostly tails) */
            const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(ng - g)), lane);
            __m256i x = _mm256_maskload_epi32((const int *)(a + g * 4), m);
            _mm256_storeu_si256((__m256i *)(e + g), _mm256_and_si256(x, even));
            _mm256_storeu_si256((__m256i *)(o + g), _mm256_srli_epi16(x, 8));
        }
    }
}

/* One panel (16 columns) for MR rows over kp: the packed group of 4 k of 8 columns (32 bytes)
 * sign-extends to its even bytes (k0, k2 of each column: shift up, arithmetic shift down) and
 * its odd ones (k1, k3: arithmetic shift down), so that one vpmaddwd by the broadcast (a0, a2)
 * and one by (a1, a3) give 8 columns' 4-k sums in their 32-bit lanes. */
static inline __attribute__((always_inline)) void
panel_s16(const size_t MR, size_t kp, const uint32_t *ae, const uint32_t *ao, const int8_t *B,
          int32_t *C, int accumulate)
{
    __m256i acc[QG_MR][2];
    for (size_t i = 0; i < MR; i++)
        for (size_t h = 0; h < 2; h++)
            acc[i][h] = accumulate ? _mm256_loadu_si256((const __m256i *)(C + i * QG_LDC + 8 * h))
                                   : _mm256_setzero_si256();
    for (size_t g = 0; g < kp / 4; g++) {
        /* the even half, then the odd one: 2 weight vectors, 1 broadcast and 2 MR sums live */
        const __m256i *bg = (const __m256i *)(B + g * 64);
        const __m256i e0 = _mm256_srai_epi16(_mm256_slli_epi16(_mm256_loadu_si256(bg), 8), 8);
        const __m256i e1 = _mm256_srai_epi16(_mm256_slli_epi16(_mm256_loadu_si256(bg + 1), 8), 8);
        for (size_t i = 0; i < MR; i++) {
            const __m256i ve = _mm256_set1_epi32((int32_t)ae[i * (QG_KPASS / 4) + g]);
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(ve, e0));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(ve, e1));
            QG_KEEP(acc[i][0], acc[i][1]);
        }
        const __m256i o0 = _mm256_srai_epi16(_mm256_loadu_si256(bg), 8);
        const __m256i o1 = _mm256_srai_epi16(_mm256_loadu_si256(bg + 1), 8);
        for (size_t i = 0; i < MR; i++) {
            const __m256i vo = _mm256_set1_epi32((int32_t)ao[i * (QG_KPASS / 4) + g]);
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(vo, o0));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(vo, o1));
            QG_KEEP(acc[i][0], acc[i][1]);
        }
    }
    for (size_t i = 0; i < MR; i++) {
        _mm256_storeu_si256((__m256i *)(C + i * QG_LDC), acc[i][0]);
        _mm256_storeu_si256((__m256i *)(C + i * QG_LDC + 8), acc[i][1]);
    }
}

static inline __attribute__((always_inline)) void
tile_fixed(const size_t MR, size_t nv, size_t Kp, const uint8_t *A, size_t lda, const int8_t *B,
           size_t pstride, int32_t *C, int accumulate)
{
    uint32_t ae[QG_MR * (QG_KPASS / 4)], ao[QG_MR * (QG_KPASS / 4)];
    for (size_t k0 = 0; k0 < Kp; k0 += QG_KPASS) {
        const size_t kp = Kp - k0 < QG_KPASS ? Kp - k0 : QG_KPASS;
        widen_rows(MR, kp, A + k0, lda, ae, ao);
        for (size_t v = 0; v < nv; v++)
            panel_s16(MR, kp, ae, ao, B + v * pstride + k0 * QG_NR, C + v * QG_NR,
                      accumulate || k0 > 0);
    }
}

static void tile(size_t mr, size_t nv, size_t Kp, const uint8_t *A, size_t lda,
                 const int8_t *B, size_t pstride, int32_t *C, int accumulate)
{
    switch (mr) {
#if QG_MR >= 6
    case 6: tile_fixed(6, nv, Kp, A, lda, B, pstride, C, accumulate); break;
    case 5: tile_fixed(5, nv, Kp, A, lda, B, pstride, C, accumulate); break;
#endif
    case 4: tile_fixed(4, nv, Kp, A, lda, B, pstride, C, accumulate); break;
    case 3: tile_fixed(3, nv, Kp, A, lda, B, pstride, C, accumulate); break;
    case 2: tile_fixed(2, nv, Kp, A, lda, B, pstride, C, accumulate); break;
    default: tile_fixed(1, nv, Kp, A, lda, B, pstride, C, accumulate); break;
    }
}

#endif
