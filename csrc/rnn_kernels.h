/* The recurrent family's per-ISA float32 kernels (rnn_simd.c, one copy per ISA), reached
 * through rnn_kernels() (see dispatch.h); rnn.c threads over rows and runs the time loops.
 *
 * Cell kernels, one row of H hidden units (the contracts of dlcore/rnn.h's cell functions):
 *   lstm_row_fwd    pre-activations from whichever of xg, hg, bias are given
 *   lstm_slice_fwd  units [0, W) of a row for the thread-team time loop: hg's gate blocks lie
 *                   sh apart (the thread's own product), bias and gates H apart; no input part
 *   gru_slice_fwd   units [0, W) of a row for the team's time loop (rnn_packed.c): xg's and
 *                   hg's gate blocks H apart, h in place (h_{t-1} in, h_t out), no hgn
 *   lstm_row_bwd, gru_row_fwd, gru_row_bwd, elman_row_fwd, elman_row_bwd
 * The recurrent product, C (M x N) = beta*C + [A | A2] @ B, B packed once:
 *   nr              columns per packed panel
 *   pack_b          out[p*pstride + k*nr + j] = op(B)[k][p*nr + j], 0 past column N; op(B) = B
 *                   (K x N) or, with trans, B^T for B stored N x K; pstride >= K*nr lets two
 *                   matrices share panels (the second packed at out + K*nr)
 *   gemm_packed     panels [p0, p1) of C from panels holding K + K2 rows (A's, then A2's) */
#ifndef DLCORE_RNN_KERNELS_H
#define DLCORE_RNN_KERNELS_H

#include <stddef.h>
#include "dispatch.h"

typedef struct {
    void (*lstm_row_fwd)(size_t H, const float *xg, const float *hg, const float *bias,
                         float *gates, float *c, float *tc, float *h, float *h2);
    void (*lstm_slice_fwd)(size_t W, size_t H, const float *hg, size_t sh, const float *bias,
                           float *gates, float *c, float *tc, float *h, float *h2);
    void (*lstm_row_bwd)(size_t H, const float *g, const float *tc, const float *cp,
                         const float *dh, float *dc, float *dg);
    void (*gru_row_fwd)(size_t H, float *xg, const float *hg, float *h, float *hgn);
    void (*gru_slice_fwd)(size_t W, size_t H, float *xg, const float *hg, float *h);
    void (*gru_row_bwd)(size_t H, const float *g, const float *hgn, const float *hp,
                        const float *dh, float *dxg, float *dhg, float *dhp);
    void (*elman_row_fwd)(size_t H, int relu, float *g, float *h);
    void (*elman_row_bwd)(size_t H, int relu, const float *g, const float *dh, float *dg);
    size_t nr;
    void (*pack_b)(int trans, size_t K, size_t N, const float *B, ptrdiff_t ldb, float *out,
                   size_t pstride);
    void (*gemm_packed)(size_t M, size_t N, size_t K, const float *A, ptrdiff_t lda, size_t K2,
                        const float *A2, ptrdiff_t lda2, const float *Bp, float beta, float *C,
                        ptrdiff_t ldc, size_t p0, size_t p1);
} rnn_kernels_t;

DL_KERNEL_TABLE(rnn_kernels_t, rnn_kernels)

#endif
