/* The executor's int8 steps (dlcore/plan.h), what the quantized layers do per call without
 * leaving C: DL_PLAN_QLINEAR (a dynamically quantized Linear, dlcore.ops.qmatmul.int8_linear,
 * or a statically quantized one, dlcore.ops.qconv.QLinearFn), DL_PLAN_QCONV and DL_PLAN_QADD
 * (dlcore/qconv.h's kernels), DL_PLAN_QUANTIZE and DL_PLAN_DEQUANTIZE (dlcore.ops.qtensor's
 * QuantizeFn / DequantizeFn, with their NCHW <-> NHWC moves) DL_PLAN_QAVGPOOL and DL_PLAN_QMAXPOOL
 * (QAvgPoolFn, QMaxPoolFn).
 *
 * QLINEAR:
 * Input rows are either floats, quantized here to u8 (per row or one scale for the call,
 * dl_quantize_rows_u8), or u8 codes with one given scale and zero point (copied to rows of
 * Kp bytes when K is not a multiple of 4).  The scratch operand holds the u8 rows, then M
 * scales and M zero points.  i[8] (reduce_range): float rows are quantized to 0..127 and the
 * GEMM takes its 7-bit tile; with codes, the hint that they should be in 0..127 (checked by
 * the tile); i[9]: u8 outputs clamped to 0..127 (7-bit codes).  QCONV's i[20], i[21], QADD's
 * i[5] and QUANTIZE's i[5]: the same for their input / output codes.
 *
 * Quantized rows between two dynamic Linears (DL_QLIN_QROWS): with i[10] set, y is not the
 * float result but that result quantized per row (codes 0..255, or 0..127 with i[9]) in the
 * scratch's layout, dl_plan_qlinear_scratch(M, N) bytes: codes (M rows of the Kp of N), then
 * M scales, then M zero points (dl_u8s8_gemm_qrows; the float rows pass through i[11] rows of
 * work in the scratch, after the input's part).  The next QLINEAR takes that blob as its x in
 * mode DL_QLIN_QROWS and quantizes nothing: its result is bit for bit that of the float
 * handoff. */
#include <math.h>
#include <string.h>
#include "dlcore/plan.h"
#include "dlcore/qconv.h"
#include "dlcore/qgemm.h"
#include "dlcore/runtime.h"
#include "qconv_kernels.h"
#include "qgemm_kernels.h"

size_t dl_plan_qlinear_scratch(size_t M, size_t K)
{
    return (M * dl_u8s8_kpad(K) + 63) / 64 * 64 + M * (sizeof(float) + sizeof(int32_t));
}

/* the scales and zero points of a blob (or scratch) of quantized rows of K */
static float *rows_scale(char *blob, size_t M, size_t K)
{
    return (float *)(blob + (M * dl_u8s8_kpad(K) + 63) / 64 * 64);
}

void dl_plan_qrows_fill(char *blob, size_t M, size_t K, int qmax, const float *x, size_t r0,
                        size_t r1)
{
    const qgemm_kernels_t *kt = qgemm_kernels();
    const size_t Kp = dl_u8s8_kpad(K);
    float *scale = rows_scale(blob, M, K);
    int32_t *zp = (int32_t *)(scale + M);
    for (size_t r = r0; r < r1; r++)
        qgemm_quantize_row(kt, K, x + r * K, qmax, (uint8_t *)blob + r * Kp, scale + r, zp + r);
}

