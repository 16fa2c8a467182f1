/* The AVX-512 tile of the packed quantised GEMM with 8-bit activations (the scheme: see
 * qgemv_packed_gemm_simd.c), written once for two instruction sets: the includer defines
 *   QPG_TILE_NAME, QPG_BODY_NAME  the function's name and its per-kind body's
 *   QPG_DOT8(s, w, x)   s + the sums of 4 products of unsigned bytes w and signed bytes x per
 *                       int32 lane (vpdpbusd, or vpmaddubsw + vpmaddwd by ones + vpaddd)
 *   QPG_DOT16(s, w, x)  s + the sums of 2 products of int16 per int32 lane (vpdpwssd, or
 *                       vpmaddwd + vpaddd)
 * 4-bit codes stay below 16, so vpmaddubsw's int16 pair sums (<= 2 * 15 * 127) never
 * saturate: both spellings give the same integers. */
#ifndef QPG_QUAD_DEFINED
#define QPG_QUAD_DEFINED
/* 4 bytes (or 2 int16) of a row of codes as one int32, read straight from memory so that
 * the broadcast folds into the instruction that uses it */
typedef int32_t qpg_i32u __attribute__((may_alias, aligned(1)));
static inline int32_t qpg_quad(const void *p) { return *(const qpg_i32u *)p; }
#endif

/* always inlined with kind and mr constants: one loop per kind and row count, the sums and
 * accumulators of all mr rows in registers (2 mr + 4 of the 32) */
static inline __attribute__((always_inline)) void
QPG_BODY_NAME(const int kind, const int mr, size_t nb, const void *xqv, size_t ldq, const float *xs,
              const float *xc, const uint8_t *P, float *y)
{
    const size_t tb = kind == DL_Q8_0 ? QP_TB8 : QP_TB4;
    const __m512i nib = _mm512_set1_epi8(0x0F);
    __m512 acc[QPG_MR];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) acc[i] = _mm512_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *t = P + b * tb;
        __m512i s[QPG_MR];
        /* Q4_0: the sums start at -8 sum_k xq_k, so that they end as sum_k (q_k - 8) xq_k */
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++)
            s[i] = kind == DL_Q4_0 ? _mm512_set1_epi32((int32_t)xc[i * nb + b])
                                   : _mm512_setzero_si512();
        if (kind == DL_Q8_0) {
            const int16_t *xq = (const int16_t *)xqv + b * DL_QK;
            const uint8_t *c = t + QP_HEAD8;
            for (int p = 0; p < 16; p++) {
                /* lane r: the int16 codes of k = 2p, 2p + 1 of row r */
                __m512i w = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(c + 32 * p)));
#pragma GCC unroll 16
                for (int i = 0; i < mr; i++)
                    s[i] = QPG_DOT16(s[i], w, _mm512_set1_epi32(qpg_quad(xq + i * ldq + 2 * p)));
            }
        } else {
            const int8_t *xq = (const int8_t *)xqv + b * DL_QK;
            const uint8_t *c = t + QP_HEAD4;
            for (int ch = 0; ch < 8; ch++) {
                /* widened, lane r holds bytes b0 0 b1 0 (b0: k0 | k2 << 4, b1: k1 | k3 << 4);
                 * (v | v << 4) & 0x0F per byte gives the codes k0 k2 k1 k3 */
                __m512i v = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(c + 32 * ch)));
                __m512i w = _mm512_ternarylogic_epi32(v, _mm512_slli_epi16(v, 4), nib, 0xA8);
#pragma GCC unroll 16
                for (int i = 0; i < mr; i++)
                    s[i] = QPG_DOT8(s[i], w, _mm512_set1_epi32(qpg_quad(xq + i * ldq + 4 * ch)));
            }
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)t));
        const __m512 m = kind == DL_Q4_1 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(t + 32)))
                                         : _mm512_setzero_ps();
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            __m512 sum = _mm512_cvtepi32_ps(s[i]);
            const __m512 sb = _mm512_set1_ps(xs[i * nb + b]);
            if (kind == DL_Q4_1) {
                acc[i] = _mm512_fmadd_ps(d, _mm512_mul_ps(sum, sb), acc[i]);
                acc[i] = _mm512_fmadd_ps(m, _mm512_set1_ps(xc[i * nb + b]), acc[i]);
            } else {
                acc[i] = _mm512_fmadd_ps(d, _mm512_mul_ps(sum, sb), acc[i]);
            }
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) _mm512_storeu_ps(y + 16 * i, acc[i]);
}

#define QPG_ROWS_CASES(K)                                                                  \
    switch (mr) {                                                                          \
    case 1: QPG_BODY_NAME(K, 1, nb, xq, ldq, xs, xc, P, y); break;                         \
    case 2: QPG_BODY_NAME(K, 2, nb, xq, ldq, xs, xc, P, y); break;                         \
    case 3: QPG_BODY_NAME(K, 3, nb, xq, ldq, xs, xc, P, y); break;                         \
    case 4: QPG_BODY_NAME(K, 4, nb, xq, ldq, xs, xc, P, y); break;                         \
    case 5: QPG_BODY_NAME(K, 5, nb, xq, ldq, xs, xc, P, y); break;                         \
    case 6: QPG_BODY_NAME(K, 6, nb, xq, ldq, xs, xc, P, y); break;                         \
    case 7: QPG_BODY_NAME(K, 7, nb, xq, ldq, xs, xc, P, y); break;                         \
    case 8: QPG_BODY_NAME(K, 8, nb, xq, ldq, xs, xc, P, y); break;                         \
    case 9: QPG_BODY_NAME(K, 9, nb, xq, ldq, xs, xc, P, y); break;                         \
    case 10: QPG_BODY_NAME(K, 10, nb, xq, ldq, xs, xc, P, y); break;                       \
    case 11: QPG_BODY_NAME(K, 11, nb, xq, ldq, xs, xc, P, y); break;                       \
    default: QPG_BODY_NAME(K, 12, nb, xq, ldq, xs, xc, P, y); break;                       \
    }

static void QPG_TILE_NAME(int kind, int mr, size_t nb, const void *xq, size_t ldq,
                          const float *xs, const float *xc, const uint8_t *P, float *y)
{
    if (kind == DL_Q8_0) { QPG_ROWS_CASES(DL_Q8_0) }
    else if (kind == DL_Q4_1) { QPG_ROWS_CASES(DL_Q4_1) }
    else { QPG_ROWS_CASES(DL_Q4_0) }
}
#undef QPG_ROWS_CASES
