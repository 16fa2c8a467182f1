/* The per-ISA transpose of the executor's small-map pointwise convolution (plan_pointwise.c):
 * dst[c * ldd + r] = src[r * lds + c] for a rows x cols block, whole L x L blocks in registers
 * (simd.h's vf_transpose_sq: 16 x 16 on AVX-512, 8 x 8 on AVX2), the edges and the portable
 * path in 8 x 8 tiles of scalar moves.  On AVX2 the scalar moves were 7% of MobileNetV2's
 * batch-1 plan. */
#include <stddef.h>
#include <stdint.h>

#include "simd.h"
#include "plan_pointwise.h"

static void transpose_f32(const float *src, ptrdiff_t lds, size_t rows, size_t cols, float *dst,
                          ptrdiff_t ldd)
{
    size_t r0 = 0;
#ifdef DL_VF_TRANSPOSE_SQ
    enum { L = DL_VF_LEN };
    for (; r0 + L <= rows; r0 += L) {
        size_t c0 = 0;
        for (; c0 + L <= cols; c0 += L)
            vf_transpose_sq(src + (ptrdiff_t)r0 * lds + (ptrdiff_t)c0, lds,
                            dst + (ptrdiff_t)c0 * ldd + (ptrdiff_t)r0, ldd);
        for (size_t c = c0; c < cols; c++)
            for (size_t r = r0; r < r0 + L; r++)
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

/* dst[c * ldd + r] += src[r * lds + c]: L x L blocks transposed through a small buffer */
static void transpose_add_f32(const float *src, ptrdiff_t lds, size_t rows, size_t cols,
                              float *dst, ptrdiff_t ldd)
{
    enum { B = 16 };
    float t[B * B];
    for (size_t r0 = 0; r0 < rows; r0 += B) {
        const size_t nr = rows - r0 < B ? rows - r0 : B;
        for (size_t c0 = 0; c0 < cols; c0 += B) {
            const size_t nc = cols - c0 < B ? cols - c0 : B;
            transpose_f32(src + (ptrdiff_t)r0 * lds + (ptrdiff_t)c0, lds, nr, nc, t, B);
            for (size_t c = 0; c < nc; c++) {
                float *d = dst + (ptrdiff_t)(c0 + c) * ldd + (ptrdiff_t)r0;
                const float *u = t + c * B;
                size_t r = 0;
                for (; r + DL_VF_LEN <= nr; r += DL_VF_LEN)
                    vf_storeu(d + r, vf_add(vf_loadu(d + r), vf_loadu(u + r)));
                for (; r < nr; r++) d[r] += u[r];
            }
        }
    }
}

const plan_pw_kernels_t DL_ISA_FN(plan_pw_kernels) = {transpose_f32, transpose_add_f32};
