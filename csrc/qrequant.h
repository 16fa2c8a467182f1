/* The int8 kernels' requantize store on AVX-512: clamp(rint(s) + zp, lo, hi) as 16 bytes, s
 * a vector already multiplied by 1 / output scale, hi 255 or 127 (7-bit codes, reduce_range).  The same integers as rintf, + zp, clamp
 * in float (the portable loops), in four operations instead of seven: cvtps2dq rounds to
 * nearest even as rintf does; s is capped at 2^30 first so a large or infinite s saturates to
 * 255 rather than converting to INT_MIN; NaN passes the min (vminps returns its second
 * operand on NaN), converts to INT_MIN and the max takes it to lo; vpmovusdb saturates the
 * top.  lo (>= 0) is 0, or the zero point where a ReLU clamps there.  dl_requant_store8: the
 * AVX2 one, 8 bytes. */
#ifndef DLCORE_QREQUANT_H
#define DLCORE_QREQUANT_H

#if defined(__AVX512F__)
#include <immintrin.h>
#include <stdint.h>

static inline void dl_requant_store16(uint8_t *p, __m512 s, __m512i zp, __m512i lo, __m512i hi)
{
    __m512i r = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_set1_ps(1073741824.0f), s));
    r = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(r, zp), lo), hi);
    _mm_storeu_si128((__m128i *)p, _mm512_cvtusepi32_epi8(r));
}
#elif defined(__AVX2__)
#include <immintrin.h>
#include <stdint.h>

/* the same as 8 bytes on AVX2, which has no vpmovusdb: r >= lo >= 0 after the max, so the
 * signed pack to 16 bits (2^30 -> 32767) and the unsigned one to 8 (-> 255) clamp the top */
static inline void dl_requant_store8(uint8_t *p, __m256 s, __m256i zp, __m256i lo, __m256i hi)
{
    __m256i r = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_set1_ps(1073741824.0f), s));
    r = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(r, zp), lo), hi);
    r = _mm256_packus_epi16(_mm256_packs_epi32(r, r), r);     /* bytes 0..3 of each half */
    _mm_storel_epi64((__m128i *)p, _mm_unpacklo_epi32(_mm256_castsi256_si128(r),
                                                      _mm256_extracti128_si256(r, 1)));
}
#endif

#endif
