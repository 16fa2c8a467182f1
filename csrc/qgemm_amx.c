/* The int8 GEMM tile on AMX: tdpbusd multiplies 16 rows of u8 groups by 16 groups of a packed
 * s8 panel into 16 x 16 int32 sums, each group's four products added exactly (as vpdpbusd
 * does), so the sums equal every other path's.  The tile is amx_tile_impl.h's; reached only
 * through qgemm.c after dl_amx_ready(DL_AMX_INT8). */
#include "qgemm_kernels.h"

#if defined(__AMX_INT8__)
#define AT_TILE qgemm_tile_amx
#define AT_A uint8_t
#define AT_B int8_t
#define AT_C int32_t
#define AT_GROUP 4
#define AT_LDC QG_LDC
#define AT_DP(c, a, b) _tile_dpbusd(c, a, b)
#define AT_FALLBACK qgemm_tile_vnni
#define AT_FALLBACK_MR QG_MR_VNNI
#include "amx_tile_impl.h"
#else
/* built without the AMX flags: dl_amx_built() is 0, so this is never chosen */
void qgemm_tile_amx(size_t mr, size_t nv, size_t Kp, const uint8_t *A, size_t lda,
                    const int8_t *B, size_t pstride, int32_t *C, int accumulate)
{
    for (size_t i = 0; i < mr; i += QG_MR_VNNI)
        qgemm_tile_vnni(mr - i < QG_MR_VNNI ? mr - i : QG_MR_VNNI, nv, Kp, A + i * lda, lda, B,
                        pstride, C + i * QG_LDC, accumulate);
}
#endif
