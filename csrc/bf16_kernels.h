/* The 16-bit float family's per-ISA kernels (bf16_simd.c, one copy per ISA; the vdpbf16ps
 * tile in bf16_avx512bf16.c), reached through bf16_kernels() (dispatch.h); driver: bf16.c.
 *   tile:      C (mr, 16*nv; row stride BF_LDC) float (+)= A rows (bf16) x packed panels
 *              (bf16), over one K block (odd length: its last k alone); panels pstride
 *              elements apart; accumulate: add to C, else overwrite it
 *   tile_bf16: the same with vdpbf16ps, NULL outside the AVX-512 table; used only when the
 *              CPU reports AVX512-BF16
 *   tile_amx:  the same on AMX tiles (bf16_amx.c; mr <= 16, and C must have room for 16
 *              rows), NULL outside the AVX-512 table; used only after dl_amx_ready(DL_AMX_BF16)
 *   epilogue:  out[j] = act(c[j] + bias[j])
 *   to_bf16 / from_bf16 / to_f16 / from_f16: elementwise conversions */
#ifndef DLCORE_BF16_KERNELS_H
#define DLCORE_BF16_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "dispatch.h"

#define BF_NR 16
#define BF_NV 4
#define BF_LDC (BF_NR * BF_NV)
#define BF_MR_AVX512 6
#define BF_MR_AMX 16
/* rows per row block (their float sums, MC x 64 x 4 bytes, live on the thread's stack) */
#define BF_MC 96
/* k per block (even): one column group's packed weights, 64 x KC x 2 bytes, stay in L1 */
#define BF_KC 128
/* k per block on AMX: 16 chunks of 32 (a guess, not measured on AMX hardware) */
#define BF_KC_AMX 512

typedef void (*bf_tile_fn)(size_t mr, size_t nv, size_t K, const uint16_t *A, size_t lda,
                           const uint16_t *B, size_t pstride, float *C, int accumulate);

typedef struct {
    bf_tile_fn tile;
    bf_tile_fn tile_bf16;
    bf_tile_fn tile_amx;
    size_t mr_max;
    void (*epilogue)(size_t n, const float *c, const float *bias, int act, float *out);
    void (*to_bf16)(size_t n, const float *x, uint16_t *y);
    void (*from_bf16)(size_t n, const uint16_t *x, float *y);
    void (*to_f16)(size_t n, const float *x, uint16_t *y);
    void (*from_f16)(size_t n, const uint16_t *x, float *y);
} bf16_kernels_t;

DL_KERNEL_TABLE(bf16_kernels_t, bf16_kernels)

void bf16_tile_avx512bf16(size_t mr, size_t nv, size_t K, const uint16_t *A, size_t lda,
                          const uint16_t *B, size_t pstride, float *C, int accumulate);
void bf16_tile_amx(size_t mr, size_t nv, size_t K, const uint16_t *A, size_t lda,
                   const uint16_t *B, size_t pstride, float *C, int accumulate);

#endif
