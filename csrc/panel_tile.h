/* A GEMM tile of nv packed panels as nv calls of a one-panel kernel, the shape of the AVX2
 * int8 and bf16 tiles (qgemm_simd.c, bf16_simd.c):
 *   DL_PANEL_TILE(name, panel, TA, TB, TC, NR)
 * defines static void name(mr, nv, K, A, lda, B, pstride, C, accumulate) with the kernels
 * table's tile signature, calling panel(MR, K, A, lda, B + v * pstride, C + v * NR,
 * accumulate) with MR a constant 1..4 so that the panel's row loop unrolls. */
#ifndef DLCORE_PANEL_TILE_H
#define DLCORE_PANEL_TILE_H

#include <stddef.h>

#define DL_PANEL_TILE(name, panel, TA, TB, TC, NR)                                      \
    static void name(size_t mr, size_t nv, size_t K, const TA *A, size_t lda, const TB *B, \
                     size_t pstride, TC *C, int accumulate)                              \
    {                                                                                   \
        for (size_t v = 0; v < nv; v++) {                                               \
            const TB *Bv = B + v * pstride;                                             \
            TC *Cv = C + v * (NR);                                                      \
            switch (mr) {                                                               \
            case 4: panel(4, K, A, lda, Bv, Cv, accumulate); break;                     \
            case 3: panel(3, K, A, lda, Bv, Cv, accumulate); break;                     \
            case 2: panel(2, K, A, lda, Bv, Cv, accumulate); break;                     \
            default: panel(1, K, A, lda, Bv, Cv, accumulate); break;                    \
            }                                                                           \
        }                                                                               \
    }

#endif
