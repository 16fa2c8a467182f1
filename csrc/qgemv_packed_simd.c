/* Per-ISA kernel of the packed quantised GEMV (see dlcore/qgemv.h and qgemv_packed.c).
 *
 * x comes as two int16 parts per element, x = s_b (xq + xl * QP_LOW): the high part and the
 * rounding left over, so that its rounding is far below float32's (see qgemv_packed.c).
 * One tile is 16 weight rows.  Its codes come as pairs of k per row side by side, so a vector
 * of 16-bit codes times the broadcast pair (xq[k], xq[k+1]) is one vpmaddwd: 16 rows x 2
 * products summed into int32 lanes, one lane per row.  The integer sums of a block are exact
 * (|q xq| <= 128 * 32767, 32 of them per lane), then one convert and one multiply-add by
 * d * s_b per block and tile.  A 4-bit byte holds k (low nibble) and k + 2 (high nibble) of
 * its row, so one load and widening serves two pairs.
 */
#include <math.h>
#include "simd.h"
#include "dlcore/qgemv.h"
#include "qgemv_packed_kernels.h"
#include "qgemv_block_scan.h"

#define QP_PAIR_DEFINED
/* (the dword read straight from memory, so that the broadcast folds into the instruction
 * that uses it) */
typedef int32_t qp_i32u __attribute__((may_alias, aligned(2)));
static inline int32_t qp_pair(const int16_t *p) { return *(const qp_i32u *)p; }

#if defined(__AVX512F__)
#define QP_TILE_NAME qp_tile
#define QP_DOT(s, a, b) _mm512_add_epi32(s, _mm512_madd_epi16(a, b))
#define QP_BODY_NAME qp_tile_body
#include "qgemv_packed_avx512_impl.h"
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
/* two halves of 8 rows: bytes 0..15 of each 32-byte group are rows 0..7, 16..31 rows 8..15 */
static void qp_tile(int kind, size_t nb, const int16_t *xq, const int16_t *xl, const float *xs,
                    const float *xsum, const uint8_t *P, float *y)
{
    const __m256i low = _mm256_set1_epi16(0x0F);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    __m256 off[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    const size_t tb = kind == DL_Q8_0 ? QP_TB8 : QP_TB4;
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *t = P + b * tb;
        const int16_t *xb = xq + b * DL_QK, *lb = xl + b * DL_QK;
        /* per half: sums of codes x high parts (s) and x low parts (u) */
        __m256i s[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        __m256i u[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        if (kind == DL_Q8_0) {
            const uint8_t *c = t + QP_HEAD8;
            for (int p = 0; p < 16; p++) {
                __m256i xv = _mm256_set1_epi32(qp_pair(xb + 2 * p));
                __m256i lv = _mm256_set1_epi32(qp_pair(lb + 2 * p));
                for (int h = 0; h < 2; h++) {
                    __m256i w = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(c + 32 * p + 16 * h)));
                    s[h] = _mm256_add_epi32(s[h], _mm256_madd_epi16(w, xv));
                    u[h] = _mm256_add_epi32(u[h], _mm256_madd_epi16(w, lv));
                }
            }
        } else {
            const uint8_t *c = t + QP_HEAD4;
            for (int ch = 0; ch < 8; ch++) {
                __m256i x0 = _mm256_set1_epi32(qp_pair(xb + 4 * ch));
                __m256i x1 = _mm256_set1_epi32(qp_pair(xb + 4 * ch + 2));
                __m256i l0 = _mm256_set1_epi32(qp_pair(lb + 4 * ch));
                __m256i l1 = _mm256_set1_epi32(qp_pair(lb + 4 * ch + 2));
                for (int h = 0; h < 2; h++) {
                    __m256i z = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + 32 * ch + 16 * h)));
                    __m256i lo = _mm256_and_si256(z, low), hi = _mm256_srli_epi16(z, 4);
                    s[h] = _mm256_add_epi32(s[h], _mm256_madd_epi16(lo, x0));
                    u[h] = _mm256_add_epi32(u[h], _mm256_madd_epi16(lo, l0));
                    s[h] = _mm256_add_epi32(s[h], _mm256_madd_epi16(hi, x1));
                    u[h] = _mm256_add_epi32(u[h], _mm256_madd_epi16(hi, l1));
                }
            }
        }
        __m256 scale = _mm256_set1_ps(xs[b]), xsb = _mm256_set1_ps(xsum[b]);
        for (int h = 0; h < 2; h++) {
            __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(t + 16 * h)));
            __m256 sum = _mm256_fmadd_ps(_mm256_cvtepi32_ps(u[h]), _mm256_set1_ps(QP_LOW),
                                         _mm256_cvtepi32_ps(s[h]));
            acc[h] = _mm256_fmadd_ps(sum, _mm256_mul_ps(d, scale), acc[h]);
            if (kind == DL_Q4_1)
                off[h] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(t + 32 + 16 * h))),
                                         xsb, off[h]);
            else if (kind == DL_Q4_0)
                off[h] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(-8.0f)), xsb, off[h]);
        }
    }
    for (int h = 0; h < 2; h++) _mm256_storeu_ps(y + 8 * h, _mm256_add_ps(acc[h], off[h]));
}
#else
/* portable: the same integer sums and the same per-block scaling, one row at a time */
#include "half_scalar.h"

