/* The int8 family as the extension builds it, with the portable tile standing in for the
 * AVX-512 ones and the AMX tile running on the model (emu.h). */
#include "emu.h"
#include "../../csrc/qgemm_simd.c"

void qgemm_tile_vnni(size_t mr, size_t nv, size_t Kp, const uint8_t *A, size_t lda,
                     const int8_t *B, size_t pstride, int32_t *C, int accumulate)
{
    tile(mr, nv, Kp, A, lda, B, pstride, C, accumulate);
}

#define EMU_TABLE {.tile = tile, .tile_vnni = qgemm_tile_vnni, .tile_amx = qgemm_tile_amx,     \
                   .mr_max = QG_MR, .epilogue = epilogue, .minmax = minmax,                     \
                   .quantize = quantize}
const qgemm_kernels_t qgemm_kernels_avx2 = EMU_TABLE;
const qgemm_kernels_t qgemm_kernels_avx512 = EMU_TABLE;

#include "../../csrc/qgemm_amx.c"
#include "../../csrc/qgemm.c"
