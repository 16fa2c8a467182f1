/* The blocked loop of the packed-panel GEMMs, written once for the int8 driver (qgemm.c:
 * u8 x s8 -> int32 sums) and the bf16 one (bf16.c: bf16 x bf16 -> float sums).
 *
 * Blocking (Goto's scheme without packing A, whose rows are already contiguous): a thread owns
 * a (row block, column block) tile; for each K block the packed weights of its PG_LDC columns
 * stay in L1 while all row tiles pass over them, accumulating the sums of the whole tile in a
 * stack buffer.  The flattened tile index runs over column blocks fastest, so a thread's
 * consecutive tiles reuse the same rows of A from L2.  After the last K block the family's
 * row function turns each row's sums into its output: the output is written once.
 *
 * Template: the including file defines, then includes this file (which #undefs them; with
 * PG_KEEP_FAMILY defined it keeps the family's types, sizes, grain and prefetch, so a second
 * driver of the same family, e.g. the AMX one, defines only PG_FN, PG_KC, PG_THREAD_END):
 *   PG_FN                 name of the static driver function it defines
 *   PG_A, PG_B, PG_C      element types of activations, packed weights and sums
 *   PG_TILE_T             the family's tile function type (see *_kernels.h)
 *   PG_NR, PG_LDC         columns per packed panel, per tile
 *   PG_MC, PG_KC          rows per row block (their sums live on the stack), k per K block
 *   PG_GRAIN              multiply-adds per thread below which a second thread costs more than
 *                         it saves
 *   PG_PREFETCH_OUT       (optional) PG_PREFETCH_OUT(ctx, r, n0, nc) prefetches output row r's
 *                         columns [n0, n0 + nc) for writing
 *   PG_THREAD_END         (optional) a statement every thread of the team runs after its last
 *                         tile (the AMX drivers release their tile configuration there)
 * and PG_FN(M, N, K, A, lda, packed, pstride, tile, MR, row, ctx) multiplies A (M x K, K in
 * elements of A as the tile counts them) by the packed weights (panels pstride elements
 * apart), then calls row(ctx, r, n0, nc, sums) for each output row r and column block
 * [n0, n0 + nc).  PG_CPU_FEATURE_FN(fn, "feature") defines the check for the family's
 * AVX-512 extension. */
#include <string.h>
#include "dlcore/runtime.h"

#ifndef PG_CPU_FEATURE_FN
/* static int fn(void): whether the CPU has `feature` (a literal, as __builtin_cpu_supports
 * wants), asked once */
#if defined(__x86_64__) || defined(__i386__)
#define PG_CPU_FEATURE_FN(fn, feature)                                                  \
    static int fn(void)                                                                 \
    {                                                                                   \
        static int cached = -1;                                                         \
        if (cached < 0) {                                                               \
            __builtin_cpu_init();                                                       \
            cached = __builtin_cpu_supports(feature) ? 1 : 0;                           \
        }                                                                               \
        return cached;                                                                  \
    }
#else
#define PG_CPU_FEATURE_FN(fn, feature) static int fn(void) { return 0; }
#endif
#endif

static void PG_FN(size_t M, size_t N, size_t K, const PG_A *A, size_t lda, const PG_B *packed,
                  size_t pstride, PG_TILE_T tile, size_t MR,
                  void (*row)(const void *ctx, size_t r, size_t n0, size_t nc, const PG_C *sums),
                  const void *ctx)
{
    const size_t nnb = (N + PG_LDC - 1) / PG_LDC, most_mb = (M + MR - 1) / MR;
    const int nt = dl_threads_for(M * N * (K ? K : 1), PG_GRAIN);
    /* Row blocks of equal height (whole tiles), as many as make the tile count a multiple of
     * the threads where the rows allow: 128 rows as 96 + 32 left one of two threads three
     * times the other's work. */
    size_t nmb = (M + PG_MC - 1) / PG_MC;
    while (nt > 1 && (nmb * nnb) % (size_t)nt && nmb < most_mb) nmb++;
    const size_t mc = ((M + nmb - 1) / nmb + MR - 1) / MR * MR;

    #pragma omp parallel num_threads(nt)
    {
    #pragma omp for schedule(static) nowait
    for (size_t t = 0; t < nmb * nnb; t++) {
        const size_t m0 = t / nnb * mc, n0 = t % nnb * PG_LDC;
        if (m0 >= M) continue;
        const size_t m1 = m0 + mc < M ? m0 + mc : M;
        const size_t nc = N - n0 < PG_LDC ? N - n0 : PG_LDC;
        const size_t nv = (nc + PG_NR - 1) / PG_NR;
        const PG_B *B = packed + n0 / PG_NR * pstride;
        PG_C C[PG_MC * PG_LDC];
        if (K == 0) memset(C, 0, sizeof C);
        for (size_t k0 = 0; k0 < K; k0 += PG_KC) {
            const size_t kc = K - k0 < PG_KC ? K - k0 : PG_KC;
            for (size_t i0 = m0; i0 < m1; i0 += MR) {
                const size_t mr = m1 - i0 < MR ? m1 - i0 : MR;
#ifdef PG_PREFETCH_OUT
                /* the output lines these rows will be stored to, asked for while the sums are
                 * computed: a store to a line not in cache waits for it */
                if (k0 == 0)
                    for (size_t r = i0; r < i0 + mr; r++) PG_PREFETCH_OUT(ctx, r, n0, nc);
#endif
                tile(mr, nv, kc, A + i0 * lda + k0, lda, B + k0 * PG_NR, pstride,
                     C + (i0 - m0) * PG_LDC, k0 > 0);
            }
        }
        for (size_t r = m0; r < m1; r++) row(ctx, r, n0, nc, C + (r - m0) * PG_LDC);
    }
#ifdef PG_THREAD_END
    PG_THREAD_END;
#endif
    }
}

#undef PG_FN
#undef PG_KC
#undef PG_THREAD_END
#ifdef PG_KEEP_FAMILY
#undef PG_KEEP_FAMILY
#else
#undef PG_A
#undef PG_B
#undef PG_C
#undef PG_TILE_T
#undef PG_NR
#undef PG_LDC
#undef PG_MC
#undef PG_GRAIN
#undef PG_PREFETCH_OUT
#endif
