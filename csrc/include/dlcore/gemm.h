/* General matrix multiply on row-major matrices, with a fused epilogue.
 *
 *   C[M,N] = act(alpha * op(A) @ op(B) + beta * C + bias)
 *
 * op(A) is A (M x K, row stride lda) or, with transa, A^T where A is stored K x M.
 * op(B) is B (K x N, row stride ldb) or, with transb, B^T where B is stored N x K.
 * beta == 0 means C is write-only (its old contents, NaN included, are ignored).
 * bias is NULL or, by bias_kind, a vector of N added to every row (DL_BIAS_ROW, Linear) or a
 * vector of M added to every column (DL_BIAS_COL, convolution's per-channel bias).
 * Threads: up to dl_num_threads(); called inside a parallel region it runs on one thread.
 */
#ifndef DLCORE_GEMM_H
#define DLCORE_GEMM_H

#include <stddef.h>

/* DL_ACT_RELU6: min(max(x, 0), 6), MobileNet's clip, so its 1x1 convolutions need no pass
 * over their output after the product */
typedef enum { DL_ACT_NONE = 0, DL_ACT_RELU = 1, DL_ACT_GELU = 2, DL_ACT_RELU6 = 3 } dl_act_t;
typedef enum { DL_BIAS_NONE = 0, DL_BIAS_ROW = 1, DL_BIAS_COL = 2 } dl_bias_t;

void dl_sgemm(int transa, int transb, size_t M, size_t N, size_t K, float alpha,
              const float *A, ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta,
              float *C, ptrdiff_t ldc, const float *bias, dl_bias_t bias_kind, dl_act_t act);
void dl_dgemm(int transa, int transb, size_t M, size_t N, size_t K, double alpha,
              const double *A, ptrdiff_t lda, const double *B, ptrdiff_t ldb, double beta,
              double *C, ptrdiff_t ldc, const double *bias, dl_bias_t bias_kind, dl_act_t act);

/* The same with an explicit thread count: nthreads <= 0 picks it as dl_sgemm does (the
 * engine's count, one thread for small products or inside a parallel region); nthreads >= 1 is
 * an upper bound (1: run on the calling thread only, e.g. from inside an OpenMP loop). */
void dl_sgemm_ex(int transa, int transb, size_t M, size_t N, size_t K, float alpha,
                 const float *A, ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta,
                 float *C, ptrdiff_t ldc, const float *bias, dl_bias_t bias_kind, dl_act_t act,
                 int nthreads);
void dl_dgemm_ex(int transa, int transb, size_t M, size_t N, size_t K, double alpha,
                 const double *A, ptrdiff_t lda, const double *B, ptrdiff_t ldb, double beta,
                 double *C, ptrdiff_t ldc, const double *bias, dl_bias_t bias_kind,
                 dl_act_t act, int nthreads);

/* A left operand packed once and used for several products (float32): conv2d multiplies
 * every image's columns by the same weights.  dl_sgemm_pack_a packs op(A) (M x K) for the
 * micro-kernel of the ISA selected at that moment, and dl_sgemm_packed_run computes
 *   C[M,N] = act(alpha * op(A) @ op(B) + beta * C + bias)
 * with it, as dl_sgemm_ex would (the same kernel and blocking; threads split the columns).
 * A must stay alive and unchanged while pa is used: when the packed copy could not be
 * allocated (pack_a returns -1; also for M or K == 0) the run falls back to dl_sgemm_ex on A.
 * Free with dl_sgemm_packed_a_free (also after a -1). */
typedef struct {
    float *p;            /* packed panels, or NULL */
    int transa;
    size_t M, K;
    const float *A;
    ptrdiff_t lda;
    int isa;             /* the dl_isa_t the panels were packed for */
} dl_sgemm_packed_a;
int dl_sgemm_pack_a(int transa, size_t M, size_t K, const float *A, ptrdiff_t lda,
                    dl_sgemm_packed_a *pa);
void dl_sgemm_packed_run(const dl_sgemm_packed_a *pa, int transb, size_t N, float alpha,
                         const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc,
                         const float *bias, dl_bias_t bias_kind, dl_act_t act, int nthreads);
void dl_sgemm_packed_a_free(dl_sgemm_packed_a *pa);

/* `batch` independent products; matrix b starts at A + b*stride_a (likewise B, C). */
void dl_sgemm_batched(int transa, int transb, size_t M, size_t N, size_t K, float alpha,
                      const float *A, ptrdiff_t lda, ptrdiff_t stride_a,
                      const float *B, ptrdiff_t ldb, ptrdiff_t stride_b, float beta,
                      float *C, ptrdiff_t ldc, ptrdiff_t stride_c, size_t batch);
void dl_dgemm_batched(int transa, int transb, size_t M, size_t N, size_t K, double alpha,
                      const double *A, ptrdiff_t lda, ptrdiff_t stride_a,
                      const double *B, ptrdiff_t ldb, ptrdiff_t stride_b, double beta,
                      double *C, ptrdiff_t ldc, ptrdiff_t stride_c, size_t batch);

#endif
