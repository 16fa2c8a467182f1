/* The bf16 family as the extension builds it, with the portable tile standing in for the
 * AVX-512 one and the AMX tile running on the model (emu.h). */
#include "emu.h"
#include "../../csrc/bf16_simd.c"

void bf16_tile_avx512bf16(size_t mr, size_t nv, size_t K, const uint16_t *A, size_t lda,
                          const uint16_t *B, size_t pstride, float *C, int accumulate)
{
    tile(mr, nv, K, A, lda, B, pstride, C, accumulate);
}

#define EMU_TABLE {.tile = tile, .tile_bf16 = bf16_tile_avx512bf16, .tile_amx = bf16_tile_amx,  \
                   .mr_max = BF_MR, .epilogue = epilogue, .to_bf16 = to_bf16,                   \
                   .from_bf16 = from_bf16, .to_f16 = to_f16, .from_f16 = from_f16}
const bf16_kernels_t bf16_kernels_avx2 = EMU_TABLE;
const bf16_kernels_t bf16_kernels_avx512 = EMU_TABLE;

#include "../../csrc/bf16_amx.c"
#include "../../csrc/bf16.c"
