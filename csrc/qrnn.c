/* Time loop of the dynamically quantized LSTM/GRU (dlcore/qrnn.h).
 *
 * A per-step fork/join from Python (quantize h, one int8 GEMM, the cell in NumPy) paid, at two
 * threads, a parallel region and a trip back through the interpreter per step while the
 * other thread spun; here one parallel region runs all steps.  Per step:
 *   product: each thread owns a range of 64-column blocks of W_hh and computes them for all
 *            B rows from the shared quantized h (integer sums, then the dequantize epilogue);
 *   barrier;
 *   cell:    each thread owns a range of rows: the float cell (rnn_kernels' row kernels)
 *            updates h and c, writes out[t], and quantizes its new rows of h for the next step;
 *   barrier.
 * The split depends only on the thread count, and every sum is exact integer arithmetic, so the
 * result does not depend on how many threads ran it. */
#include <string.h>
#include "dlcore/qrnn.h"
#include "dlcore/runtime.h"
#include "dlcore/qgemm.h"
#include "qgemm_kernels.h"
#include "rnn_kernels.h"


/* hg (B, G; row stride G) columns [n0, n1) (n0 a multiple of QG_LDC) = dequantized q @ W^T
 * (+ bias) */
static void product_cols(const qgemm_kernels_t *kt, qg_tile_fn tile, size_t MR, size_t B,
                         size_t G, size_t Kp, const uint8_t *q, const float *a_scale,
                         const int32_t *a_zp, const int8_t *packed, const int32_t *colsum,
                         const float *w_scale, const float *bias, float *hg, size_t n0,
                         size_t n1)
{
    int32_t C[QG_MC * QG_LDC];
    const size_t pstride = QG_NR * Kp;
    for (size_t c0 = n0; c0 < n1; c0 += QG_LDC) {
        const size_t nc = n1 - c0 < QG_LDC ? n1 - c0 : QG_LDC;
        const size_t nv = (nc + QG_NR - 1) / QG_NR;
        const int8_t *Bp = packed + c0 / QG_NR * pstride;
        for (size_t m0 = 0; m0 < B; m0 += QG_MC) {
            const size_t m1 = m0 + QG_MC < B ? m0 + QG_MC : B;
            if (Kp == 0) memset(C, 0, sizeof C);
            for (size_t k0 = 0; k0 < Kp; k0 += QG_KC) {
                const size_t kc = Kp - k0 < QG_KC ? Kp - k0 : QG_KC;
                for (size_t i0 = m0; i0 < m1; i0 += MR) {
                    const size_t mr = m1 - i0 < MR ? m1 - i0 : MR;
                    tile(mr, nv, kc, q + i0 * Kp + k0, Kp, Bp + k0 * QG_NR, pstride,
                         C + (i0 - m0) * QG_LDC, k0 > 0);
                }
            }
            for (size_t r = m0; r < m1; r++)
                kt->epilogue(nc, C + (r - m0) * QG_LDC, a_scale[r], a_zp[r], w_scale + c0,
                             colsum + c0, bias ? bias + c0 : NULL, DL_QACT_NONE,
                             hg + r * G + c0, NULL, 0.0f, 0, 255);
        }
    }
}

int dl_qrnn_fwd(int mode, size_t T, size_t B, size_t H, float *xg, const int8_t *packed,
                const int32_t *colsum, const float *w_scale, const float *b_hh, float *h,
                float *c, float *out, int reverse)
{
    if ((mode != DL_QRNN_LSTM && mode != DL_QRNN_GRU) || H > DL_QGEMM_MAX_K
        || (mode == DL_QRNN_LSTM && (!c || b_hh)))
        return -1;
    if (T == 0 || B == 0 || H == 0) return 0;
    const size_t G = (mode == DL_QRNN_LSTM ? 4 : 3) * H, Kp = dl_u8s8_kpad(H);
    const qgemm_kernels_t *kt = qgemm_kernels();
    const rnn_kernels_t *rk = rnn_kernels();
    size_t MR;
    const qg_tile_fn tile = qgemm_pick_tile(kt, 0, &MR);
    uint8_t *q = dl_alloc(B * Kp);
    float *hg = dl_alloc(B * G * sizeof(float));
    float *a_scale = dl_alloc(B * sizeof(float));
    int32_t *a_zp = dl_alloc(B * sizeof(int32_t));
    if (!q || !hg || !a_scale || !a_zp) {
        dl_free(q);
        dl_free(hg);
        dl_free(a_scale);
        dl_free(a_zp);
        return -2;
    }
    const size_t nblocks = (G + QG_LDC - 1) / QG_LDC;
    int nth = dl_threads_for(B * G * Kp, QG_GRAIN);
    if ((size_t)nth > nblocks) nth = (int)nblocks;

    #pragma omp parallel num_threads(nth) if (nth > 1)
    {
        const size_t nt = (size_t)dl_team_size(), k = (size_t)dl_thread_id();
        const size_t r0 = B * k / nt, r1 = B * (k + 1) / nt;
        const size_t b0 = nblocks * k / nt, b1 = nblocks * (k + 1) / nt;
        const size_t n0 = b0 * QG_LDC, n1 = b1 * QG_LDC < G ? b1 * QG_LDC : G;
        for (size_t r = r0; r < r1; r++)
            qgemm_quantize_row(kt, H, h + r * H, 255, q + r * Kp, &a_scale[r], &a_zp[r]);
        #pragma omp barrier
        for (size_t s = 0; s < T; s++) {
            const size_t t = reverse ? T - 1 - s : s;
            if (n1 > n0)
                product_cols(kt, tile, MR, B, G, Kp, q, a_scale, a_zp, packed, colsum,
                             w_scale, b_hh, hg, n0, n1);
            #pragma omp barrier
            for (size_t r = r0; r < r1; r++) {
                float *xr = xg + (t * B + r) * G, *hr = h + r * H, *orow = out + (t * B + r) * H;
                if (mode == DL_QRNN_LSTM) {
                    rk->lstm_row_fwd(H, xr, hg + r * G, NULL, NULL, c + r * H, NULL, hr, orow);
                } else {
                    rk->gru_row_fwd(H, xr, hg + r * G, hr, NULL);
                    memcpy(orow, hr, H * sizeof(float));
                }
                if (s + 1 < T)
                    qgemm_quantize_row(kt, H, hr, 255, q + r * Kp, &a_scale[r], &a_zp[r]);
            }
            #pragma omp barrier
        }
    }
    dl_free(q);
    dl_free(hg);
    dl_free(a_scale);
    dl_free(a_zp);
    return 0;
}
