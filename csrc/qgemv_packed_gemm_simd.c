/* Per-ISA kernels of the packed quantised GEMM with 8-bit activations (see dlcore/qgemv.h and
 * qgemv_packed_gemm.c): prompt processing, QPG_MR rows of x against one 16-row tile of the
 * row-interleaved weights of dl_qpack, so that each tile's codes are unpacked once per
 * QPG_MR rows (AVX-512: once per call) and stay in L1 across all of x.
 *
 * x is rounded per 32-block to int8 codes with one scale (s_b = max|x_b| / 127, as
 * llama.cpp's Q8 activations), so a block's dot for 16 weight rows is an integer sum of code
 * products, scaled once: d_jb s_b (sum_k q_jk xq_k) (+ Q4_0's -8 d_jb s_b sum_k xq_k, + Q4_1's
 * m_jb s_b sum_k xq_k: the rounded x's sum, as llama.cpp's Q8_1 keeps it).  The 4-bit kinds multiply unsigned weight codes by
 * signed activation bytes, 4 per int32 lane (vpdpbusd, or vpmaddubsw + vpmaddwd): a tile's
 * group of 4 k holds for row r the bytes k0 | k2 << 4 and k1 | k3 << 4, which widen and mask
 * into the lane bytes k0 k2 k1 k3, the order quant_row stores x's codes in.  Q8_0's signed
 * weights take int16 pairs (vpmaddwd / vpdpwssd) against x's codes widened to int16, which
 * needs no offset correction and cannot saturate.
 */
#include <math.h>
#include <string.h>
#include "simd.h"
#include "dlcore/qgemv.h"
#include "qgemv_packed_kernels.h"
#include "qgemv_block_scan.h"
#include "qgemv_packed_gemm_kernels.h"

/* y rows i < mr, columns r < n (= or +=) from a tile's out rows 16 apart (the AVX2 and
 * portable tiles; the AVX-512 ones store straight from registers) */
static inline void qpg_store(const float *out, int mr, float *y, size_t ldy, int n,
                             int accumulate)
{
    for (int i = 0; i < mr; i++) {
        float *yr = y + i * ldy;
        const float *o = out + 16 * i;
        if (accumulate)
            for (int r = 0; r < n; r++) yr[r] += o[r];
        else
            memcpy(yr, o, n * sizeof(float));
    }
}

#if defined(__AVX512F__)
#define QPG_TILE_NAME qpg_tile
#define QPG_BODY_NAME qpg_tile_body
#define QPG_DOT8(s, w, x) \
    _mm512_add_epi32(s, _mm512_madd_epi16(_mm512_maddubs_epi16(w, x), _mm512_set1_epi16(1)))
#define QPG_DOT16(s, w, x) _mm512_add_epi32(s, _mm512_madd_epi16(w, x))
#include "qgemv_packed_gemm_avx512_impl.h"
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
typedef int32_t qpg_i32u __attribute__((may_alias, aligned(1)));
static inline int32_t qpg_quad(const void *p) { return *(const qpg_i32u *)p; }

/* bytes 0..15 of each 32-byte group are rows 0..7, 16..31 rows 8..15: one half at a time,
 * QPG_MQ rows of x per pass (16 registers: 4 integer sums, 4 accumulators, the rest) */
