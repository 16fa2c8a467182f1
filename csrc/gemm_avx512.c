/* AVX-512 float32 GEMM micro-kernel: a 14 x 32 register tile.
 *
 * Why 14 x 32: Zen 4 executes a 512-bit FMA as two 256-bit halves, so zmm buys no FLOPs over
 * ymm but halves the instruction count.  The tile is limited by the 32 zmm registers:
 * 14 rows x 2 zmm = 28 accumulators, 2 registers for the B row, and the A values come in as
 * embedded broadcasts from memory ({1to16} operands), so nothing spills.  Each k step issues
 * 2 B loads + 14 broadcast loads for 28 FMAs: the FMA pipes, not the load ports, are the limit.
 * C is row-major, so each tile row is two contiguous zmm stores (masked at the right edge).
 */
#include <immintrin.h>
#include "gemm_kernels.h"
#include "gemm_gelu.h"

enum { MR = DL_SGEMM_AVX512_MR, NR = DL_SGEMM_AVX512_NR };

/* Lanes [0, n) of a 16-lane mask; n may exceed 16. */
static inline __mmask16 lanes(size_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* One tile with R <= MR live rows and NV (1 or 2) column vectors of 16 (R and NV are
 * compile-time constants at each call site, so the loops unroll and `acc` lives in registers;
 * rows past R and the second vector when NV == 1 are never computed).  Element (i, k) of op(A)
 * is a[i * ars + k * acs]: a packed micro-panel (ars = 1, acs = MR: it keeps its MR stride
 * whatever R is and is zero-padded, so R may round mr up) or op(A) read where it is (the
 * small-product path: transa == 0 gives ars = lda, acs = 1, transa == 1 the reverse; there
 * R == mr, so no row past the matrix is touched).  Either way the sums are formed in the same
 * order (one FMA per k, k ascending, from zero) and finished by the same epilogue, so a tile
 * gives the same bits on both paths.  Masked loads let unpacked B (read in place, possibly
 * ending at the last column of the matrix) be read without touching memory past nr. */
static inline __attribute__((always_inline)) void tile(const int R, const int NV, size_t kc,
                                                       const float *restrict a, ptrdiff_t ars,
                                                       ptrdiff_t acs, const float *restrict b,
                                                       ptrdiff_t ldb, float *restrict c,
                                                       ptrdiff_t ldc, size_t mr, size_t nr,
                                                       const dl_gemm_epi *e)
{
    const __mmask16 m0 = lanes(nr), m1 = lanes(nr > 16 ? nr - 16 : 0);
    __m512 acc[MR][2];
#pragma GCC unroll 14
    for (int i = 0; i < R; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();   /* dead when NV == 1: the compiler drops it */
    }
    for (size_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_maskz_loadu_ps(m0, b);
        __m512 b1 = NV > 1 ? _mm512_maskz_loadu_ps(m1, b + 16) : _mm512_setzero_ps();
#pragma GCC unroll 14
        for (int i = 0; i < R; i++) {
            __m512 ai = _mm512_set1_ps(a[i * ars]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            if (NV > 1) acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += acs;
        b += ldb;
    }

    const __m512 alpha = _mm512_set1_ps((float)e->alpha);
    const float beta_s = (float)e->beta;
    const __m512 beta = _mm512_set1_ps(beta_s);
    const float *brow = e->bias_row, *bcol = e->bias_col;
    __m512 br0 = _mm512_setzero_ps(), br1 = _mm512_setzero_ps();
    if (brow) {
        br0 = _mm512_maskz_loadu_ps(m0, brow);
        if (NV > 1) br1 = _mm512_maskz_loadu_ps(m1, brow + 16);
    }
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 14
    for (int i = 0; i < R; i++) {
        if ((size_t)i >= mr) break;
        float *ci = c + i * ldc;
        __m512 v0 = _mm512_mul_ps(alpha, acc[i][0]);
        __m512 v1 = NV > 1 ? _mm512_mul_ps(alpha, acc[i][1]) : _mm512_setzero_ps();
        if (beta_s != 0.0f) {
            v0 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m0, ci), v0);
            if (NV > 1) v1 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m1, ci + 16), v1);
        }
        if (brow) {
            v0 = _mm512_add_ps(v0, br0);
            v1 = _mm512_add_ps(v1, br1);
        }
        if (bcol) {
            __m512 bc = _mm512_set1_ps(bcol[i]);
            v0 = _mm512_add_ps(v0, bc);
            v1 = _mm512_add_ps(v1, bc);
        }
        if (e->act == DL_ACT_RELU) {
            /* max returns its second operand when either is NaN: NaN propagates. */
            v0 = _mm512_max_ps(zero, v0);
            v1 = _mm512_max_ps(zero, v1);
        } else if (e->act == DL_ACT_GELU) {
            v0 = dl_gelu_vf(v0);
            if (NV > 1) v1 = dl_gelu_vf(v1);
        } else if (e->act == DL_ACT_RELU6) {
            /* max and min return their second operand on NaN: NaN propagates */
            const __m512 six = _mm512_set1_ps(6.0f);
            v0 = _mm512_min_ps(six, _mm512_max_ps(zero, v0));
            v1 = _mm512_min_ps(six, _mm512_max_ps(zero, v1));
        }
        _mm512_mask_storeu_ps(ci, m0, v0);
        if (NV > 1) _mm512_mask_storeu_ps(ci + 16, m1, v1);
    }
}

