/* Per-ISA kernels of the quantised matrix-vector product (see dlcore/qgemv.h).
 *
 * Each 32-weight block is expanded in registers and dotted with the matching 32 values of x;
 * the block's scale multiplies that partial dot once: sum_k (q_k d + m) x_k = d sum_k q_k x_k
 * + m sum_k x_k, with the per-block sums of x (xsum) precomputed by the driver so the Q4_1
 * offset costs one multiply per block.  Q4_0 is the Q4_1 form with m = -8 d.
 * Two accumulators per row (even and odd blocks) keep the dependent FMA chain off the
 * critical path.
 */
#include "simd.h"
#include "dlcore/qgemv.h"
#include "qgemv_kernels.h"
#include "half_scalar.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__F16C__))
static inline float qg_half(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}
#else
static inline float qg_half(const uint8_t *p) { return qp_half(p); }
#endif

/* Scale d and offset m of a 4-bit block (offset folded for Q4_0), and where its codes start. */
static inline const uint8_t *qg_q4_head(int kind, const uint8_t *b, float *d, float *m)
{
    *d = qg_half(b);
    if (kind == DL_Q4_1) {
        *m = qg_half(b + 2);
        return b + 4;
    }
    *m = -8.0f * *d;
    return b + 2;
}

#if defined(__AVX512F__)
/* 32 codes of a 4-bit block as two float vectors: weights 0..15 and 16..31. */
static inline void qg_q4_codes(const uint8_t *qs, vf *lo, vf *hi)
{
    __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)qs));
    *lo = _mm512_cvtepi32_ps(_mm512_and_si512(q, _mm512_set1_epi32(0x0F)));
    *hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(q, 4));
}

static inline void qg_q8_codes(const uint8_t *qs, vf *lo, vf *hi)
{
    *lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)qs)));
    *hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(qs + 16))));
}

/* Partial dot of one block with x[0..31], as a vector (not yet reduced). */
static inline vf qg_block_dot(int kind, const uint8_t *qs, const float *x)
{
    vf lo, hi;
    if (kind == DL_Q8_0) qg_q8_codes(qs, &lo, &hi);
    else qg_q4_codes(qs, &lo, &hi);
    return vf_fma(hi, vf_loadu(x + 16), vf_mul(lo, vf_loadu(x)));
}

static inline void qg_block_store(int kind, const uint8_t *qs, float d, float m, float *out)
{
    vf lo, hi;
    if (kind == DL_Q8_0) qg_q8_codes(qs, &lo, &hi);
    else qg_q4_codes(qs, &lo, &hi);
    vf vd = vf_set1(d), vm = vf_set1(m);
    vf_storeu(out, vf_fma(lo, vd, vm));
    vf_storeu(out + 16, vf_fma(hi, vd, vm));
}
#elif defined(__AVX2__) && defined(__FMA__)
/* 8 bytes of codes (4-bit: low or high nibbles; 8-bit: signed) as one float vector. */
static inline vf qg_u8x8(const uint8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

static inline void qg_q4_codes(const uint8_t *qs, vf c[4])
{
    /* c[0]: weights 0..7, c[1]: 8..15, c[2]: 16..23, c[3]: 24..31 */
    const __m256i mask = _mm256_set1_epi32(0x0F);
    __m256i a = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)qs));
    __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(qs + 8)));
    c[0] = _mm256_cvtepi32_ps(_mm256_and_si256(a, mask));
    c[1] = _mm256_cvtepi32_ps(_mm256_and_si256(b, mask));
    c[2] = _mm256_cvtepi32_ps(_mm256_srli_epi32(a, 4));
    c[3] = _mm256_cvtepi32_ps(_mm256_srli_epi32(b, 4));
}

static inline void qg_q8_codes(const uint8_t *qs, vf c[4])
{
    for (int i = 0; i < 4; i++)
        c[i] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(qs + 8 * i))));
}

static inline vf qg_block_dot(int kind, const uint8_t *qs, const float *x)
{
    vf c[4];
    if (kind == DL_Q8_0) qg_q8_codes(qs, c);
    else qg_q4_codes(qs, c);
    vf s = vf_mul(c[0], vf_loadu(x));
    vf t = vf_mul(c[1], vf_loadu(x + 8));
    s = vf_fma(c[2], vf_loadu(x + 16), s);
    t = vf_fma(c[3], vf_loadu(x + 24), t);
    return vf_add(s, t);
}

