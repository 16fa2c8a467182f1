/* A right operand packed once and used for many products (float32): the inference plan's
 * Linear/MatMul steps multiply every call's activations by the same constant weights, and
 * dl_sgemm packs those weights again on every call (for a batch-1 transformer layer, a copy as
 * large as the weights for a product only 64 rows tall).
 *
 *   C[M,N] = act(alpha * A @ op(B) + beta * C + bias)     A: M x K, row-major (not transposed)
 *
 * dl_sgemm_pack_b packs op(B) (K x N; op(B) = B^T for B stored N x K when transb) for the
 * micro-kernel of the ISA selected at that moment and keeps a pointer to B: B must stay alive
 * and unchanged while the packed copy is used (products of up to 4 rows read it as given,
 * the direct matrix-vector paths being faster there than any packed product).  NULL when out
 * of memory or for K or N == 0 (callers then keep dl_sgemm_ex on B).  dl_sgemm_packed_b_run
 * computes the product with the same micro-kernel and epilogue as dl_sgemm_ex; threads split
 * the tiles of C (nthreads as in dl_sgemm_ex: <= 0 the engine's count, >= 1 an upper bound;
 * one thread inside a parallel region); post (or NULL) then runs on every part of C once.
 */
#ifndef DLCORE_GEMM_PREPACKED_H
#define DLCORE_GEMM_PREPACKED_H

#include <stddef.h>
#include "dlcore/gemm.h"

typedef struct dl_sgemm_packed_b dl_sgemm_packed_b;

/* An elementwise pass the product applies to each finished strip of C (up to 512 columns of
 * a few rows) while it is still in cache, e.g. an activation the epilogue lacks. */
typedef struct {
    void (*fn)(const void *ctx, float *C, size_t rows, size_t cols, ptrdiff_t ldc);
    const void *ctx;
} dl_gemm_post;

dl_sgemm_packed_b *dl_sgemm_pack_b(int transb, size_t K, size_t N, const float *B,
                                   ptrdiff_t ldb);
void dl_sgemm_packed_b_free(dl_sgemm_packed_b *pb);
/* 0, or -1 when M, N or K does not match the packed operand's (nothing is written then) */
int dl_sgemm_packed_b_run(const dl_sgemm_packed_b *pb, size_t M, size_t N, size_t K,
                          float alpha, const float *A, ptrdiff_t lda, float beta, float *C,
                          ptrdiff_t ldc, const float *bias, dl_bias_t bias_kind, dl_act_t act,
                          const dl_gemm_post *post, int nthreads);

/* op(A) for dl_sgemm_packed_b_run_cm, "channel-major": the transpose of row-major K x seg
 * blocks, rows [g*seg, (g+1)*seg) of op(A) the columns of the block at A + g*gstride (its row
 * k at + k*lda).  NCHW images' C x P planes (seg P, lda P, gstride C*P) read as P x C rows, the
 * positions of several images one after another: a pointwise convolution as activations times
 * weights without transposing the activations first. */
typedef struct {
    const float *A;
    ptrdiff_t lda;
    size_t seg;
    ptrdiff_t gstride;
} dl_sgemm_cm_a;

/* dl_sgemm_packed_b_run with op(A) channel-major (packed as it is read).  0; -1 when M, N or
 * K does not match, seg is 0, or a thread's packing buffer cannot be had (C may then be
 * partly written: a caller with beta == 0 can redo the product another way). */
int dl_sgemm_packed_b_run_cm(const dl_sgemm_packed_b *pb, size_t M, size_t N, size_t K,
                             float alpha, const dl_sgemm_cm_a *a, float beta, float *C,
                             ptrdiff_t ldc, const float *bias, dl_bias_t bias_kind,
                             dl_act_t act, const dl_gemm_post *post, int nthreads);

#endif
