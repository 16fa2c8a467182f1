/* The AVX-512 dot-product GEMM tile, written once for the int8 kernel (vpdpbusd,
 * qgemm_avx512vnni.c) and the bf16 one (vdpbf16ps, bf16_avx512bf16.c).  Both instructions
 * take a 32-bit group of activations (4 u8 or 2 bf16), broadcast to every lane, multiply it by
 * the same group of each of a packed panel's 16 columns and add the products into the lane's
 * 32-bit sum.  A tile is up to 6 rows x 4 panels (64 columns): 24 accumulators, one broadcast
 * per row and group, 4 panel loads per group.  The accumulators are named variables
 * (c<row><panel>), not an array: gcc kept an array of them partly on the stack (100 moves per
 * 24 dot instructions).
 *
 * Template: the including file defines, then includes this file (which #undefs them):
 *   DT_TILE              name of the tile function it defines (the kernels table's signature:
 *                        mr, nv, K, A, lda, B, pstride, C, accumulate)
 *   DT_A, DT_B, DT_C     element types of activations, packed weights and sums
 *   DT_GROUP             elements of A in one 32-bit group (4 or 2)
 *   DT_TAIL(a)           only where K may end in a partial group: that group of the row at a,
 *                        as 32 bits padded with zeros
 *   DT_LDC               row stride of C
 *   DT_ACC, DT_ACC_LOAD(p), DT_ACC_ZERO(), DT_ACC_STORE(p, c): the accumulator vector
 *   DT_DOT(c, a, b)      c plus the products of a (the broadcast group) and b (a panel's
 *                        group), both __m512i
 * Packed panels hold 16 columns' groups side by side (16 * DT_GROUP elements per group) and
 * lie pstride elements apart.  K counts elements of A. */
#include <immintrin.h>
#include <string.h>

/* X(row, panel) for every accumulator of one row, and of the whole tile */
#define DT_PANELS(X, r) X(r, 0) X(r, 1) X(r, 2) X(r, 3)
#define DT_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define DT_EACH_ROW_PANELS(X) DT_PANELS(X, 0) DT_PANELS(X, 1) DT_PANELS(X, 2) \
    DT_PANELS(X, 3) DT_PANELS(X, 4) DT_PANELS(X, 5)

#define DT_DECLARE(r, v) DT_ACC c##r##v;
#define DT_INIT(r, v)                                                                   \
    if (MR > r && NV > v)                                                               \
        c##r##v = accumulate ? DT_ACC_LOAD(C + r * DT_LDC + 16 * v) : DT_ACC_ZERO();
#define DT_STORE(r, v) if (MR > r && NV > v) DT_ACC_STORE(C + r * DT_LDC + 16 * v, c##r##v);
#define DT_UPDATE(r, v) if (NV > v) c##r##v = DT_DOT(c##r##v, a, b##v);
#define DT_ROW(r)                                                                       \
    if (MR > r) {                                                                       \
        const __m512i a = _mm512_set1_epi32(dt_group(Ak + r * lda, whole));             \
        DT_PANELS(DT_UPDATE, r)                                                         \
    }

#ifdef DT_TAIL
#define DT_PARTIAL 1
#else
#define DT_PARTIAL 0
#define DT_TAIL(a) 0
#endif

/* one group of a row as 32 bits (the partial last one through DT_TAIL) */
static inline __attribute__((always_inline)) int32_t dt_group(const DT_A *a, int whole)
{
    int32_t g;
    if (whole) memcpy(&g, a, 4);
    else g = DT_TAIL(a);
    return g;
}

static inline __attribute__((always_inline)) void
dt_tile_fixed(const size_t MR, const size_t NV, size_t K, const DT_A *A, size_t lda,
              const DT_B *B, size_t pstride, DT_C *C, int accumulate)
{
    DT_EACH_ROW_PANELS(DT_DECLARE)
    DT_EACH_ROW_PANELS(DT_INIT)
    const size_t full = K / DT_GROUP, groups = DT_PARTIAL ? (K + DT_GROUP - 1) / DT_GROUP : full;
    for (size_t g = 0; g < groups; g++) {
        const DT_B *Bg = B + g * 16 * DT_GROUP;
        __m512i b0 = _mm512_loadu_si512((const void *)Bg), b1 = b0, b2 = b0, b3 = b0;
        if (NV > 1) b1 = _mm512_loadu_si512((const void *)(Bg + pstride));
        if (NV > 2) b2 = _mm512_loadu_si512((const void *)(Bg + 2 * pstride));
        if (NV > 3) b3 = _mm512_loadu_si512((const void *)(Bg + 3 * pstride));
        const DT_A *Ak = A + g * DT_GROUP;
        const int whole = !DT_PARTIAL || g < full;
        DT_ROWS(DT_ROW)
    }
    DT_EACH_ROW_PANELS(DT_STORE)
}

#define DT_CASE_NV(MR)                                                                  \
    switch (nv) {                                                                       \
    case 4: dt_tile_fixed(MR, 4, K, A, lda, B, pstride, C, accumulate); break;          \
    case 3: dt_tile_fixed(MR, 3, K, A, lda, B, pstride, C, accumulate); break;          \
    case 2: dt_tile_fixed(MR, 2, K, A, lda, B, pstride, C, accumulate); break;          \
    default: dt_tile_fixed(MR, 1, K, A, lda, B, pstride, C, accumulate); break;         \
    }

void DT_TILE(size_t mr, size_t nv, size_t K, const DT_A *A, size_t lda, const DT_B *B,
             size_t pstride, DT_C *C, int accumulate)
{
    switch (mr) {
    case 6: DT_CASE_NV(6) break;
    case 5: DT_CASE_NV(5) break;
    case 4: DT_CASE_NV(4) break;
    case 3: DT_CASE_NV(3) break;
    case 2: DT_CASE_NV(2) break;
    default: DT_CASE_NV(1) break;
    }
}

#undef DT_PANELS
#undef DT_ROWS
#undef DT_EACH_ROW_PANELS
#undef DT_DECLARE
#undef DT_INIT
#undef DT_STORE
#undef DT_UPDATE
#undef DT_ROW
#undef DT_CASE_NV
#undef DT_TILE
#undef DT_A
#undef DT_B
#undef DT_C
#undef DT_GROUP
#undef DT_PARTIAL
#undef DT_TAIL
#undef DT_LDC
#undef DT_ACC
#undef DT_ACC_LOAD
#undef DT_ACC_ZERO
#undef DT_ACC_STORE
#undef DT_DOT