static inline __attribute__((always_inline)) void
qpg_half(const int kind, size_t nb, const void *xqv, const float *xs, const float *xc,
         const uint8_t *P, int h, float *y)
{
    const size_t tb = kind == DL_Q8_0 ? QP_TB8 : QP_TB4;
    const __m256i nib = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256 acc[QPG_MQ];
    for (int i = 0; i < QPG_MQ; i++) acc[i] = _mm256_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *t = P + b * tb;
        __m256i s[QPG_MQ];
        const float *sb = xs + b * QPG_MR, *cb = xc + b * QPG_MR;
        for (int i = 0; i < QPG_MQ; i++)
            s[i] = kind == DL_Q4_0 ? _mm256_set1_epi32((int32_t)cb[i]) : _mm256_setzero_si256();
        if (kind == DL_Q8_0) {
            const int16_t *xq = (const int16_t *)xqv + b * QPG_MR * DL_QK;
            const uint8_t *c = t + QP_HEAD8 + 16 * h;
            for (int p = 0; p < 16; p++) {
                __m256i w = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(c + 32 * p)));
                for (int i = 0; i < QPG_MQ; i++)
                    s[i] = _mm256_add_epi32(s[i], _mm256_madd_epi16(
                        w, _mm256_set1_epi32(qpg_quad(xq + i * DL_QK + 2 * p))));
            }
        } else {
            const int8_t *xq = (const int8_t *)xqv + b * QPG_MR * DL_QK;
            const uint8_t *c = t + QP_HEAD4 + 16 * h;
            for (int ch = 0; ch < 8; ch++) {
                __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + 32 * ch)));
                __m256i w = _mm256_and_si256(_mm256_or_si256(v, _mm256_slli_epi16(v, 4)), nib);
                for (int i = 0; i < QPG_MQ; i++)
                    s[i] = _mm256_add_epi32(s[i], _mm256_madd_epi16(_mm256_maddubs_epi16(
                        w, _mm256_set1_epi32(qpg_quad(xq + i * DL_QK + 4 * ch))), ones));
            }
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(t + 16 * h)));
        const __m256 m = kind == DL_Q4_1
            ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(t + 32 + 16 * h)))
            : _mm256_setzero_ps();
        for (int i = 0; i < QPG_MQ; i++) {
            __m256 sum = _mm256_cvtepi32_ps(s[i]);
            acc[i] = _mm256_fmadd_ps(d, _mm256_mul_ps(sum, _mm256_set1_ps(sb[i])), acc[i]);
            if (kind == DL_Q4_1) acc[i] = _mm256_fmadd_ps(m, _mm256_set1_ps(cb[i]), acc[i]);
        }
    }
    for (int i = 0; i < QPG_MQ; i++) _mm256_storeu_ps(y + 16 * i + 8 * h, acc[i]);
}

static inline __attribute__((always_inline)) void
qpg_tile_body(const int kind, int mr, size_t nb, const void *xq, const float *xs,
              const float *xc, const uint8_t *P, float *y)
{
    const size_t esz = kind == DL_Q8_0 ? 2 : 1;
    for (int i0 = 0; i0 < mr; i0 += QPG_MQ)
        for (int h = 0; h < 2; h++)
            qpg_half(kind, nb, (const char *)xq + i0 * DL_QK * esz, xs + i0, xc + i0, P, h,
                     y + 16 * i0);
}

static void qpg_tile(int kind, int mr, size_t nb, const void *xq, const float *xs,
                     const float *xc, const uint8_t *P, uint8_t *buf, float *y, size_t ldy,
                     int n, int accumulate)
{
    _Alignas(32) float out[QPG_MR * DL_QP_ROWS];
    if (kind == DL_Q8_0) qpg_tile_body(DL_Q8_0, mr, nb, xq, xs, xc, P, out);
    else if (kind == DL_Q4_1) qpg_tile_body(DL_Q4_1, mr, nb, xq, xs, xc, P, out);
    else qpg_tile_body(DL_Q4_0, mr, nb, xq, xs, xc, P, out);
    qpg_store(out, mr, y, ldy, n, accumulate);
}
#else
/* portable: the same integer sums and the same per-block scaling, one row at a time */
#include "half_scalar.h"

static void qpg_tile(int kind, int mr, size_t nb, const void *xqv, const float *xs,
                     const float *xc, const uint8_t *P, uint8_t *buf, float *y, size_t ldy,
                     int n, int accumulate)
{
    const size_t tb = kind == DL_Q8_0 ? QP_TB8 : QP_TB4;
    float out[QPG_MR * DL_QP_ROWS];
    for (int i = 0; i < mr; i++) {
        float acc[DL_QP_ROWS] = {0};
        for (size_t b = 0; b < nb; b++) {
            const uint8_t *t = P + b * tb;
            const float sb = xs[b * QPG_MR + i], cb = xc[b * QPG_MR + i];
            int32_t s[DL_QP_ROWS];
            for (int r = 0; r < DL_QP_ROWS; r++) s[r] = kind == DL_Q4_0 ? (int32_t)cb : 0;
            /* k outer, rows inner: the codes are read in storage order */
            if (kind == DL_Q8_0) {
                const int16_t *xq = (const int16_t *)xqv + (b * QPG_MR + i) * DL_QK;
                for (int k = 0; k < DL_QK; k++) {
                    const uint8_t *c = t + QP_HEAD8 + 32 * (k >> 1) + (k & 1);
                    for (int r = 0; r < DL_QP_ROWS; r++) s[r] += (int8_t)c[2 * r] * xq[k];
                }
            } else {
                const int8_t *xq = (const int8_t *)xqv + (b * QPG_MR + i) * DL_QK;
                for (int k = 0; k < DL_QK; k++) {
                    const uint8_t *c = t + QP_HEAD4 + 32 * (k >> 2) + (k & 1);
                    const int shift = (k & 2) ? 4 : 0;
                    const int32_t xk = xq[QPG_XPOS(k)];
                    for (int r = 0; r < DL_QP_ROWS; r++) s[r] += ((c[2 * r] >> shift) & 0x0F) * xk;
                }
            }
            for (int r = 0; r < DL_QP_ROWS; r++) {
                const float d = qp_half(t + 2 * r);
                acc[r] += d * ((float)s[r] * sb);
                if (kind == DL_Q4_1) acc[r] += qp_half(t + 32 + 2 * r) * cb;
            }
        }
        memcpy(out + 16 * i, acc, sizeof acc);
    }
    qpg_store(out, mr, y, ldy, n, accumulate);
}
#endif

