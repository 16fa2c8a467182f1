/* The packed quantised GEMM's AVX-512 tile with AVX512-VNNI: vpdpbusd (4-bit codes x int8
 * activations) and vpdpwssd (Q8_0's int16 pairs) instead of the two- and three-instruction
 * sequences.  Compiled once with the VNNI flags; the driver (qgemv_packed_gemm.c) calls it
 * only when the CPU reports AVX512-VNNI and the AVX-512 path is in use.  The integer sums are
 * the same either way. */
#include <immintrin.h>
#include "dlcore/qgemv.h"
#include "qgemv_packed_kernels.h"
#include "qgemv_packed_gemm_kernels.h"

#define QPG_TILE_NAME qpg_tile_avx512vnni
#define QPG_BODY_NAME qpg_tile_avx512vnni_body
#define QPG_DOT8(s, w, x) _mm512_dpbusd_epi32(s, w, x)
#define QPG_DOT16(s, w, x) _mm512_dpwssd_epi32(s, w, x)
#include "qgemv_packed_gemm_avx512_impl.h"

void qgemv_packed_gemm_tile_vnni(int kind, int mr, size_t nb, const void *xq, const float *xs,
                                 const float *xc, const uint8_t *W, uint8_t *buf, float *y,
                                 size_t ldy, int n, int accumulate)
{
    qpg_tile_avx512vnni(kind, mr, nb, xq, xs, xc, W, buf, y, ldy, n, accumulate);
}
