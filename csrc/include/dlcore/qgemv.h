/* Matrix products with ggml block-quantised weights (Q4_0, Q4_1, Q8_0), dequantised on the fly.
 *
 * Batch-1 decoding of a language model is a chain of matrix-vector products whose cost is
 * reading the weights: keeping them as 4.5-5 bits per weight and expanding each 32-weight block
 * in registers reads 6x fewer bytes than float32 weights.
 *
 * W is N rows of K weights, each row ldw bytes holding K/32 blocks (GGUF's layout):
 *   Q4_0 (18 bytes): f16 d, 16 bytes of 4-bit codes q;   w = (q - 8) * d
 *   Q4_1 (20 bytes): f16 d, f16 m, 16 bytes of codes;    w = q * d + m
 *   Q8_0 (34 bytes): f16 d, 32 int8 codes;               w = q * d
 * In the 4-bit formats byte j holds weight j (low nibble) and weight j + 16 (high nibble).
 */
#ifndef DLCORE_QGEMV_H
#define DLCORE_QGEMV_H

#include <stddef.h>
#include <stdint.h>

/* ggml's type ids, so the Python layer can pass GGUF's own codes */
typedef enum { DL_Q4_0 = 2, DL_Q4_1 = 3, DL_Q8_0 = 8 } dl_qkind_t;

enum { DL_QK = 32 };

/* Bytes of one block of `kind`, or 0 for an unknown kind. */
size_t dl_qblock_bytes(int kind);

/* y[i, j] = sum_k x[i, k] * W[j, k] for i < M, j < N (y row stride ldy, x row stride ldx);
 * accumulate != 0 adds the products to y instead (a residual connection in the same pass).
 * K must be a multiple of 32 and ldw >= K / 32 * block bytes.
 * Returns 0, -1 for bad arguments (unknown kind, K not a multiple of 32, short ldw),
 * -2 when scratch memory could not be allocated. */
int dl_qgemm_f32(int kind, size_t M, size_t N, size_t K, const float *x, size_t ldx,
                 const uint8_t *W, size_t ldw, float *y, size_t ldy, int accumulate);

/* out[j, k] = W[j, k] as float32 for j < N (row stride K); same argument rules. */
int dl_qdequant_f32(int kind, size_t N, size_t K, const uint8_t *W, size_t ldw, float *out);

#endif
