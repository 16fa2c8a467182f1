/* Private interface between the GEMM driver (csrc/gemm.c) and its per-ISA micro-kernels
 * (csrc/gemm_avx512.c, gemm_avx2.c, gemm_generic.c, gemm_f64_simd.c, gemm_gemv_simd.c).
 * Nothing outside the GEMM family includes this header; other families use dlcore/gemm.h.
 *
 * A micro-kernel computes one MR x NR tile of C from
 *   a: a packed A micro-panel, kc steps of MR values (a[k*MR + i] = op(A)[i, k]), zero-padded
 *      to MR rows, so it may always be read in full;
 *   b: kc rows of B, row k at b + k*ldb, of which the first nr values are read (packed panels
 *      use ldb == NR and are zero-padded; unpacked B is read in place with masked loads);
 * and finishes it with the epilogue below, writing only the mr x nr corner of C.
 */
#ifndef DLCORE_GEMM_KERNELS_H
#define DLCORE_GEMM_KERNELS_H

#include <math.h>
#include <stddef.h>
#include "dlcore/gemm.h"
#include "dispatch.h"

/* What a tile does with its accumulator `acc` (one K block of the product):
 *   v = alpha * acc;  if (beta != 0) v += beta * C;  v += bias;  C = act(v)
 * The driver passes beta = 1 for every K block after the first, and bias/act only with the last.
 * beta == 0 never reads C (C may hold NaN or garbage). */
typedef struct {
    double alpha;
    double beta;
    const void *bias_row;   /* NULL, or the NR-wide slice of a DL_BIAS_ROW vector (nr valid) */
    const void *bias_col;   /* NULL, or the MR-tall slice of a DL_BIAS_COL vector (mr valid) */
    int act;                /* dl_act_t */
} dl_gemm_epi;

typedef void (*dl_gemm_kernel_fn)(size_t kc, const void *a, const void *b, ptrdiff_t ldb,
                                  void *c, ptrdiff_t ldc, size_t mr, size_t nr,
                                  const dl_gemm_epi *e);

/* Register tiles of each kernel (the driver's packing must match). */
enum {
    DL_SGEMM_AVX512_MR = 14, DL_SGEMM_AVX512_NR = 32,   /* 28 zmm accumulators */
    DL_SGEMM_AVX2_MR = 6, DL_SGEMM_AVX2_NR = 16,        /* 12 ymm accumulators */
    DL_SGEMM_GENERIC_MR = 4, DL_SGEMM_GENERIC_NR = 8,   /* 32 scalars / 8 xmm on SSE2 */
    DL_DGEMM_AVX512_MR = 8, DL_DGEMM_AVX512_NR = 24,    /* 24 zmm accumulators */
    DL_DGEMM_AVX2_MR = 4, DL_DGEMM_AVX2_NR = 12,        /* 12 ymm accumulators */
    DL_DGEMM_GENERIC_MR = 4, DL_DGEMM_GENERIC_NR = 4
};
enum { DL_GEMM_MAX_MR = 14, DL_GEMM_MAX_NR = 32 };

void dl_sgemm_kernel_avx512(size_t kc, const void *a, const void *b, ptrdiff_t ldb, void *c,
                            ptrdiff_t ldc, size_t mr, size_t nr, const dl_gemm_epi *e);
void dl_sgemm_kernel_avx2(size_t kc, const void *a, const void *b, ptrdiff_t ldb, void *c,
                          ptrdiff_t ldc, size_t mr, size_t nr, const dl_gemm_epi *e);
void dl_sgemm_kernel_generic(size_t kc, const void *a, const void *b, ptrdiff_t ldb, void *c,
                             ptrdiff_t ldc, size_t mr, size_t nr, const dl_gemm_epi *e);
/* The same tile with op(A) read in place instead of from a packed panel: element (i, k) at
 * a[i*ars + k*acs], exactly mr rows read (gemm_avx512.c, gemm_avx2.c; the small-product path). */
