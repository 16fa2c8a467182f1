/* The copy that packs a convolution's im2col columns straight into GEMM panels
 * (conv_panels_simd.c, one copy per ISA; see conv_panels_impl.h and dlcore/gemm_bpack.h).
 *
 * The operand's rows are runs: B[k][u*L + v] = xp[row_off[k] + run_off[u] + v*step] for
 * v < L, over zero-padded input planes xp, so every index is inside xp and no bound is
 * checked.  The weight gradient's columns transposed (a row: one pixel over the taps) are
 * runs of one kernel row (L = S, step = the dilation); the forward's columns (a row: one tap
 * over the pixels) would be runs of one output row (L = OW, step = the stride).  pack_rows is a
 * dl_sgemm_bpacker function: ctx points at a conv_panel_src; it writes B's rows
 * [k0, k0 + kc) and columns [j0, j0 + n) as panels of width nr (zero past n). */
#ifndef DLCORE_CONV_PANELS_KERNELS_H
#define DLCORE_CONV_PANELS_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "dispatch.h"

typedef struct {
    const float *xp;
    const int32_t *row_off, *run_off;
    int64_t L, step;
    /* nonzero: xp may be read up to 16 values past any run's last one (whole-vector copies) */
    int vec_slack;
} conv_panel_src;

typedef struct {
    void (*pack_rows)(const void *ctx, size_t k0, size_t kc, size_t j0, size_t n, size_t nr,
                      float *dst);
    /* xp (C planes of Hp x Wp) = x (C planes of H x W) placed at row ph, column pw, zero
     * around it; only x's rows and columns that land inside xp are read */
    void (*pad_planes)(const float *x, int64_t C, int64_t H, int64_t W, int64_t ph, int64_t pw,
                       int64_t Hp, int64_t Wp, float *xp);
} conv_panels_kernels_t;

DL_KERNEL_TABLE(conv_panels_kernels_t, conv_panels_kernels)

#endif
