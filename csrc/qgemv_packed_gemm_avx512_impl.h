/* The AVX-512 tile of the packed quantised GEMM with 8-bit activations (the scheme: see
 * qgemv_packed_gemm_simd.c), written once for two instruction sets: the includer defines
 *   QPG_TILE_NAME, QPG_BODY_NAME  the function's name and its per-kind body's
 *   QPG_DOT8(s, w, x)   s + the sums of 4 products of unsigned bytes w and signed bytes x per
 *                       int32 lane (vpdpbusd, or vpmaddubsw + vpmaddwd by ones + vpaddd)
 *   QPG_DOT16(s, w, x)  s + the sums of 2 products of int16 per int32 lane (vpdpwssd, or
 *                       vpmaddwd + vpaddd)
 * 4-bit codes stay below 16, so vpmaddubsw's int16 pair sums (<= 2 * 15 * 127) never
 * saturate: both spellings give the same integers.  The weights come unpacked from the
 * tile's buffer (filled on its first step of rows), the activations from the driver's
 * panel. */
#ifndef QPG_QUAD_DEFINED
#define QPG_QUAD_DEFINED
/* 4 bytes (or 2 int16) of a row of codes as one int32, read straight from memory so that
 * the broadcast folds into the instruction that uses it */
typedef int32_t qpg_i32u __attribute__((may_alias, aligned(1)));
static inline int32_t qpg_quad(const void *p) { return *(const qpg_i32u *)p; }
#endif

/* always inlined with kind, mr and fill constants: one loop per kind and row count, the sums
 * and accumulators of all mr rows in registers (2 mr + 3 of the 32).  Each step of 32 k is
 * one vector of weight codes and mr dot instructions whose activation operand is a broadcast
 * from the panel at a constant offset.  fill (a tile's first step of rows): W is the packed
 * blocks, unpacked here and also stored to buf; else W is that buffer, read as it is (the
 * unpacking's shuffles then cost once per tile, and on the first step they run beside the
 * dot products, which use other execution units) */
static inline __attribute__((always_inline)) void
QPG_BODY_NAME(const int kind, const int mr, const int fill, size_t nb, const void *xqv,
              const float *xs, const float *xc, const uint8_t *W, uint8_t *buf, float *y,
              size_t ldy, int n, int accumulate)
{
    const size_t bb = QPG_PREP_BYTES(kind), tb = kind == DL_Q8_0 ? QP_TB8 : QP_TB4;
    const __m512i nib = _mm512_set1_epi8(0x0F);
    __m512 acc[QPG_MR];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) acc[i] = _mm512_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *t = fill ? W + b * tb : W + b * bb;
        uint8_t *o = fill ? buf + b * bb : NULL;
        const float *sb = xs + b * QPG_MR, *cb = xc + b * QPG_MR;
        __m512i s[QPG_MR];
        /* Q4_0: the sums start at -8 sum_k xq_k, so that they end as sum_k (q_k - 8) xq_k */
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++)
            s[i] = kind == DL_Q4_0 ? _mm512_set1_epi32((int32_t)cb[i]) : _mm512_setzero_si512();
        if (kind == DL_Q8_0) {
            const int16_t *xq = (const int16_t *)xqv + b * QPG_MR * DL_QK;
            for (int p = 0; p < 16; p++) {
                /* lane r: the int16 codes of k = 2p, 2p + 1 of row r */
                __m512i w;
                if (fill) {
                    w = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(t + QP_HEAD8 + 32 * p)));
                    _mm512_storeu_si512(o + 64 + 64 * p, w);
                } else {
                    w = _mm512_loadu_si512(t + 64 + 64 * p);
                }
#pragma GCC unroll 16
                for (int i = 0; i < mr; i++)
                    s[i] = QPG_DOT16(s[i], w, _mm512_set1_epi32(qpg_quad(xq + i * DL_QK + 2 * p)));
            }
        } else {
            const int8_t *xq = (const int8_t *)xqv + b * QPG_MR * DL_QK;
            for (int ch = 0; ch < 8; ch++) {
                /* lane r: the codes k0 k2 k1 k3 of group ch of row r */
                __m512i w;
                if (fill) {
                    /* widened, lane r holds bytes b0 0 b1 0 (b0: k0 | k2 << 4, b1: k1 | k3
                     * << 4); (v | v << 4) & 0x0F per byte gives the codes k0 k2 k1 k3 */
                    __m512i v = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(t + QP_HEAD4 + 32 * ch)));
                    w = _mm512_ternarylogic_epi32(v, _mm512_slli_epi16(v, 4), nib, 0xA8);
                    _mm512_storeu_si512(o + 128 + 64 * ch, w);
                } else {
                    w = _mm512_loadu_si512(t + 128 + 64 * ch);
                }
