/* The int8 GEMM micro-kernel on AVX512-VNNI: vpdpbusd multiplies 4 u8 activations by 4 s8
 * weights per 32-bit lane and adds the four products to the lane exactly (no 16-bit
 * intermediate, so no saturation).  The tile (6 rows x 4 panels) is dot_tile_impl.h's; Kp is
 * a multiple of 4. */
#include "qgemm_kernels.h"

#define DT_TILE qgemm_tile_vnni
#define DT_A uint8_t
#define DT_B int8_t
#define DT_C int32_t
#define DT_GROUP 4
#define DT_LDC QG_LDC
#define DT_ACC __m512i
#define DT_ACC_LOAD(p) _mm512_loadu_si512((const void *)(p))
#define DT_ACC_ZERO() _mm512_setzero_si512()
#define DT_ACC_STORE(p, c) _mm512_storeu_si512((void *)(p), c)
#define DT_DOT(c, a, b) _mm512_dpbusd_epi32(c, a, b)
#include "dot_tile_impl.h"