#ifdef DL_VF_SCALAR
static inline vf qpg_round(vf a) { return rintf(a); }
#else
static inline vf qpg_round(vf a) { return vf_roundf(a); }
#endif

static int qpg_quant_row(int kind, size_t nb, const float *x, void *q, size_t qstride,
                         float *xs, float *xc, size_t sstride)
{
#if !defined(__AVX512F__)
    float r[DL_QK];
#endif
    for (size_t b = 0; b < nb; b++) {
        const float *xb = x + b * DL_QK;
        int8_t *qb = (int8_t *)q + b * qstride;
        int16_t *q16 = (int16_t *)q + b * qstride;
        float amax, sum;
        qblock_absmax_sum(xb, &amax, &sum);
        if (!(sum - sum == 0.0f)) return 1;            /* NaN or Inf in the block */
        if (amax == 0.0f) {
            memset(kind == DL_Q8_0 ? (void *)q16 : (void *)qb, 0, DL_QK * (kind == DL_Q8_0 ? 2 : 1));
            xs[b * sstride] = xc[b * sstride] = 0.0f;
            continue;
        }
        if (amax < QP_TINY) return 1;
        const vf inv = vf_set1(127.0f / amax);
        int qsum = 0;
#if defined(__AVX512F__)
        /* 16 codes at a time: rounded, narrowed to bytes, put in the group order */
        const __m128i perm = _mm_setr_epi8(0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15);
        for (int k = 0; k < DL_QK; k += 16) {
            __m512i c = _mm512_cvtps_epi32(qpg_round(vf_mul(vf_loadu(xb + k), inv)));
            qsum += _mm512_reduce_add_epi32(c);
            if (kind == DL_Q8_0)
                _mm256_storeu_si256((__m256i *)(q16 + k), _mm512_cvtepi32_epi16(c));
            else
                _mm_storeu_si128((__m128i *)(qb + k), _mm_shuffle_epi8(_mm512_cvtepi32_epi8(c), perm));
        }
#else
        for (int k = 0; k < DL_QK; k += DL_VF_LEN)
            vf_storeu(r + k, qpg_round(vf_mul(vf_loadu(xb + k), inv)));
        /* integral values in [-127, 127]: exact in int8 */
        for (int k = 0; k < DL_QK; k++) {
            const int c = (int)r[k];
            qsum += c;
            if (kind == DL_Q8_0) q16[k] = (int16_t)c;
            else qb[QPG_XPOS(k)] = (int8_t)c;
        }
#endif
        const float s_b = amax / 127.0f;
        xs[b * sstride] = s_b;
        /* Q4_1: the rounded x's sum, not x's own: then the product's error is sum_k w_k
         * (xq_k s_b - x_k) with w = q d + m centred near 0, where x's own sum would leave
         * sum_k q_k d (...), with q d in [0, 15 d] (measured on SmolLM2: 2.5x the logit error) */
        xc[b * sstride] = kind == DL_Q4_0 ? (float)(-8 * qsum)
                        : kind == DL_Q4_1 ? s_b * (float)qsum : 0.0f;
    }
    return 0;
}

#if defined(__AVX512F__)
const qpgemm_kernels_t DL_ISA_FN(qpgemm_kernels) = {qpg_tile, qgemv_packed_gemm_tile_vnni,
                                                     qpg_quant_row, 1};
#else
const qpgemm_kernels_t DL_ISA_FN(qpgemm_kernels) = {qpg_tile, NULL, qpg_quant_row, 0};
#endif
