/* The bf16 GEMM micro-kernel on AVX512-BF16: vdpbf16ps multiplies a pair of bf16 activations
 * by a pair of bf16 weights per lane and adds both products to a float32 accumulator, so a
 * zmm instruction does 32 multiply-adds where an fp32 FMA does 16.  The tile (6 rows x 4
 * panels) is dot_tile_impl.h's; an odd K's last k is paired with +0. */
#include "bf16_kernels.h"

#define DT_TILE bf16_tile_avx512bf16
#define DT_A uint16_t
#define DT_B uint16_t
#define DT_C float
#define DT_GROUP 2
#define DT_TAIL(a) ((int32_t)(a)[0])   /* odd K: the last k, paired with +0 */
#define DT_LDC BF_LDC
#define DT_ACC __m512
#define DT_ACC_LOAD(p) _mm512_loadu_ps(p)
#define DT_ACC_ZERO() _mm512_setzero_ps()
#define DT_ACC_STORE(p, c) _mm512_storeu_ps(p, c)
#define DT_DOT(c, a, b) _mm512_dpbf16_ps(c, (__m512bh)(a), (__m512bh)(b))
#include "dot_tile_impl.h"