static inline void qg_block_store(int kind, const uint8_t *qs, float d, float m, float *out)
{
    vf c[4];
    if (kind == DL_Q8_0) qg_q8_codes(qs, c);
    else qg_q4_codes(qs, c);
    vf vd = vf_set1(d), vm = vf_set1(m);
    for (int i = 0; i < 4; i++) vf_storeu(out + 8 * i, vf_fma(c[i], vd, vm));
}
#else
/* Generic: the block as 32 floats, then plain loops the compiler may vectorise. */
static inline void qg_codes(int kind, const uint8_t *qs, float c[32])
{
    if (kind == DL_Q8_0) {
        for (int i = 0; i < 32; i++) c[i] = (float)(int8_t)qs[i];
    } else {
        for (int i = 0; i < 16; i++) {
            c[i] = (float)(qs[i] & 0x0F);
            c[i + 16] = (float)(qs[i] >> 4);
        }
    }
}

static inline float qg_block_dot(int kind, const uint8_t *qs, const float *x)
{
    float c[32], s = 0.0f;
    qg_codes(kind, qs, c);
    for (int i = 0; i < 32; i++) s += c[i] * x[i];
    return s;
}

static inline void qg_block_store(int kind, const uint8_t *qs, float d, float m, float *out)
{
    float c[32];
    qg_codes(kind, qs, c);
    for (int i = 0; i < 32; i++) out[i] = c[i] * d + m;
}
#endif

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
static inline vf qg_acc_zero(void) { return vf_zero(); }
static inline vf qg_acc(vf acc, vf dot, float d) { return vf_fma(vf_set1(d), dot, acc); }
static inline float qg_reduce(vf a, vf b) { return vf_reduce_add(vf_add(a, b)); }
typedef vf qg_acc_t;
#else
static inline float qg_acc_zero(void) { return 0.0f; }
static inline float qg_acc(float acc, float dot, float d) { return acc + d * dot; }
static inline float qg_reduce(float a, float b) { return a + b; }
typedef float qg_acc_t;
#endif

/* y[j] (+)= dot(W row j, x) for j < n; xsum[b] = sum of x over block b. */
static void qdot_rows(int kind, size_t n, size_t K, const float *x, const float *xsum,
                      const uint8_t *W, size_t ldw, float *y, int accumulate)
{
    const size_t nb = K / DL_QK;
    const size_t bb = dl_qblock_bytes(kind);
    for (size_t j = 0; j < n; j++) {
        const uint8_t *row = W + j * ldw;
        qg_acc_t a0 = qg_acc_zero(), a1 = qg_acc_zero();
        float moff = 0.0f;
        size_t b = 0;
        if (kind == DL_Q8_0) {
            for (; b + 2 <= nb; b += 2) {
                const uint8_t *p = row + b * bb;
                a0 = qg_acc(a0, qg_block_dot(kind, p + 2, x + b * DL_QK), qg_half(p));
                a1 = qg_acc(a1, qg_block_dot(kind, p + bb + 2, x + (b + 1) * DL_QK),
                            qg_half(p + bb));
            }
            for (; b < nb; b++) {
                const uint8_t *p = row + b * bb;
                a0 = qg_acc(a0, qg_block_dot(kind, p + 2, x + b * DL_QK), qg_half(p));
            }
        } else {
            for (; b + 2 <= nb; b += 2) {
                const uint8_t *p = row + b * bb;
                float d0, m0, d1, m1;
                const uint8_t *q0 = qg_q4_head(kind, p, &d0, &m0);
                const uint8_t *q1 = qg_q4_head(kind, p + bb, &d1, &m1);
                a0 = qg_acc(a0, qg_block_dot(kind, q0, x + b * DL_QK), d0);
                a1 = qg_acc(a1, qg_block_dot(kind, q1, x + (b + 1) * DL_QK), d1);
                moff += m0 * xsum[b] + m1 * xsum[b + 1];
            }
            for (; b < nb; b++) {
                float d0, m0;
                const uint8_t *q0 = qg_q4_head(kind, row + b * bb, &d0, &m0);
                a0 = qg_acc(a0, qg_block_dot(kind, q0, x + b * DL_QK), d0);
                moff += m0 * xsum[b];
            }
        }
        const float v = qg_reduce(a0, a1) + moff;
        y[j] = accumulate ? y[j] + v : v;
    }
}

/* A few rows of x against the same weights (a short prompt): each block is dequantised once
 * into w (exactly as qdequant_row does) and multiplied into the MR rows' accumulators, so the
 * expansion is paid once per MR rows instead of once per row.  Up to 7 rows, two accumulators
 * per row (alternate vectors of a block) keep the group off the FMA latency; more rows have
 * enough independent chains with one each (and would not fit the registers with two: measured,
 * 8 rows with two each or more than 14 with one spill and run ~1.4x slower per row). */
