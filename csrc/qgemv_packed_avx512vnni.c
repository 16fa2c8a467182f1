/* The packed quantised GEMV's AVX-512 tile with vpdpwssd (AVX512-VNNI): the pairwise int16
 * products and their int32 sum in one instruction instead of vpmaddwd + vpaddd.  Compiled
 * once with the VNNI flags; the driver (qgemv_packed.c) calls it only when the CPU reports
 * AVX512-VNNI and the AVX-512 path is in use.  The sums are the same integers either way. */
#include <string.h>
#include <immintrin.h>
#include "dlcore/qgemv.h"
#include "qgemv_packed_kernels.h"

#define QP_TILE_NAME qp_tile_avx512vnni
#define QP_DOT(s, a, b) _mm512_dpwssd_epi32(s, a, b)
#define QP_BODY_NAME qp_tile_avx512vnni_body
#include "qgemv_packed_avx512_impl.h"

void qgemv_packed_tile_vnni(int kind, size_t nb, const int16_t *xq, const int16_t *xl,
                            const float *xs, const float *xsum, const uint8_t *P, float *y)
{
    qp_tile_avx512vnni(kind, nb, xq, xl, xs, xsum, P, y);
}
