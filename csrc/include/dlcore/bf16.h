/* bfloat16 and float16: conversions to and from float32, and a bf16 x bf16 -> fp32 GEMM.
 *
 * bf16 values travel as uint16 bit patterns.  float32 -> bf16 rounds to nearest even in
 * integer arithmetic on every path (the hardware vcvtneps2bf16 would flush denormals), NaN
 * stays NaN (made quiet).  float16 uses F16C where present, a bit-exact C conversion
 * elsewhere (round to nearest even, denormals, Inf, NaN).
 *
 * GEMM weights W (N, K) are packed once into panels of 16 output columns, K rounded up to
 * even (Kp), pairs of consecutive k of one column adjacent: panel p holds [kpair][col 0..15][2],
 * zero padded.  out (M, ldo) = A (M, K; row stride lda) @ W^T + bias, then the activation
 * (DL_QACT_* of dlcore/qgemm.h), accumulated in float32. */
#ifndef DLCORE_BF16_H
#define DLCORE_BF16_H

#include <stddef.h>
#include <stdint.h>

void dl_f32_to_bf16(size_t n, const float *x, uint16_t *y);
void dl_bf16_to_f32(size_t n, const uint16_t *x, float *y);
void dl_f32_to_f16(size_t n, const float *x, uint16_t *y);
void dl_f16_to_f32(size_t n, const uint16_t *x, float *y);

size_t dl_bf16_packed_elems(size_t N, size_t K);
int dl_bf16_pack(size_t N, size_t K, const uint16_t *W, size_t ldw, uint16_t *packed);
int dl_bf16_gemm(size_t M, size_t N, size_t K, const uint16_t *A, size_t lda,
                 const uint16_t *packed, const float *bias, int act, float *out, size_t ldo);

/* "amx" (dlcore/amx.h), "avx512-bf16", "avx2", "generic" */
const char *dl_bf16_kernel_name(void);

#endif