void dl_sgemm_kernel_avx512(size_t kc, const void *a, const void *b, ptrdiff_t ldb, void *c,
                            ptrdiff_t ldc, size_t mr, size_t nr, const dl_gemm_epi *e)
{
    /* Bring the C tile toward L1 while the k loop runs (it is read only when beta != 0, but
     * it is always written). */
    const float *cf = c;
    for (size_t i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(cf + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(cf + i * ldc + NR - 1), _MM_HINT_T0);
    }
    /* bottom-edge tiles (M not a multiple of 14) compute only the rows they need, rounded to
     * 4 or 8: e.g. M = 64 is 4 x 14 + 8 rows, not 5 x 14 */
    if (nr > 16) {
        if (mr > 8) tile(MR, 2, kc, a, 1, MR, b, ldb, c, ldc, mr, nr, e);
        else if (mr > 4) tile(8, 2, kc, a, 1, MR, b, ldb, c, ldc, mr, nr, e);
        else tile(4, 2, kc, a, 1, MR, b, ldb, c, ldc, mr, nr, e);
        return;
    }
    /* right-edge tiles of at most 16 columns (N = 196 is 6 x 32 + 4) run one vector wide:
     * half the FMAs of a full-width tile */
    if (mr > 8) tile(MR, 1, kc, a, 1, MR, b, ldb, c, ldc, mr, nr, e);
    else if (mr > 4) tile(8, 1, kc, a, 1, MR, b, ldb, c, ldc, mr, nr, e);
    else tile(4, 1, kc, a, 1, MR, b, ldb, c, ldc, mr, nr, e);
}

/* A read in place (the small-product path): exactly mr rows, R == mr. */
#define DL_SA_CASE(R)                                                                          \
    case R:                                                                                    \
        if (nr > 16) tile(R, 2, kc, a, ars, acs, b, ldb, c, ldc, R, nr, e);                   \
        else tile(R, 1, kc, a, ars, acs, b, ldb, c, ldc, R, nr, e);                           \
        break;

void dl_sgemm_kernel_sa_avx512(size_t kc, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                               const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
                               size_t mr, size_t nr, const dl_gemm_epi *e)
{
    switch (mr) {
        DL_SA_CASE(1) DL_SA_CASE(2) DL_SA_CASE(3) DL_SA_CASE(4) DL_SA_CASE(5) DL_SA_CASE(6)
        DL_SA_CASE(7) DL_SA_CASE(8) DL_SA_CASE(9) DL_SA_CASE(10) DL_SA_CASE(11)
        DL_SA_CASE(12) DL_SA_CASE(13) DL_SA_CASE(14)
        default: break;
    }
}
#undef DL_SA_CASE

/* ---- packing with in-register transposes ------------------------------------------------- */

/* Transpose 16 rows of 16 floats in place: afterwards v[t] holds element t of every input row.
 * Four rounds of shuffles (64 in all) instead of 256 scalar moves. */