#pragma GCC unroll 16
                for (int i = 0; i < mr; i++)
                    s[i] = QPG_DOT8(s[i], w, _mm512_set1_epi32(qpg_quad(xq + i * DL_QK + 4 * ch)));
            }
        }
        __m512 d, m = _mm512_setzero_ps();
        if (fill) {
            d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)t));
            _mm512_storeu_ps(o, d);
            if (kind == DL_Q4_1) {
                m = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(t + 32)));
                _mm512_storeu_ps(o + 64, m);
            }
        } else {
            d = _mm512_loadu_ps(t);
            if (kind == DL_Q4_1) m = _mm512_loadu_ps(t + 64);
        }
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            acc[i] = _mm512_fmadd_ps(d, _mm512_mul_ps(_mm512_cvtepi32_ps(s[i]),
                                                      _mm512_set1_ps(sb[i])), acc[i]);
            if (kind == DL_Q4_1)
                acc[i] = _mm512_fmadd_ps(m, _mm512_set1_ps(cb[i]), acc[i]);
        }
    }
    const __mmask16 k = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
        float *yr = y + i * ldy;
        __m512 v = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(k, yr), acc[i]) : acc[i];
        _mm512_mask_storeu_ps(yr, k, v);
    }
}

#define QPG_ROWS_CASES(K, F)                                                               \
    switch (mr) {                                                                          \
    case 1: QPG_BODY_NAME(K, 1, F, nb, xq, xs, xc, W, buf, y, ldy, n, accumulate); break;  \
    case 2: QPG_BODY_NAME(K, 2, F, nb, xq, xs, xc, W, buf, y, ldy, n, accumulate); break;  \
    case 3: QPG_BODY_NAME(K, 3, F, nb, xq, xs, xc, W, buf, y, ldy, n, accumulate); break;  \
    case 4: QPG_BODY_NAME(K, 4, F, nb, xq, xs, xc, W, buf, y, ldy, n, accumulate); break;  \
    case 5: QPG_BODY_NAME(K, 5, F, nb, xq, xs, xc, W, buf, y, ldy, n, accumulate); break;  \
    case 6: QPG_BODY_NAME(K, 6, F, nb, xq, xs, xc, W, buf, y, ldy, n, accumulate); break;  \
    case 7: QPG_BODY_NAME(K, 7, F, nb, xq, xs, xc, W, buf, y, ldy, n, accumulate); break;  \
    case 8: QPG_BODY_NAME(K, 8, F, nb, xq, xs, xc, W, buf, y, ldy, n, accumulate); break;  \
    case 9: QPG_BODY_NAME(K, 9, F, nb, xq, xs, xc, W, buf, y, ldy, n, accumulate); break;  \
    case 10: QPG_BODY_NAME(K, 10, F, nb, xq, xs, xc, W, buf, y, ldy, n, accumulate); break; \
    case 11: QPG_BODY_NAME(K, 11, F, nb, xq, xs, xc, W, buf, y, ldy, n, accumulate); break; \
    default: QPG_BODY_NAME(K, 12, F, nb, xq, xs, xc, W, buf, y, ldy, n, accumulate); break; \
    }

static void QPG_TILE_NAME(int kind, int mr, size_t nb, const void *xq, const float *xs,
                          const float *xc, const uint8_t *W, uint8_t *buf, float *y,
                          size_t ldy, int n, int accumulate)
{
    if (buf) {
        if (kind == DL_Q8_0) { QPG_ROWS_CASES(DL_Q8_0, 1) }
        else if (kind == DL_Q4_1) { QPG_ROWS_CASES(DL_Q4_1, 1) }
        else { QPG_ROWS_CASES(DL_Q4_0, 1) }
    } else {
        if (kind == DL_Q8_0) { QPG_ROWS_CASES(DL_Q8_0, 0) }
        else if (kind == DL_Q4_1) { QPG_ROWS_CASES(DL_Q4_1, 0) }
        else { QPG_ROWS_CASES(DL_Q4_0, 0) }
    }
}
#undef QPG_ROWS_CASES