typedef void (*dl_gemm_kernel_sa_fn)(size_t kc, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                                     const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
                                     size_t mr, size_t nr, const dl_gemm_epi *e);
void dl_sgemm_kernel_sa_avx512(size_t kc, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                               const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
                               size_t mr, size_t nr, const dl_gemm_epi *e);
void dl_sgemm_kernel_sa_avx2(size_t kc, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                             const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, size_t mr,
                             size_t nr, const dl_gemm_epi *e);
/* Transposing pack (float32, AVX-512): dst[k*R + i] = src[i*ld + k] for i < r, k < kc, zero
 * for r <= i < R; R <= 32.  Packs op(A) rows when transa == 0 and op(B) columns when
 * transb == 1.  The other ISAs use the portable loops in gemm.c. */
void dl_sgemm_pack_t_avx512(const float *src, ptrdiff_t ld, size_t r, size_t kc, size_t R,
                            float *dst);
/* Non-transposing pack of a whole block (float32, AVX-512): panel q of width R holds
 * dst[q*R*kc + k*R + i] = src[k*ld + q*R + i] for columns q*R + i < n, zero past n. */
void dl_sgemm_pack_n_avx512(const float *src, ptrdiff_t ld, size_t n, size_t kc, size_t R,
                            float *dst);
/* The same two packs for AVX2 (R <= 16; gemm_avx2.c). */
void dl_sgemm_pack_t_avx2(const float *src, ptrdiff_t ld, size_t r, size_t kc, size_t R,
                          float *dst);
void dl_sgemm_pack_n_avx2(const float *src, ptrdiff_t ld, size_t n, size_t kc, size_t R,
                          float *dst);
typedef void (*dl_gemm_pack_n_fn)(const float *src, ptrdiff_t ld, size_t n, size_t kc,
                                  size_t R, float *dst);
typedef void (*dl_gemm_pack_t_fn)(const float *src, ptrdiff_t ld, size_t r, size_t kc,
                                  size_t R, float *dst);

/* float64 kernels: one C source (gemm_f64_simd.c) compiled per ISA, vectorized by the compiler. */
void dl_dgemm_kernel_generic(size_t kc, const void *a, const void *b, ptrdiff_t ldb, void *c,
                             ptrdiff_t ldc, size_t mr, size_t nr, const dl_gemm_epi *e);
void dl_dgemm_kernel_avx2(size_t kc, const void *a, const void *b, ptrdiff_t ldb, void *c,
                          ptrdiff_t ldc, size_t mr, size_t nr, const dl_gemm_epi *e);
void dl_dgemm_kernel_avx512(size_t kc, const void *a, const void *b, ptrdiff_t ldb, void *c,
                            ptrdiff_t ldc, size_t mr, size_t nr, const dl_gemm_epi *e);

/* Matrix-vector products for the direct path (gemm_gemv_simd.c, one copy per ISA); they
 * write raw sums, the driver applies the epilogue.
 *   dots: y[j] = sum_k x[k] * W[j*ldw + k]   (rows of W contiguous in k), j < n
 *   axpy: y[j] = sum_k x[k] * W[k*ldw + j]   (rows of W contiguous in j), j < n */
void dl_sgemv_dots_generic(size_t n, size_t K, const float *x, const float *W, ptrdiff_t ldw,
                           float *y);
void dl_sgemv_dots_avx2(size_t n, size_t K, const float *x, const float *W, ptrdiff_t ldw,
                        float *y);
void dl_sgemv_dots_avx512(size_t n, size_t K, const float *x, const float *W, ptrdiff_t ldw,
                          float *y);
void dl_sgemv_axpy_generic(size_t n, size_t K, const float *x, const float *W, ptrdiff_t ldw,
                           float *y);
void dl_sgemv_axpy_avx2(size_t n, size_t K, const float *x, const float *W, ptrdiff_t ldw,
                        float *y);
void dl_sgemv_axpy_avx512(size_t n, size_t K, const float *x, const float *W, ptrdiff_t ldw,
                          float *y);