static void qp_tile(int kind, size_t nb, const int16_t *xq, const int16_t *xl, const float *xs,
                    const float *xsum, const uint8_t *P, float *y)
{
    const size_t tb = kind == DL_Q8_0 ? QP_TB8 : QP_TB4;
    float acc[DL_QP_ROWS] = {0}, off[DL_QP_ROWS] = {0};
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *t = P + b * tb;
        const int16_t *xb = xq + b * DL_QK, *lb = xl + b * DL_QK;
        int32_t s[DL_QP_ROWS] = {0}, u[DL_QP_ROWS] = {0};
        /* k outer, rows inner: the codes are read in storage order */
        if (kind == DL_Q8_0) {
            for (int k = 0; k < DL_QK; k++) {
                const uint8_t *c = t + QP_HEAD8 + 32 * (k >> 1) + (k & 1);
                for (int r = 0; r < DL_QP_ROWS; r++) {
                    const int32_t q = (int8_t)c[2 * r];
                    s[r] += q * xb[k];
                    u[r] += q * lb[k];
                }
            }
        } else {
            for (int k = 0; k < DL_QK; k++) {
                const uint8_t *c = t + QP_HEAD4 + 32 * (k >> 2) + (k & 1);
                const int shift = (k & 2) ? 4 : 0;
                for (int r = 0; r < DL_QP_ROWS; r++) {
                    const int32_t q = (c[2 * r] >> shift) & 0x0F;
                    s[r] += q * xb[k];
                    u[r] += q * lb[k];
                }
            }
        }
        for (int r = 0; r < DL_QP_ROWS; r++) {
            const float d = qp_half(t + 2 * r);
            acc[r] += ((float)u[r] * QP_LOW + (float)s[r]) * (d * xs[b]);
            if (kind == DL_Q4_1) off[r] += qp_half(t + 32 + 2 * r) * xsum[b];
            else if (kind == DL_Q4_0) off[r] += (-8.0f * d) * xsum[b];
        }
    }
    for (int r = 0; r < DL_QP_ROWS; r++) y[r] = acc[r] + off[r];
}
#endif


/* x (nb blocks of 32) in two int16 parts per block, x_k = s_b (xq_k + xl_k 2^-15) to within
 * s_b 2^-16, s_b = max|x_b| / 32767 (xq rounds x_k / s_b, xl the remainder x_k - s_b xq_k,
 * formed by one FMA), and the float sums xsum; 0, or 1 when a block holds a NaN or Inf (its
 * sum is then not finite) or is so small (max < QP_TINY, nonzero) that the scales would
 * leave float32's normal range: the caller then takes the exact float loop. */
#ifdef DL_VF_SCALAR
/* one rounding in the remainder, as the vector paths' FMA */
static inline vf qp_round(vf a) { return rintf(a); }
static inline vf qp_fma(vf a, vf b, vf c) { return fmaf(a, b, c); }
#else
static inline vf qp_round(vf a) { return vf_roundf(a); }
static inline vf qp_fma(vf a, vf b, vf c) { return vf_fma(a, b, c); }
#endif

static int qp_split(size_t nb, const float *x, int16_t *xq, int16_t *xl, float *xs, float *xsum)
{
    float hi[DL_QK], lo[DL_QK];
    for (size_t b = 0; b < nb; b++) {
        const float *xb = x + b * DL_QK;
        float amax, sum;
        qblock_absmax_sum(xb, &amax, &sum);
        if (!(sum - sum == 0.0f)) return 1;            /* NaN or Inf in the block */
        int16_t *q = xq + b * DL_QK, *l = xl + b * DL_QK;
        if (amax == 0.0f) {
            memset(q, 0, DL_QK * sizeof(int16_t));
            memset(l, 0, DL_QK * sizeof(int16_t));
            xs[b] = xsum[b] = 0.0f;
            continue;
        }
        if (amax < QP_TINY) return 1;
        const float s = amax / 32767.0f;
        const vf inv = vf_set1(32767.0f / amax), linv = vf_set1(32768.0f / s);
        const vf neg_s = vf_set1(-s);
        for (int k = 0; k < DL_QK; k += DL_VF_LEN) {
            vf v = vf_loadu(xb + k);
            vf h = qp_round(vf_mul(v, inv));
            vf_storeu(hi + k, h);
            vf_storeu(lo + k, qp_round(vf_mul(qp_fma(neg_s, h, v), linv)));
        }
        /* integral values within int16's range (|hi| <= 32767, |lo| < 16700): exact */
        for (int k = 0; k < DL_QK; k++) {
            q[k] = (int16_t)hi[k];
            l[k] = (int16_t)lo[k];
        }
        xs[b] = s;
        xsum[b] = sum;
    }
    return 0;
}

#if defined(__AVX512F__)
const qpack_kernels_t DL_ISA_FN(qpack_kernels) = {qp_tile, qgemv_packed_tile_vnni, qp_split};
#else
const qpack_kernels_t DL_ISA_FN(qpack_kernels) = {qp_tile, NULL, qp_split};
#endif
