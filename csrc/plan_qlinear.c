/* The executor's int8 Linear step (DL_PLAN_QLINEAR, dlcore/plan.h): what a dynamically
 * quantized Linear (dlcore.ops.qmatmul.int8_linear) or a statically quantized one
 * (dlcore.ops.qconv.QLinearFn) does per call, without leaving C.
 *
 * Input rows are either floats, quantized here to u8 (per row or one scale for the call,
 * dl_quantize_rows_u8), or u8 codes with one given scale and zero point (copied to rows of
 * Kp bytes when K is not a multiple of 4).  The scratch operand holds the u8 rows, then M
 * scales and M zero points. */
#include <string.h>
#include "dlcore/plan.h"
#include "dlcore/qgemm.h"

size_t dl_plan_qlinear_scratch(size_t M, size_t K)
{
    return (M * dl_u8s8_kpad(K) + 63) / 64 * 64 + M * (sizeof(float) + sizeof(int32_t));
}

int dl_plan_qlinear(const dl_plan_step *s, const char *x, const int8_t *packed,
                    const int32_t *colsum, const float *w_scale, const float *bias, char *y,
                    char *scratch)
{
    const int64_t *i = s->i;
    const size_t M = (size_t)i[0], N = (size_t)i[1], K = (size_t)i[2], Kp = dl_u8s8_kpad(K);
    const int mode = (int)i[3], act = (int)i[4], out_u8 = (int)i[5];
    uint8_t *q = (uint8_t *)scratch;
    float *scale = (float *)(scratch + (M * Kp + 63) / 64 * 64);
    int32_t *zp = (int32_t *)(scale + M);
    const uint8_t *a = q;
    if (mode == DL_QLIN_CODES) {
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
    } else if (dl_quantize_rows_u8(M, K, (const float *)x, K, mode == DL_QLIN_PER_ROW, q, Kp,
                                   scale, zp) != 0) {
        return -1;
    }
    return dl_u8s8_gemm(M, N, K, a, Kp, packed, colsum, scale, zp, w_scale, bias, act,
                        out_u8 ? NULL : (float *)y, N, out_u8 ? (uint8_t *)y : NULL,
                        (float)s->f[1], (int32_t)i[7], NULL);
}
