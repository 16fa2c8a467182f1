/* Portable float32 GEMM micro-kernel: a 4 x 8 tile in plain C.
 *
 * Written so the compiler can keep the 32 accumulators in registers (8 xmm with the x86-64
 * baseline SSE2) and vectorize the j loop; no intrinsics, so it builds anywhere.
 * Right-edge tiles (nr < NR) may come from unpacked B that ends at the matrix edge, so they use
 * a loop bounded by nr and never read past it.
 */
#include "gemm_kernels.h"

enum { MR = DL_SGEMM_GENERIC_MR, NR = DL_SGEMM_GENERIC_NR };

void dl_sgemm_kernel_generic(size_t kc, const void *a_, const void *b_, ptrdiff_t ldb, void *c_,
                             ptrdiff_t ldc, size_t mr, size_t nr, const dl_gemm_epi *e)
{
    const float *a = a_, *b = b_;
    float *c = c_;
    float acc[MR][NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = 0.0f;

    if (nr == NR) {
        for (size_t k = 0; k < kc; k++) {
            for (int i = 0; i < MR; i++)
                for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
            a += MR;
            b += ldb;
        }
    } else {
        for (size_t k = 0; k < kc; k++) {
            for (int i = 0; i < MR; i++)
                for (size_t j = 0; j < nr; j++) acc[i][j] += a[i] * b[j];
            a += MR;
            b += ldb;
        }
    }

    const float alpha = (float)e->alpha, beta = (float)e->beta;
    const float *brow = e->bias_row, *bcol = e->bias_col;
    for (size_t i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        float bc = bcol ? bcol[i] : 0.0f;
        for (size_t j = 0; j < nr; j++)
            ci[j] = dl_epi_f32(acc[i][j], ci + j, alpha, beta, bc + (brow ? brow[j] : 0.0f),
                               e->act);
    }
}
