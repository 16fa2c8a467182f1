/* PLACEHOLDER reference GEMM: plain loops, correct for every argument combination, slow.
 * The GEMM issue replaces this file with the packed, blocked, per-ISA implementation. */
#include <math.h>
#include "dlcore/gemm.h"
#include "dlcore/runtime.h"

static double gelu_d(double x) { return 0.5 * x * (1.0 + erf(x * 0.70710678118654752)); }

#define DL_GEMM_REF(NAME, T)                                                                  \
void NAME(int transa, int transb, size_t M, size_t N, size_t K, T alpha,                       \
          const T *A, ptrdiff_t lda, const T *B, ptrdiff_t ldb, T beta,                        \
          T *C, ptrdiff_t ldc, const T *bias, dl_bias_t bias_kind, dl_act_t act)               \
{                                                                                              \
    _Pragma("omp parallel for num_threads(dl_threads_for(M * N * (K + 1), 1 << 16))")          \
    for (ptrdiff_t i = 0; i < (ptrdiff_t)M; i++) {                                             \
        for (size_t j = 0; j < N; j++) {                                                       \
            T s = 0;                                                                           \
            for (size_t k = 0; k < K; k++) {                                                   \
                T a = transa ? A[k * lda + i] : A[i * lda + k];                                \
                T b = transb ? B[j * ldb + k] : B[k * ldb + j];                                \
                s += a * b;                                                                    \
            }                                                                                  \
            T v = alpha * s;                                                                   \
            if (beta != 0) v += beta * C[i * ldc + j];                                         \
            if (bias && bias_kind == DL_BIAS_ROW) v += bias[j];                                \
            if (bias && bias_kind == DL_BIAS_COL) v += bias[i];                                \
            if (act == DL_ACT_RELU) v = v > 0 ? v : (v != v ? v : 0);                          \
            else if (act == DL_ACT_GELU) v = (T)gelu_d((double)v);                             \
            C[i * ldc + j] = v;                                                                \
        }                                                                                      \
    }                                                                                          \
}

DL_GEMM_REF(dl_sgemm, float)
DL_GEMM_REF(dl_dgemm, double)

void dl_sgemm_batched(int transa, int transb, size_t M, size_t N, size_t K, float alpha,
                      const float *A, ptrdiff_t lda, ptrdiff_t stride_a,
                      const float *B, ptrdiff_t ldb, ptrdiff_t stride_b, float beta,
                      float *C, ptrdiff_t ldc, ptrdiff_t stride_c, size_t batch)
{
    for (size_t b = 0; b < batch; b++)
        dl_sgemm(transa, transb, M, N, K, alpha, A + b * stride_a, lda, B + b * stride_b, ldb,
                 beta, C + b * stride_c, ldc, NULL, DL_BIAS_NONE, DL_ACT_NONE);
}

void dl_dgemm_batched(int transa, int transb, size_t M, size_t N, size_t K, double alpha,
                      const double *A, ptrdiff_t lda, ptrdiff_t stride_a,
                      const double *B, ptrdiff_t ldb, ptrdiff_t stride_b, double beta,
                      double *C, ptrdiff_t ldc, ptrdiff_t stride_c, size_t batch)
{
    for (size_t b = 0; b < batch; b++)
        dl_dgemm(transa, transb, M, N, K, alpha, A + b * stride_a, lda, B + b * stride_b, ldb,
                 beta, C + b * stride_c, ldc, NULL, DL_BIAS_NONE, DL_ACT_NONE);
}
