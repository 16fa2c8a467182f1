/* Driver of the quantised matrix products (dlcore/qgemv.h): argument checks, the ISA's kernel table and
 * OpenMP over output rows (each thread streams its own slice of the weights once).
 *
 * M == 1 (decoding) uses the fused block-dot kernel.  A short prompt (M <= QG_SMALL_M) expands
 * each block once and multiplies it into every row of x.  A longer one dequantises a tile of
 * weight rows into a per-thread buffer and multiplies it with all of x by the engine's GEMM on
 * the calling thread, so each weight is expanded once per call and the product runs at GEMM
 * speed rather than one dot product at a time.
 */
#include "dlcore/qgemv.h"
#include "dlcore/gemm.h"
#include "dlcore/runtime.h"
#include "qgemv_kernels.h"

/* Multiply-adds per thread below which a second thread costs more than it saves. */
#define QG_GRAIN ((size_t)1 << 16)
/* Rows handed to a thread at a time: enough to amortise the call, small enough to balance. */
#define QG_ROWS 16
/* Up to this many rows of x, each weight block is expanded in registers once and multiplied
 * into all of them (dot_rows_multi); more rows amortise the dequantise-then-GEMM path. */
#define QG_SMALL_M 16
/* Weight rows dequantised per GEMM call when M > QG_SMALL_M (the tile stays within L2 for
 * K <= 2048). */
#define QG_TILE 64

size_t dl_qblock_bytes(int kind)
{
    switch (kind) {
    case DL_Q4_0: return 18;
    case DL_Q4_1: return 20;
    case DL_Q8_0: return 34;
    default: return 0;
    }
}

static int qg_check(int kind, size_t K, size_t ldw)
{
    size_t bb = dl_qblock_bytes(kind);
    if (bb == 0 || K % DL_QK != 0 || ldw < K / DL_QK * bb) return -1;
    return 0;
}

int dl_qgemm_f32(int kind, size_t M, size_t N, size_t K, const float *x, size_t ldx,
                 const uint8_t *W, size_t ldw, float *y, size_t ldy, int accumulate)
{
    if (qg_check(kind, K, ldw) != 0 || (M > 1 && ldy < N) || (M > 0 && ldx < K)) return -1;
    if (M == 0 || N == 0) return 0;
    if (K == 0) {
        if (!accumulate)
            for (size_t i = 0; i < M; i++)
                for (size_t j = 0; j < N; j++) y[i * ldy + j] = 0.0f;
        return 0;
    }
    const qgemv_kernels_t *kt = qgemv_kernels();
    const size_t nchunks = (N + QG_ROWS - 1) / QG_ROWS;
    const int nt = dl_threads_for(M * N * K, QG_GRAIN);
    int failed = 0;

    if (M == 1) {
        const size_t nb = K / DL_QK;
        float *xsum = dl_alloc(nb * sizeof(float));
        if (!xsum) return -2;
        for (size_t b = 0; b < nb; b++) {
            float s = 0.0f;
            for (size_t i = 0; i < DL_QK; i++) s += x[b * DL_QK + i];
            xsum[b] = s;
        }
        #pragma omp parallel for num_threads(nt) schedule(static)
        for (size_t c = 0; c < nchunks; c++) {
            size_t j0 = c * QG_ROWS;
            size_t n = N - j0 < QG_ROWS ? N - j0 : QG_ROWS;
            kt->dot_rows(kind, n, K, x, xsum, W + j0 * ldw, ldw, y + j0, accumulate);
        }
        dl_free(xsum);
        return 0;
    }

    if (M <= QG_SMALL_M) {
        #pragma omp parallel for num_threads(nt) schedule(static)
        for (size_t c = 0; c < nchunks; c++) {
            size_t j0 = c * QG_ROWS;
            size_t n = N - j0 < QG_ROWS ? N - j0 : QG_ROWS;
            kt->dot_rows_multi(kind, M, n, K, x, ldx, W + j0 * ldw, ldw, y + j0, ldy, accumulate);
        }
        return 0;
    }

    const size_t ntiles = (N + QG_TILE - 1) / QG_TILE;
    #pragma omp parallel num_threads(nt)
    {
        float *tile = dl_alloc((size_t)QG_TILE * K * sizeof(float));
        if (!tile) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(static)
        for (size_t t = 0; t < ntiles; t++) {
            if (!tile) continue;
            size_t j0 = t * QG_TILE;
            size_t n = N - j0 < QG_TILE ? N - j0 : QG_TILE;
            for (size_t j = 0; j < n; j++)
                kt->dequant_row(kind, K, W + (j0 + j) * ldw, tile + j * K);
            dl_sgemm_ex(0, 1, M, n, K, 1.0f, x, (ptrdiff_t)ldx, tile, (ptrdiff_t)K,
                        accumulate ? 1.0f : 0.0f,
                        y + j0, (ptrdiff_t)ldy, NULL, DL_BIAS_NONE, DL_ACT_NONE, 1);
        }
        dl_free(tile);
    }
    return failed ? -2 : 0;
}

int dl_qdequant_f32(int kind, size_t N, size_t K, const uint8_t *W, size_t ldw, float *out)
{
    if (qg_check(kind, K, ldw) != 0) return -1;
    const qgemv_kernels_t *kt = qgemv_kernels();
    const int nt = dl_threads_for(N * K, QG_GRAIN);
    #pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t j = 0; j < N; j++) kt->dequant_row(kind, K, W + j * ldw, out + j * K);
    return 0;
}