static inline void transpose16(__m512 v[16])
{
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);       /* per 128-bit lane: a0 b0 a1 b1 */
        t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);   /*                   a2 b2 a3 b3 */
    }
    for (int g = 0; g < 4; g++) {
        /* u[4g + c], lane l: rows 4g..4g+3 at column 4l + c */
        __m512d a0 = _mm512_castps_pd(t[4 * g]), a1 = _mm512_castps_pd(t[4 * g + 1]);
        __m512d b0 = _mm512_castps_pd(t[4 * g + 2]), b1 = _mm512_castps_pd(t[4 * g + 3]);
        u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, b0));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, b0));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, b1));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, b1));
    }
    for (int c = 0; c < 4; c++) {
        /* gather 128-bit lane l of u[c], u[4+c], u[8+c], u[12+c] into output column 4l + c */
        __m512 x0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);
        __m512 x1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
        __m512 y0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
        __m512 y1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
        v[c] = _mm512_shuffle_f32x4(x0, y0, 0x88);
        v[8 + c] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
        v[4 + c] = _mm512_shuffle_f32x4(x1, y1, 0x88);
        v[12 + c] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
    }
}

/* dst[k*R + i] = src[i*ld + k] for i < r, k < kc, and 0 for r <= i < R (R <= 32, r <= R):
 * packs R rows of a row-major matrix into the k-major panel a micro-kernel reads, i.e. op(A)
 * with transa == 0 (R = MR) or op(B) with transb == 1 (R = NR).  The 16 rows of a group are
 * loaded together (16 cache lines in flight instead of one row at a time) and transposed in
 * registers. */
void dl_sgemm_pack_t_avx512(const float *src, ptrdiff_t ld, size_t r, size_t kc, size_t R,
                            float *dst)
{
    for (size_t i0 = 0; i0 < R; i0 += 16) {
        const __mmask16 om = lanes(R - i0);
        const size_t rows = r > i0 ? (r - i0 < 16 ? r - i0 : 16) : 0;
        for (size_t k = 0; k < kc; k += 16) {
            const size_t kk = kc - k < 16 ? kc - k : 16;
            const __mmask16 km = lanes(kk);
            __m512 v[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++)
                v[i] = (size_t)i < rows ? _mm512_maskz_loadu_ps(km, src + (i0 + i) * ld + k)
                                        : _mm512_setzero_ps();
            transpose16(v);
            for (size_t t = 0; t < kk; t++) _mm512_mask_storeu_ps(dst + (k + t) * R + i0, om, v[t]);
        }
    }
}

/* dst[q*R*kc + k*R + i] = src[k*ld + q*R + i] for q*R + i < n, 0 past n (R <= 32): packs all
 * the panels of a block whose rows run along the panels (op(B) with transb == 0, R = NR, or
 * op(A) with transa == 1, R = MR).  Eight source rows at a time are copied across every panel:
 * walking all panels for one row at a time would write to panels 32 KiB apart (a multiple of
 * 4 KiB: the same L1 set), one panel at a time would read a new row for every 128 bytes;
 * measured here the 8-row bands are ~1.5x faster than either. */
void dl_sgemm_pack_n_avx512(const float *src, ptrdiff_t ld, size_t n, size_t kc, size_t R,
                            float *dst)
{
    const size_t panels = (n + R - 1) / R;
    const __mmask16 st0 = lanes(R), st1 = lanes(R > 16 ? R - 16 : 0);
    for (size_t k0 = 0; k0 < kc; k0 += 8) {
        const size_t k1 = kc - k0 < 8 ? kc : k0 + 8;
        for (size_t q = 0; q < panels; q++) {
            const size_t c0 = q * R, r = n - c0 < R ? n - c0 : R;
            const __mmask16 ld0 = lanes(r), ld1 = lanes(r > 16 ? r - 16 : 0);
            float *d = dst + q * R * kc;
            for (size_t k = k0; k < k1; k++) {
                const float *row = src + k * ld + c0;
                _mm512_mask_storeu_ps(d + k * R, st0, _mm512_maskz_loadu_ps(ld0, row));
                if (R > 16)
                    _mm512_mask_storeu_ps(d + k * R + 16, st1,
                                          _mm512_maskz_loadu_ps(ld1, row + 16));
            }
        }
    }
}
