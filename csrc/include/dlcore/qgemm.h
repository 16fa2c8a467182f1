/* Integer GEMM for int8 quantization: u8 activations x s8 weights -> s32, with the dequantize
 * (per-row activation scale and zero point, per-column weight scale), bias, activation and an
 * optional requantize to u8 fused into the store.
 *
 * Weights W (N, K) (a Linear's (out_features, in_features)) are packed once into panels of 16
 * output columns, K rounded up to a multiple of 4 (Kp), 4 consecutive k of one column adjacent:
 * panel p holds bytes [kg][col 0..15][4], kg < Kp/4, zero padded.  Weights are symmetric (no
 * weight zero point); colsum[n] = sum_k W[n, k] corrects for the activation zero point:
 *   y[m, n] = a_scale[m] * w_scale[n] * (sum_k A[m, k] W[n, k] - a_zp[m] colsum[n]) + bias[n]
 * The activation rows A (M, lda >= Kp) must be zero from K to Kp (dl_quantize_rows_u8 writes
 * them so).  Return codes: 0, -1 bad arguments, -2 out of memory. */
#ifndef DLCORE_QGEMM_H
#define DLCORE_QGEMM_H

#include <stddef.h>
#include <stdint.h>

enum { DL_QACT_NONE = 0, DL_QACT_RELU = 1, DL_QACT_GELU = 2 };
/* the largest K: |sum_k (a - zp) w| <= 255 * 128 * K stays below 2^31 */
#define DL_QGEMM_MAX_K 65536

size_t dl_u8s8_kpad(size_t K);                 /* Kp */
size_t dl_u8s8_packed_bytes(size_t N, size_t K);
int dl_u8s8_pack(size_t N, size_t K, const int8_t *W, size_t ldw, int8_t *packed,
                 int32_t *colsum);

/* Quantize x (M, K) to u8 rows of stride ldq >= Kp (zero padded), codes 0..qmax: qmax 255,
 * or 127 for 7-bit codes (reduce_range: dl_u8s8_gemm's a_u7 tile).  per_row: a scale and zero
 * point per row, else one for the whole matrix (still written to all M entries).  The range
 * always includes 0 so that zero is exact; a row holding NaN or Inf gets scale NaN (its outputs
 * are then NaN).  -1 for another qmax. */
int dl_quantize_rows_u8(size_t M, size_t K, const float *x, size_t ldx, int per_row, int qmax,
                        uint8_t *q, size_t ldq, float *scale, int32_t *zp);

/* out (M, ldo) float, or, when out_u8 is given, out_u8 (M, N; row stride N)
 * = clamp(rint(y / out_scale) + out_zp, 0, top) (NaN -> 0), top 255, or 127 with out_u7
 * (7-bit output codes, reduce_range).
 * raw_s32 (optional, (M, N)): the bare integer sums sum_k A W, for tests.
 * a_u7: the activation codes should be in 0..127 (reduce_range).  A hint, never trusted: on
 * AVX2 it selects the 7-bit tile, which checks each row tile's codes and takes the full-range
 * tile for any tile holding a code above 127; the sums are exact either way. */
int dl_u8s8_gemm(size_t M, size_t N, size_t K, const uint8_t *A, size_t lda,
                 const int8_t *packed, const int32_t *colsum, const float *a_scale,
                 const int32_t *a_zp, const float *w_scale, const float *bias, int act,
                 float *out, size_t ldo, uint8_t *out_u8, float out_scale, int32_t out_zp,
                 int32_t *raw_s32, int a_u7, int out_u7);

/* The same product, dequantized (bias, act) and then quantized again per row as
 * dl_quantize_rows_u8(per_row = 1, qmax) does, bit for bit: q (M rows of stride ldq >= the
 * Kp of N, zero padded), q_scale and q_zp (M each), ready to be the A of a next product.  The
 * float rows go through work (work_rows >= 1 rows of N floats, ideally
 * dl_u8s8_qrows_work_rows(M, threads): a chunk of DL_QROWS_CHUNK rows per thread that stays in
 * cache) and nowhere else (csrc/qgemm_rows.c). */
#define DL_QROWS_CHUNK 96
int dl_u8s8_gemm_qrows(size_t M, size_t N, size_t K, const uint8_t *A, size_t lda,
                       const int8_t *packed, const int32_t *colsum, const float *a_scale,
                       const int32_t *a_zp, const float *w_scale, const float *bias, int act,
                       int a_u7, int qmax, uint8_t *q, size_t ldq, float *q_scale,
                       int32_t *q_zp, float *work, size_t work_rows);
size_t dl_u8s8_qrows_work_rows(size_t M, int threads);

/* which micro-kernel the ISA in use runs for full-range (a_u7 = 0) or 7-bit activations:
 * "amx" (dlcore/amx.h), "avx512-vnni", "avx2", "avx2-u7" (7-bit rows on vpmaddubsw),
 * "generic" */
const char *dl_u8s8_kernel_name(int a_u7);

#endif
