/* The AVX-512 tile of the packed quantised GEMV (see qgemv_packed_simd.c for the scheme),
 * written once for two instruction sets: the includer defines
 *   QP_TILE_NAME   the function's name, QP_BODY_NAME its per-kind body's
 *   QP_DOT(s, a, b) s + the pairwise products of int16 vectors a and b summed into int32
 *                   (vpmaddwd + vpaddd, or vpdpwssd with AVX512-VNNI)
 * and includes qp_pair from qgemv_packed_simd.c's vocabulary (defined here when absent). */
#ifndef QP_PAIR_DEFINED
#define QP_PAIR_DEFINED
/* (the dword read straight from memory, so that the broadcast folds into the instruction
 * that uses it) */
typedef int32_t qp_i32u __attribute__((may_alias, aligned(2)));
static inline int32_t qp_pair(const int16_t *p) { return *(const qp_i32u *)p; }
#endif

/* always inlined with kind a constant: one loop per kind, so that the compiler does not share
 * the x broadcasts between the kinds' loops and hoist (and spill) them */
static inline __attribute__((always_inline)) void
QP_BODY_NAME(const int kind, size_t nb, const int16_t *xq, const int16_t *xl, const float *xs,
             const float *xsum, const uint8_t *P, float *y)
{
    const __m512i low = _mm512_set1_epi16(0x0F);
    __m512 acc = _mm512_setzero_ps(), off = _mm512_setzero_ps();
    const size_t tb = kind == DL_Q8_0 ? QP_TB8 : QP_TB4;
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *t = P + b * tb;
        const int16_t *xb = xq + b * DL_QK, *lb = xl + b * DL_QK;
        /* sums of codes x high parts (s0) and x low parts (s1) */
        __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
        if (kind == DL_Q8_0) {
            const uint8_t *c = t + QP_HEAD8;
            for (int p = 0; p < 16; p++) {
                __m512i w = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(c + 32 * p)));
                s0 = QP_DOT(s0, w, _mm512_set1_epi32(qp_pair(xb + 2 * p)));
                s1 = QP_DOT(s1, w, _mm512_set1_epi32(qp_pair(lb + 2 * p)));
            }
        } else {
            const uint8_t *c = t + QP_HEAD4;
            for (int ch = 0; ch < 8; ch++) {
                __m512i z = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(c + 32 * ch)));
                __m512i lo = _mm512_and_si512(z, low), hi = _mm512_srli_epi16(z, 4);
                s0 = QP_DOT(s0, lo, _mm512_set1_epi32(qp_pair(xb + 4 * ch)));
                s1 = QP_DOT(s1, lo, _mm512_set1_epi32(qp_pair(lb + 4 * ch)));
                s0 = QP_DOT(s0, hi, _mm512_set1_epi32(qp_pair(xb + 4 * ch + 2)));
                s1 = QP_DOT(s1, hi, _mm512_set1_epi32(qp_pair(lb + 4 * ch + 2)));
            }
        }
        __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)t));
        __m512 sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1), _mm512_set1_ps(QP_LOW),
                                     _mm512_cvtepi32_ps(s0));
        acc = _mm512_fmadd_ps(sum, _mm512_mul_ps(d, _mm512_set1_ps(xs[b])), acc);
        if (kind == DL_Q4_1)
            off = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(t + 32))),
                                  _mm512_set1_ps(xsum[b]), off);
        else if (kind == DL_Q4_0)
            off = _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_set1_ps(-8.0f)),
                                  _mm512_set1_ps(xsum[b]), off);
    }
    _mm512_storeu_ps(y, _mm512_add_ps(acc, off));
}

static void QP_TILE_NAME(int kind, size_t nb, const int16_t *xq, const int16_t *xl, const float *xs,
                         const float *xsum, const uint8_t *P, float *y)
{
    if (kind == DL_Q8_0) QP_BODY_NAME(DL_Q8_0, nb, xq, xl, xs, xsum, P, y);
    else if (kind == DL_Q4_1) QP_BODY_NAME(DL_Q4_1, nb, xq, xl, xs, xsum, P, y);
    else QP_BODY_NAME(DL_Q4_0, nb, xq, xl, xs, xsum, P, y);
}
