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

/* Decoding (one row of x) from a row-interleaved copy of W (dl_qpack): rows in tiles of
 * DL_QP_ROWS, each tile's blocks stored as the tile's 16 scales (f16; for Q4_1 then its 16
 * minimums) followed by the codes of 2 consecutive k of every row side by side, so that one
 * vector holds a pair of k for 16 rows.  x is split once per call into two int16 parts per
 * 32-block, x_k = s_b (xq_k + xl_k 2^-15) with s_b = max|x_b| / 32767 (xq rounds x_k / s_b,
 * xl the remainder), and each block's dot is made of exact integer sums of code x part
 * products (vpmaddwd), scaled once per block for the whole tile:
 *   y[j] = sum_b d_jb s_b (sum_k q_jk xq_k + 2^-15 sum_k q_jk xl_k)  +  m_jb sum_k x_k
 * (Q4_0: m = -8 d).  No horizontal sums, one scale step per 16 rows and block, integer
 * multiply-adds of 2 x 16 codes.  The split holds x to |x_k - s_b (xq_k + xl_k 2^-15)| <=
 * s_b 2^-16 (about max|x_b| 2^-31), far below float32's rounding of the sums, so
 *   |y_j - exact| <= sum_b s_b 2^-16 sum_{k in b} |w_jk|  plus float32 rounding of the sums.
 * A block of x with a NaN or Inf, or so small (max |x_b| < 2^-60) that its scales would leave
 * float32's normal range, sends the whole call through an exact float32 loop instead. */
enum { DL_QP_ROWS = 16 };

/* Bytes of the packed copy of an (N, K) weight (N rounded up to whole tiles), 0 for an
 * unknown kind or K not a multiple of 32. */
size_t dl_qpack_bytes(int kind, size_t N, size_t K);

/* P (dl_qpack_bytes bytes) = the packed copy of W; rows past N in the last tile are zero.
 * Returns 0, or -1 for bad arguments. */
int dl_qpack(int kind, size_t N, size_t K, const uint8_t *W, size_t ldw, uint8_t *P);

/* y[j] = sum_k x[k] * W[j, k] for j < N from the packed copy P (accumulate: y[j] += ...).
 * Returns 0, -1 for bad arguments, -2 when scratch memory could not be allocated. */
int dl_qgemv_packed_f32(int kind, size_t N, size_t K, const float *x, const uint8_t *P,
                        float *y, int accumulate);

/* The tile dl_qgemv_packed_f32 runs now: "avx512-vnni" (vpdpwssd, where the CPU has it),
 * "avx512", "avx2" or "generic"; allow_vnni(0) keeps the AVX-512 path off the VNNI tile
 * (to test both); it returns the previous setting. */
const char *dl_qgemv_packed_kernel_name(void);
int dl_qgemv_packed_allow_vnni(int allow);

/* Prompt processing (M rows of x) from the same packed copy P, with 8-bit activations: each
 * row of x is rounded per 32-block to int8 codes, xq_k = round(x_k / s_b) with s_b =
 * max|x_b| / 127, and each block's dot for a tile of 16 weight rows is an exact integer sum
 * of code products (u8 x s8 vpdpbusd / vpmaddubsw for the 4-bit codes; int16 pairs for
 * Q8_0), scaled once per block:
 *   y[i, j] = sum_b d_jb s_ib sum_k q_jk xq_ik  (+ Q4_0: -8 d_jb s_ib sum_k xq_ik,
 *                                                + Q4_1: m_jb s_ib sum_k xq_ik)
 * i.e. the exact product of the rounded x (s_ib xq_ik) with the block weights w, so
 *   |y[i, j] - exact| <= sum_b (s_ib / 2) sum_{k in b} |w_jk|  plus float32 rounding
 * (each x_k moves by at most s_b / 2, i.e. 2^-8 of its block's largest magnitude).  Q4_1's
 * minimum multiplies the rounded x's sum, not x's own: the error is then sum_k w_jk (x^_k -
 * x_k) with w centred near 0, not sum_k q_jk d_jb (...) with q d in [0, 15 d], about 2.5x
 * less on SmolLM2's logits.  Not exact, as llama.cpp's Q8 activations are not: callers
 * choose it (dlcore.ops.fused_linear's int8 prompt option) or dl_qgemm_f32.
 * A row of x with a NaN or Inf, or a block so small (max |x_b| < 2^-60) that its scales
 * would leave float32's normal range, takes the exact float32 loop (for that row only).
 * y rows are ldy apart, x rows ldx apart; accumulate adds to y.  Returns 0, -1 for bad
 * arguments (unknown kind, K not a multiple of 32, ldx < K, ldy < N), -2 when scratch
 * memory could not be allocated. */
int dl_qgemm_packed_f32(int kind, size_t M, size_t N, size_t K, const float *x, size_t ldx,
                        const uint8_t *P, float *y, size_t ldy, int accumulate);

/* The tile dl_qgemm_packed_f32 runs now: "avx512-vnni" (vpdpbusd / vpdpwssd, where the CPU
 * has them and dl_qgemv_packed_allow_vnni allows), "avx512", "avx2" or "generic". */
const char *dl_qgemm_packed_kernel_name(void);

#endif
