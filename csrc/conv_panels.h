/* conv.c's hook for conv_panels_impl.h: SUF(panel_gemm) runs C = A @ B + beta * C + bias
 * with B (conv_panel_src: B[k][u*L + v] = xp[row_off[k] + run_off[u] + v*step]) copied
 * straight into the GEMM's panels (float32: dlcore/gemm_bpack.h and conv_panels_simd.c); -1
 * when it cannot (out of memory, or float64, which has no such product and keeps the column
 * tiles). */
#ifndef DLCORE_CONV_PANELS_H
#define DLCORE_CONV_PANELS_H

#include <stddef.h>
#include <stdint.h>
#include "dlcore/conv.h"
#include "dlcore/gemm_bpack.h"
#include "dlcore/runtime.h"
#include "conv_panels_kernels.h"

static int panel_gemm_f32(size_t M, size_t N, size_t K, const float *A, ptrdiff_t lda,
                          const conv_panel_src *src, float beta, float *C, ptrdiff_t ldc, const float *bias,
                          dl_bias_t bias_kind)
{
    const dl_sgemm_bpacker bp = {conv_panels_kernels()->pack_rows, src};
    return dl_sgemm_bpack_run(M, N, K, A, lda, &bp, beta, C, ldc, bias, bias_kind);
}
/* where the copy was measured faster than the column tiles: 4-wide kernel rows at dilation 1
 * (DCGAN's 4x4 stride-2 layers; on this Zen 4 at one thread the 32 -> 64 channel weight
 * gradient took AVX-512 2.72-2.79 -> 2.33-2.43 ms, AVX2 4.27-4.54 -> 3.78-3.94 ms, generic
 * 9.08-9.49 -> 8.07-8.26 ms; other kernel widths copy runs one by one, not measured faster) */
/* x's Cg planes zero-padded into xp (pad_extent's Hp x Wp) */
static void pad_planes_panels_f32(const dl_conv_params *p, const float *x, int64_t Cg,
                                  int64_t Hp, int64_t Wp, float *xp)
{
    conv_panels_kernels()->pad_planes(x, Cg, p->H, p->W, p->ph, p->pw, Hp, Wp, xp);
}
static void pad_planes_panels_f64(const dl_conv_params *p, const double *x, int64_t Cg,
                                  int64_t Hp, int64_t Wp, double *xp)
{
    /* the same placement in portable loops (float64 takes no panel path today) */
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t i = 0; i < Hp; i++)
            for (int64_t j = 0; j < Wp; j++) {
                const int64_t ih = i - p->ph, iw = j - p->pw;
                xp[(c * Hp + i) * Wp + j] =
                    ih >= 0 && ih < p->H && iw >= 0 && iw < p->W ? x[(c * p->H + ih) * p->W + iw]
                                                                 : 0.0;
            }
}

static int have_panels_f32(const dl_conv_params *p)
{
    return p->S == 4 && p->dw == 1;
}
/* the forward's columns straight into panels (fwd_panels_all): AVX2 at strides 1 and 2, where
 * its run copies are whole vectors (conv_panels_simd.c); the column tile it replaces was
 * written to L3 and read back by the GEMM's packing (see fwd_panels_all) */
static int have_fwd_panels_f32(const dl_conv_params *p)
{
    return dl_isa() == DL_ISA_AVX2 && p->sw <= 2 && p->OW <= 64;
}

static int panel_gemm_f64(size_t M, size_t N, size_t K, const double *A, ptrdiff_t lda,
                          const conv_panel_src *src, double beta, double *C, ptrdiff_t ldc, const double *bias,
                          dl_bias_t bias_kind)
{
    (void)M, (void)N, (void)K, (void)A, (void)lda, (void)src;
    (void)beta, (void)C, (void)ldc, (void)bias, (void)bias_kind;
    return -1;
}
static int have_panels_f64(const dl_conv_params *p)
{
    (void)p;
    return 0;
}
static int have_fwd_panels_f64(const dl_conv_params *p)
{
    (void)p;
    return 0;
}

#endif
