/* A float32 product whose right operand the caller packs itself, one block at a time, as the
 * blocked loop nest reaches it:
 *
 *   C[M,N] = A @ B + beta * C + bias        A: M x K, row-major (row stride lda)
 *
 * B is never read from memory: for each K block [k0, k0 + kc) and column block [j0, j0 + n)
 * the product calls fn(ctx, k0, kc, j0, n, nr, dst), which must write ceil(n / nr) panels,
 * panel q at dst + q*nr*kc, as
 *
 *   dst[q*nr*kc + k*nr + i] = B[k0 + k][j0 + q*nr + i]   (zero where q*nr + i >= n)
 *
 * (nr: the register tile's width for the ISA in use).  A convolution gathers its im2col
 * columns straight into these panels instead of writing the whole column matrix and then
 * copying it into panels: the columns of a 64-image tile are megabytes, one block is a few
 * hundred KiB that the micro-kernel reads while they are still in L2.  One thread (the
 * caller splits its work over threads); the tiles, K blocks, micro-kernel and epilogue are
 * dl_sgemm's, so C is the same bits as dl_sgemm on the B the packer describes.
 */
#ifndef DLCORE_GEMM_BPACK_H
#define DLCORE_GEMM_BPACK_H

#include <stddef.h>
#include "dlcore/gemm.h"

typedef struct {
    void (*fn)(const void *ctx, size_t k0, size_t kc, size_t j0, size_t n, size_t nr,
               float *dst);
    const void *ctx;
} dl_sgemm_bpacker;

/* 0, or -1 when K == 0 or the packing buffers cannot be allocated (C untouched then). */
int dl_sgemm_bpack_run(size_t M, size_t N, size_t K, const float *A, ptrdiff_t lda,
                       const dl_sgemm_bpacker *bp, float beta, float *C, ptrdiff_t ldc,
                       const float *bias, dl_bias_t bias_kind);

#endif