#define QG_VB (DL_QK / DL_VF_LEN)      /* vectors per block */

/* always inlined: each switch case below gets its own copy with MR a constant */
static inline __attribute__((always_inline)) void
qdot_multi_mr(int kind, size_t MR, size_t K, const float *x, size_t ldx,
              const uint8_t *row, float *y, size_t ldy, int accumulate)
{
    const size_t nb = K / DL_QK;
    const size_t bb = dl_qblock_bytes(kind);
    float w[DL_QK];
    const size_t two = MR <= 7;
    vf acc[QG_MROWS][2];
    for (size_t i = 0; i < MR; i++) acc[i][0] = acc[i][1] = vf_zero();
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *p = row + b * bb;
        if (kind == DL_Q8_0) {
            qg_block_store(kind, p + 2, qg_half(p), 0.0f, w);
        } else {
            float d, m;
            const uint8_t *qs = qg_q4_head(kind, p, &d, &m);
            qg_block_store(kind, qs, d, m, w);
        }
        vf wv[QG_VB];
        for (size_t v = 0; v < QG_VB; v++) wv[v] = vf_loadu(w + v * DL_VF_LEN);
        for (size_t i = 0; i < MR; i++) {
            const float *xb = x + i * ldx + b * DL_QK;
            for (size_t v = 0; v < QG_VB; v++)
                acc[i][two & v] = vf_fma(wv[v], vf_loadu(xb + v * DL_VF_LEN), acc[i][two & v]);
        }
    }
    for (size_t i = 0; i < MR; i++) {
        const float v = vf_reduce_add(vf_add(acc[i][0], acc[i][1]));
        y[i * ldy] = accumulate ? y[i * ldy] + v : v;
    }
}

/* Bytes of x rows a group may hold: the group is re-read for every weight row, so it should
 * stay in L1 (32 KiB on the machines measured; beyond it the product ran ~1.5x slower). */
#define QG_X_BYTES (24 * 1024)

/* y[i * ldy + j] (+)= dot(W row j, x row i) for i < M, j < n.  Rows of x in groups of nearly
 * equal size (16 rows: 8 + 8, not 12 + 4) that fit QG_X_BYTES; each group meets every weight
 * row of the chunk (a few KiB, which stays in L1/L2 between groups). */
static void qdot_rows_multi(int kind, size_t M, size_t n, size_t K, const float *x, size_t ldx,
                            const uint8_t *W, size_t ldw, float *y, size_t ldy, int accumulate)
{
    size_t fit = QG_X_BYTES / (K * sizeof(float) + 1);
    fit = fit < 1 ? 1 : fit > QG_MROWS ? QG_MROWS : fit;
    const size_t groups = (M + fit - 1) / fit;
    const size_t per = (M + groups - 1) / groups;
    for (size_t i0 = 0; i0 < M; i0 += per) {
        const size_t mr = M - i0 < per ? M - i0 : per;
        const float *xi = x + i0 * ldx;
        for (size_t j = 0; j < n; j++) {
            const uint8_t *row = W + j * ldw;
            float *yi = y + i0 * ldy + j;
            /* a constant row count per call, so the accumulators stay in registers */
            switch (mr) {
#define QG_CASE(r) case r: qdot_multi_mr(kind, r, K, xi, ldx, row, yi, ldy, accumulate); break;
            QG_CASE(1) QG_CASE(2) QG_CASE(3) QG_CASE(4) QG_CASE(5) QG_CASE(6) QG_CASE(7)
            QG_CASE(8) QG_CASE(9) QG_CASE(10) QG_CASE(11)
#undef QG_CASE
            default: qdot_multi_mr(kind, QG_MROWS, K, xi, ldx, row, yi, ldy, accumulate); break;
            }
        }
    }
}

static void qdequant_row(int kind, size_t K, const uint8_t *w, float *out)
{
    const size_t nb = K / DL_QK;
    const size_t bb = dl_qblock_bytes(kind);
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *p = w + b * bb;
        if (kind == DL_Q8_0) {
            qg_block_store(kind, p + 2, qg_half(p), 0.0f, out + b * DL_QK);
        } else {
            float d, m;
            const uint8_t *qs = qg_q4_head(kind, p, &d, &m);
            qg_block_store(kind, qs, d, m, out + b * DL_QK);
        }
    }
}

const qgemv_kernels_t DL_ISA_FN(qgemv_kernels) = {qdot_rows, qdequant_row, qdot_rows_multi};
