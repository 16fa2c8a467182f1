/* Products whose right operand the caller packs block by block (see dlcore/gemm_bpack.h):
 * gemm.c's loop nest on one thread, with the packer called where it would pack B. */
#include "dlcore/gemm_bpack.h"
#include "dlcore/runtime.h"
#include "gemm_driver.h"

int dl_sgemm_bpack_run(size_t M, size_t N, size_t K, const float *A, ptrdiff_t lda,
                       const dl_sgemm_bpacker *bp, float beta, float *C, ptrdiff_t ldc,
                       const float *bias, dl_bias_t bias_kind)
{
    if (K == 0 || !bp) return -1;
    if (M == 0 || N == 0) return 0;
    if (!bias) bias_kind = DL_BIAS_NONE;
    gemm_args g = {0};
    g.M = M, g.N = N, g.K = K;
    g.A = A, g.lda = lda;
    g.C = C, g.ldc = ldc;
    g.alpha = 1.0, g.beta = beta;
    g.bias = bias, g.bias_kind = bias_kind, g.act = DL_ACT_NONE;
    g.bpacker = bp;
    const gemm_plan p = dl_gemm_plan_for_isa(0, dl_isa());
    return dl_gemm_single(&g, &p, NULL);
}
