/* The bf16 GEMM tile on AMX: tdpbf16ps multiplies 16 rows of bf16 pairs by 16 pairs of a
 * packed panel into 16 x 16 float32 sums.  Like vdpbf16ps it ignores MXCSR (round to nearest
 * even, denormal inputs read as zero, denormal results flushed); its order of additions is
 * the hardware's, so the sums may differ from the other paths in the last bits (within the
 * float32 bound tests/test_bf16.py holds every path to).  The tile is amx_tile_impl.h's;
 * reached only through bf16.c after dl_amx_ready(DL_AMX_BF16). */
#include "bf16_kernels.h"

#if defined(__AMX_BF16__)
#define AT_TILE bf16_tile_amx
#define AT_A uint16_t
#define AT_B uint16_t
#define AT_C float
#define AT_GROUP 2
#define AT_LDC BF_LDC
#define AT_DP(c, a, b) _tile_dpbf16ps(c, a, b)
#define AT_FALLBACK bf16_tile_avx512bf16
#define AT_FALLBACK_MR BF_MR_AVX512
#include "amx_tile_impl.h"
#else
/* built without the AMX flags: dl_amx_built() is 0, so this is never chosen */
void bf16_tile_amx(size_t mr, size_t nv, size_t K, const uint16_t *A, size_t lda,
                   const uint16_t *B, size_t pstride, float *C, int accumulate)
{
    for (size_t i = 0; i < mr; i += BF_MR_AVX512)
        bf16_tile_avx512bf16(mr - i < BF_MR_AVX512 ? mr - i : BF_MR_AVX512, nv, K, A + i * lda,
                             lda, B, pstride, C + i * BF_LDC, accumulate);
}
#endif