int dl_plan_qlinear(const dl_plan_step *s, const char *x, const int8_t *packed,
                    const int32_t *colsum, const float *w_scale, const float *bias, char *y,
                    char *scratch)
{
    const int64_t *i = s->i;
    const size_t M = (size_t)i[0], N = (size_t)i[1], K = (size_t)i[2], Kp = dl_u8s8_kpad(K);
    const int mode = (int)i[3], act = (int)i[4], out_u8 = (int)i[5], u7 = i[8] != 0;
    /* the rows the product reads: quantized here into the scratch, or the given blob */
    char *rows = mode == DL_QLIN_QROWS ? (char *)x : scratch;
    uint8_t *q = (uint8_t *)rows;
    float *scale = rows_scale(rows, M, K);
    int32_t *zp = (int32_t *)(scale + M);
    const uint8_t *a = q;
    if (mode == DL_QLIN_QROWS) {
        /* quantized by the step before (its i[10]) */
    } else if (mode == DL_QLIN_CODES) {
        for (size_t r = 0; r < M; r++) {
            scale[r] = (float)s->f[0];
            zp[r] = (int32_t)i[6];
        }
        if (Kp == K) {
            a = (const uint8_t *)x;
        } else {
            for (size_t r = 0; r < M; r++) {
                memcpy(q + r * Kp, x + r * K, K);
                memset(q + r * Kp + K, 0, Kp - K);
            }
        }
    } else if (dl_quantize_rows_u8(M, K, (const float *)x, K, mode == DL_QLIN_PER_ROW,
                                   u7 ? 127 : 255, q, Kp, scale, zp) != 0) {
        return -1;
    }
    if (i[10]) {
        float *ys = rows_scale(y, M, N);
        const size_t own = mode == DL_QLIN_QROWS ? 0 : dl_plan_qlinear_scratch(M, K);
        float *work = (float *)(scratch + (own + 63) / 64 * 64);
        return dl_u8s8_gemm_qrows(M, N, K, a, Kp, packed, colsum, scale, zp, w_scale, bias, act,
                                  u7, i[9] ? 127 : 255, (uint8_t *)y, dl_u8s8_kpad(N), ys,
                                  (int32_t *)(ys + M), work, (size_t)i[11]);
    }
    return dl_u8s8_gemm(M, N, K, a, Kp, packed, colsum, scale, zp, w_scale, bias, act,
                        out_u8 ? NULL : (float *)y, N, out_u8 ? (uint8_t *)y : NULL,
                        (float)s->f[1], (int32_t)i[7], NULL, u7, i[9] != 0);
}

static dl_qconv_shape_t qconv_shape(const int64_t *i)
{
    dl_qconv_shape_t g = {(size_t)i[0], (size_t)i[1], (size_t)i[2], (size_t)i[3],
                          (size_t)i[4], (size_t)i[5], (size_t)i[6], (size_t)i[7],
                          (size_t)i[8], (size_t)i[9], (size_t)i[10], (size_t)i[11],
                          (size_t)i[12], (size_t)i[13], (size_t)i[14], (size_t)i[15]};
    return g;
}

int dl_plan_qconv(const dl_plan_step *s, const uint8_t *x, const int8_t *w,
                  const int32_t *colsum, const float *w_scale, const float *bias, uint8_t *y)
{
    const int64_t *i = s->i;
    const dl_qconv_shape_t g = qconv_shape(i);
    const dl_qparams_t q = {(float)s->f[0], (int32_t)i[17], (float)s->f[1], (int32_t)i[18],
                            (int)i[19], i[20] != 0, i[21] != 0};
    if (i[16]) return dl_qconv2d_dw_u8(&g, x, w, w_scale, bias, &q, y);
    return dl_qconv2d_u8(&g, x, w, colsum, w_scale, bias, &q, y);
}

int dl_plan_qmaxpool(const dl_plan_step *s, const uint8_t *x, uint8_t *y)
{
    const dl_qconv_shape_t g = qconv_shape(s->i);
    return dl_qmaxpool2d_u8(&g, x, y);
}

int dl_plan_qadd(const dl_plan_step *s, const uint8_t *a, const uint8_t *b, uint8_t *y)
{
    const int64_t *i = s->i;
    const dl_qparams_t q = {(float)s->f[0], (int32_t)i[1], (float)s->f[2], (int32_t)i[3],
                            (int)i[4], 0, i[5] != 0};
    return dl_qadd_u8((size_t)i[0], a, b, (float)s->f[1], (int32_t)i[2], &q, y);
}

/* A QUANTIZE or DEQUANTIZE step: i = N C P nhwc zero_point, f[0] the scale; the codes are in
 * NHWC order (N, P, C) when nhwc, the floats always NCHW (N, C, P).  Both loops run over
 * positions (n, p) with the C channels of one position innermost: no index division per
 * element (it cost more than the conversion: 0.9 ms for a 224x224 RGB input). */
typedef struct {
    size_t C, P, rows, n;
    int nt;
    float scale, zp, qmax;
} code_move;

static code_move code_move_of(const dl_plan_step *s)
{
    const int64_t *i = s->i;
    code_move m;
    const int nhwc = (int)i[3];
    m.n = (size_t)i[0] * (size_t)i[1] * (size_t)i[2];
    /* without the layout change (or with nothing to move) the codes are the floats' order */
    m.C = nhwc ? (size_t)i[1] : 1;
    m.P = nhwc ? (size_t)i[2] : m.n;
    if (m.C == 1 || m.P == 1) {
        m.C = 1;
        m.P = m.n;
    }
    m.rows = m.n / (m.C ? m.C : 1);
    m.nt = dl_threads_for(m.n, (size_t)1 << 16);
    m.scale = (float)s->f[0];
    m.zp = (float)i[4];
    m.qmax = i[5] ? 127.0f : 255.0f;      /* QUANTIZE: 7-bit codes (reduce_range) */
    return m;
}

