/* float64 GEMM micro-kernel, written once in plain C and compiled once per ISA (setup.py builds
 * every *_simd.c as generic, avx2 and avx512 copies).  float64 exists for gradient checks, not
 * speed, so instead of hand-written intrinsics the tile is shaped for the compiler's vectorizer:
 * NR is a multiple of the vector width and the j loop has a constant trip count, so each row of
 * the accumulator becomes NR / width vector registers and the update becomes FMAs.
 *   avx512: 8 x 24 (24 zmm accumulators)   avx2: 4 x 12 (12 ymm)   generic: 4 x 4 (8 xmm)
 */
#include "dlcore/simd.h"
#include "dlcore/gemm_kernels.h"

#if defined(__AVX512F__)
enum { MR = DL_DGEMM_AVX512_MR, NR = DL_DGEMM_AVX512_NR };
#elif defined(__AVX2__)
enum { MR = DL_DGEMM_AVX2_MR, NR = DL_DGEMM_AVX2_NR };
#else
enum { MR = DL_DGEMM_GENERIC_MR, NR = DL_DGEMM_GENERIC_NR };
#endif

void DL_ISA_FN(dl_dgemm_kernel)(size_t kc, const void *a_, const void *b_, ptrdiff_t ldb,
                                void *c_, ptrdiff_t ldc, size_t mr, size_t nr,
                                const dl_gemm_epi *e)
{
    const double *a = a_, *b = b_;
    double *c = c_;
    double acc[MR][NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = 0.0;

    if (nr == NR) {
        for (size_t k = 0; k < kc; k++) {
#pragma GCC unroll 16
            for (int i = 0; i < MR; i++)
                for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
            a += MR;
            b += ldb;
        }
    } else {
        /* right edge: B may be the unpacked matrix, so read only nr columns */
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
