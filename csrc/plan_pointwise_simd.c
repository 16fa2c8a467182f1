/* The per-ISA transpose of the executor's small-map pointwise convolution (plan_pointwise.c):
 * dst[c * ldd + r] = src[r * lds + c] for a rows x cols block, whole 16 x 16 blocks in
 * registers on AVX-512 (simd.h's vf_transpose16), 8 x 8 tiles of scalar moves elsewhere. */
#include <stddef.h>
#include <stdint.h>

#include "simd.h"
#include "plan_pointwise.h"

static void transpose_f32(const float *src, ptrdiff_t lds, size_t rows, size_t cols, float *dst,
                          ptrdiff_t ldd)
{
    size_t r0 = 0;
#ifdef DL_VF_TRANSPOSE16
    for (; r0 + 16 <= rows; r0 += 16) {
        size_t c0 = 0;
        for (; c0 + 16 <= cols; c0 += 16)
            vf_transpose16(src + (ptrdiff_t)r0 * lds + (ptrdiff_t)c0, lds,
                           dst + (ptrdiff_t)c0 * ldd + (ptrdiff_t)r0, ldd);
        for (size_t c = c0; c < cols; c++)
            for (size_t r = r0; r < r0 + 16; r++)
                dst[(ptrdiff_t)c * ldd + (ptrdiff_t)r] = src[(ptrdiff_t)r * lds + (ptrdiff_t)c];
    }
#endif
    for (; r0 < rows; r0 += 8) {
        const size_t r1 = r0 + 8 < rows ? r0 + 8 : rows;
        for (size_t c0 = 0; c0 < cols; c0 += 8) {
            const size_t c1 = c0 + 8 < cols ? c0 + 8 : cols;
            for (size_t c = c0; c < c1; c++)
                for (size_t r = r0; r < r1; r++)
                    dst[(ptrdiff_t)c * ldd + (ptrdiff_t)r] =
                        src[(ptrdiff_t)r * lds + (ptrdiff_t)c];
        }
    }
}

const plan_pw_kernels_t DL_ISA_FN(plan_pw_kernels) = {transpose_f32};