/* Y[i*ldy + j] = sum_k X[i*ldx + k] W[j*ldw + k] for i < m <= 4, j < n: a few rows of X
 * against the rows of W, W read once (gemm_gemv_simd.c).  Raw sums, no epilogue. */
void dl_sgemm_small_dots_generic(size_t m, size_t n, size_t K, const float *X, ptrdiff_t ldx,
                                 const float *W, ptrdiff_t ldw, float *Y, ptrdiff_t ldy);
void dl_sgemm_small_dots_avx2(size_t m, size_t n, size_t K, const float *X, ptrdiff_t ldx,
                              const float *W, ptrdiff_t ldw, float *Y, ptrdiff_t ldy);
void dl_sgemm_small_dots_avx512(size_t m, size_t n, size_t K, const float *X, ptrdiff_t ldx,
                                const float *W, ptrdiff_t ldw, float *Y, ptrdiff_t ldy);

/* One ISA's kernels and register tiles, one table per ISA (gemm.c), picked by gemm_kernels()
 * / gemm_kernels_for(isa) (see dispatch.h); pack_t and pack_n are NULL where the ISA has no
 * packing kernels (gemm.c's portable loops then pack). */
typedef struct {
    dl_gemm_kernel_fn sgemm;
    size_t smr, snr;
    dl_gemm_pack_t_fn pack_t;
    dl_gemm_pack_n_fn pack_n;
    dl_gemm_kernel_fn dgemm;
    size_t dmr, dnr;
    void (*sgemv_dots)(size_t n, size_t K, const float *x, const float *W, ptrdiff_t ldw,
                       float *y);
    void (*sgemv_axpy)(size_t n, size_t K, const float *x, const float *W, ptrdiff_t ldw,
                       float *y);
    void (*sgemm_small_dots)(size_t m, size_t n, size_t K, const float *X, ptrdiff_t ldx,
                             const float *W, ptrdiff_t ldw, float *Y, ptrdiff_t ldy);
    dl_gemm_kernel_sa_fn sgemm_sa;   /* A read in place, or NULL: no small-product path */
} gemm_kernels_t;

DL_KERNEL_TABLE(gemm_kernels_t, gemm_kernels)

/* Exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), computed as 0.5 x erfc(-x / sqrt 2)
 * so the negative tail keeps its relative accuracy (1 + erf cancels to 0 below x ~ -5.5 in
 * float).  NaN in, NaN out; -inf gives 0 (the limit), not the NaN of -inf * 0. */
static inline float dl_gelu_f32(float x)
{
    if (x == -INFINITY) return 0.0f;
    return 0.5f * x * erfcf(x * -0.70710678118654752f);
}
static inline double dl_gelu_f64(double x)
{
    if (x == -INFINITY) return 0.0;
    return 0.5 * x * erfc(x * -0.70710678118654752);
}

/* The scalar epilogue, shared by edge code and the kernels' GELU pass. */
static inline float dl_epi_f32(float acc, const float *c, float alpha, float beta, float bias,
                               int act)
{
    float v = alpha * acc;
    if (beta != 0.0f) v += beta * *c;
    v += bias;
    if (act == DL_ACT_RELU) v = v < 0.0f ? 0.0f : v;     /* NaN < 0 is false: NaN stays */
    else if (act == DL_ACT_GELU) v = dl_gelu_f32(v);
    else if (act == DL_ACT_RELU6) v = v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
    return v;
}
static inline double dl_epi_f64(double acc, const double *c, double alpha, double beta,
                                double bias, int act)
{
    double v = alpha * acc;
    if (beta != 0.0) v += beta * *c;
    v += bias;
    if (act == DL_ACT_RELU) v = v < 0.0 ? 0.0 : v;
    else if (act == DL_ACT_GELU) v = dl_gelu_f64(v);
    else if (act == DL_ACT_RELU6) v = v < 0.0 ? 0.0 : (v > 6.0 ? 6.0 : v);
    return v;
}

#endif
