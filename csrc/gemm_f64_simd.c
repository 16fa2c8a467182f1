/* float64 GEMM micro-kernel, written once in C with GCC/clang vector extensions and compiled
 * once per ISA (setup.py builds every *_simd.c as generic, avx2 and avx512 copies), so one
 * source gives zmm, ymm and xmm code.  float64 exists for gradient checks, not speed: no
 * hand-scheduled intrinsics, but the same packed panels and register tile as float32, with the
 * epilogue done in scalar code on the finished tile.
 *   avx512: 8 x 24 (24 zmm accumulators)   avx2: 4 x 12 (12 ymm)   generic: 4 x 4 (8 xmm)
 */
#include "simd.h"
#include "gemm_kernels.h"

#if defined(__AVX512F__)
enum { MR = DL_DGEMM_AVX512_MR, NR = DL_DGEMM_AVX512_NR, VL = 8 };
#elif defined(__AVX2__)
enum { MR = DL_DGEMM_AVX2_MR, NR = DL_DGEMM_AVX2_NR, VL = 4 };
#else
enum { MR = DL_DGEMM_GENERIC_MR, NR = DL_DGEMM_GENERIC_NR, VL = 2 };
#endif
enum { NV = NR / VL };   /* vectors per tile row */

/* GCC/clang vector extensions: `vd` is one register of VL doubles on every ISA copy; `vdu` is
 * the same with 8-byte alignment, for loads from rows of B that are not vector-aligned. */
typedef double vd __attribute__((vector_size(VL * sizeof(double))));
typedef double vdu __attribute__((vector_size(VL * sizeof(double)), aligned(sizeof(double))));

void DL_ISA_FN(dl_dgemm_kernel)(size_t kc, const void *a_, const void *b_, ptrdiff_t ldb,
                                void *c_, ptrdiff_t ldc, size_t mr, size_t nr,
                                const dl_gemm_epi *e)
{
    const double *a = a_, *b = b_;
    double *c = c_;
    double acc[MR][NR];

    if (nr == NR) {
        /* whole tile: MR x NV vector accumulators, kept in registers */
        vd v[MR][NV];
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NV; j++) v[i][j] = (vd){0};
        for (size_t k = 0; k < kc; k++) {
            vd bv[NV];
            for (int j = 0; j < NV; j++) bv[j] = *(const vdu *)(b + j * VL);
#pragma GCC unroll 8
            for (int i = 0; i < MR; i++) {
                vd ai = (vd){0} + a[i];   /* broadcast */
                for (int j = 0; j < NV; j++) v[i][j] += ai * bv[j];
            }
            a += MR;
            b += ldb;
        }
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NV; j++) *(vdu *)&acc[i][j * VL] = v[i][j];
    } else {
        /* right edge: B may be the unpacked matrix, so read only nr columns */
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) acc[i][j] = 0.0;
        for (size_t k = 0; k < kc; k++) {
            for (int i = 0; i < MR; i++)
                for (size_t j = 0; j < nr; j++) acc[i][j] += a[i] * b[j];
            a += MR;
            b += ldb;
        }
    }

    const double *brow = e->bias_row, *bcol = e->bias_col;
    for (size_t i = 0; i < mr; i++) {
        double *ci = c + i * ldc;
        double bc = bcol ? bcol[i] : 0.0;
        for (size_t j = 0; j < nr; j++)
            ci[j] = dl_epi_f64(acc[i][j], ci + j, e->alpha, e->beta,
                               bc + (brow ? brow[j] : 0.0), e->act);
    }
}