/* positions per block of dl_plan_quantize's blocked NHWC move */
#define QZ_BLOCK DL_QZ_MAX_LEN

/* as QuantizeFn: rint(x / scale) + zp in float32, clamped to 0..qmax, NaN to 0 */
static inline uint8_t quantize_one(float x, float scale, float zp, float qmax)
{
    float v = rintf(x / scale) + zp;
    v = v > qmax ? qmax : v;
    v = v >= 0.0f ? v : 0.0f;
    return (uint8_t)(int32_t)v;
}

void dl_plan_quantize(const dl_plan_step *s, const float *x, uint8_t *y)
{
    const code_move m = code_move_of(s);
    if (m.C == 1) {
        #pragma omp parallel for simd num_threads(m.nt) schedule(static) if (m.nt > 1)
        for (size_t k = 0; k < m.n; k++) y[k] = quantize_one(x[k], m.scale, m.zp, m.qmax);
        return;
    }
    /* position t = n P + p: y[t C + c] = x[(n C + c) P + p].  Blocks of QZ_BLOCK positions
     * of one image: each channel's run of floats is quantized by a contiguous (vectorized)
     * loop into a channel-major buffer, then interleaved (qconv_kernels' quantize_nhwc) - a strided float read per element
     * cost 0.28 ms for a 224x224 RGB input */
    const size_t nb = (m.P + QZ_BLOCK - 1) / QZ_BLOCK, nimg = m.rows / m.P;
    if (m.C <= DL_QZ_MAX_C) {
        const qconv_kernels_t *kt = qconv_kernels();
        #pragma omp parallel for num_threads(m.nt) schedule(static) if (m.nt > 1)
        for (size_t k = 0; k < nimg * nb; k++) {
            const size_t n = k / nb, p0 = k % nb * QZ_BLOCK;
            const size_t len = m.P - p0 < QZ_BLOCK ? m.P - p0 : QZ_BLOCK;
            kt->quantize_nhwc(m.C, m.P, len, x + n * m.C * m.P + p0, m.scale, m.zp, m.qmax,
                              y + (n * m.P + p0) * m.C);
        }
        return;
    }
    #pragma omp parallel for num_threads(m.nt) schedule(static) if (m.nt > 1)
    for (size_t t = 0; t < m.rows; t++) {
        const float *xs = x + (t / m.P) * m.C * m.P + t % m.P;
        uint8_t *yo = y + t * m.C;
        for (size_t c = 0; c < m.C; c++)
            yo[c] = quantize_one(xs[c * m.P], m.scale, m.zp, m.qmax);
    }
}

void dl_plan_dequantize(const dl_plan_step *s, const uint8_t *x, float *y)
{
    const code_move m = code_move_of(s);
    if (m.C == 1) {
        #pragma omp parallel for simd num_threads(m.nt) schedule(static) if (m.nt > 1)
        for (size_t k = 0; k < m.n; k++) y[k] = ((float)x[k] - m.zp) * m.scale;
        return;
    }
    #pragma omp parallel for num_threads(m.nt) schedule(static) if (m.nt > 1)
    for (size_t t = 0; t < m.rows; t++) {
        float *yo = y + (t / m.P) * m.C * m.P + t % m.P;
        const uint8_t *xs = x + t * m.C;
        for (size_t c = 0; c < m.C; c++) yo[c * m.P] = ((float)xs[c] - m.zp) * m.scale;
    }
}

void dl_plan_qavgpool(const dl_plan_step *s, const uint8_t *x, uint8_t *y)
{
    const int64_t *i = s->i;
    const size_t N = (size_t)i[0], H = (size_t)i[1], W = (size_t)i[2], C = (size_t)i[3];
    const size_t OH = (size_t)i[4], OW = (size_t)i[5];
    const int nt = dl_threads_for(N * H * W * C, (size_t)1 << 16);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (size_t t = 0; t < N * OH * OW; t++) {
        const size_t n = t / (OH * OW), oi = t / OW % OH, oj = t % OW;
        const size_t h0 = oi * H / OH, h1 = ((oi + 1) * H + OH - 1) / OH;
        const size_t w0 = oj * W / OW, w1 = ((oj + 1) * W + OW - 1) / OW;
        const double cnt = (double)((h1 - h0) * (w1 - w0));
        uint8_t *yo = y + t * C;
        for (size_t c = 0; c < C; c++) {
            int64_t sum = 0;
            for (size_t h = h0; h < h1; h++)
                for (size_t w = w0; w < w1; w++) sum += x[((n * H + h) * W + w) * C + c];
            /* as QAvgPoolFn: the mean in double, rounded half to even */
            yo[c] = (uint8_t)rint((double)sum / cnt);
        }
    }
}
