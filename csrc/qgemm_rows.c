/* The int8 GEMM whose float result is quantized again per row (dlcore/qgemm.h,
 * dl_u8s8_gemm_qrows): what a dynamically quantized Linear followed by another one does between
 * them (FFN in -> GELU -> FFN out in a transformer), without the float rows ever reaching memory
 * beyond a small work buffer.
 *
 * Unfused, the first product writes M x N floats, the second reads them twice (min/max, then
 * quantize): at M = 4096, N = 1536 that is 25 MB out and 50 MB back, from DRAM.  Here the rows
 * are made a chunk at a time (work_rows rows, a row block of the product per thread) into the
 * work buffer, which stays in L2, and quantized from there before the next chunk; the codes
 * (a quarter of the bytes) are all that leave.  The result is bit for bit the unfused one: the
 * same product, epilogue and per-row quantizer. */
#include <string.h>
#include "dlcore/qgemm.h"

size_t dl_u8s8_qrows_work_rows(size_t M, int threads)
{
    const size_t want = (size_t)(threads > 1 ? threads : 1) * DL_QROWS_CHUNK;
    return M < want ? M : want;
}

int dl_u8s8_gemm_qrows(size_t M, size_t N, size_t K, const uint8_t *A, size_t lda,
                       const int8_t *packed, const int32_t *colsum, const float *a_scale,
                       const int32_t *a_zp, const float *w_scale, const float *bias, int act,
                       int a_u7, int qmax, uint8_t *q, size_t ldq, float *q_scale,
                       int32_t *q_zp, float *work, size_t work_rows)
{
    if (M > 0 && (work_rows == 0 || ldq < dl_u8s8_kpad(N))) return -1;
    if (N > DL_QGEMM_MAX_K || (qmax != 255 && qmax != 127)) return -1;
    for (size_t r0 = 0; r0 < M; r0 += work_rows) {
        const size_t m = M - r0 < work_rows ? M - r0 : work_rows;
        int rc = dl_u8s8_gemm(m, N, K, A + r0 * lda, lda, packed, colsum, a_scale + r0,
                              a_zp + r0, w_scale, bias, act, work, N, NULL, 0.0f, 0, NULL,
                              a_u7, 0);
        if (rc == 0)
            rc = dl_quantize_rows_u8(m, N, work, N, 1, qmax, q + r0 * ldq, ldq, q_scale + r0,
                                     q_zp + r0);
        if (rc != 0) return rc;
    }
    return 0;
}
