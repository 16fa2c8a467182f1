/* AVX2 + FMA float32 GEMM micro-kernel: a 6 x 16 register tile.
 *
 * 16 ymm registers: 6 rows x 2 ymm = 12 accumulators, 2 for the B row, 1 for the broadcast A
 * value (AVX2 has no embedded broadcast), one spare.  Each k step: 2 B loads, 6 broadcasts,
 * 12 FMAs, so the two FMA pipes stay busy.  Right-edge tiles use vmaskmov loads/stores, which
 * do not touch memory in masked-off lanes.
 */
#include <immintrin.h>
#include <stdint.h>
#include "gemm_kernels.h"
#include "gemm_gelu.h"

enum { MR = DL_SGEMM_AVX2_MR, NR = DL_SGEMM_AVX2_NR };

/* All-ones in lanes [0, n) of an 8-lane integer mask; n may be >= 8. */
static inline __m256i lanes(size_t n)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int k = n >= 8 ? 8 : (int)n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), idx);
}

/* acc = the kc-step sums of R rows of op(A) (element (i, k) at a[i * ars + k * acs]) against
 * B: one FMA per k, k ascending, from zero, whichever way A is laid out, so the packed and
 * in-place paths give the same bits.  FULL (a compile-time constant) reads B with plain loads
 * (nr == NR), otherwise with vmaskmov, which touches nothing past nr. */
static inline __attribute__((always_inline)) void kloop(const int R, const int FULL, size_t kc,
                                                        const float *restrict a, ptrdiff_t ars,
                                                        ptrdiff_t acs, const float *restrict b,
                                                        ptrdiff_t ldb, __m256i m0, __m256i m1,
                                                        __m256 acc[MR][2])
{
#pragma GCC unroll 6
    for (int i = 0; i < R; i++) {
        acc[i][0] = _mm256_setzero_ps();
        acc[i][1] = _mm256_setzero_ps();
    }
    for (size_t k = 0; k < kc; k++) {
        __m256 b0 = FULL ? _mm256_loadu_ps(b) : _mm256_maskload_ps(b, m0);
        __m256 b1 = FULL ? _mm256_loadu_ps(b + 8) : _mm256_maskload_ps(b + 8, m1);
#pragma GCC unroll 6
        for (int i = 0; i < R; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i * ars);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += acs;
        b += ldb;
    }
}

/* The epilogue (gemm_kernels.h) on rows [0, min(R, mr)) of the tile, columns [0, nr).  FULL
 * (nr == NR, a compile-time constant) reads and writes C with plain loads and stores: on Zen 3
 * a 256-bit vmaskmovps store is microcoded (~12 cycles each), and the 12 of a tile cost ~175
 * cycles, 11% of a kc = 256 tile's 1536 cycles of FMAs (measured: the kernel alone went from
 * 83 to 89 GFLOP/s at kc = 256). */
static inline __attribute__((always_inline)) void finish(const int R, const int FULL,
                                                         __m256 acc[MR][2],
                                                         float *restrict c, ptrdiff_t ldc,
                                                         size_t mr, __m256i m0, __m256i m1,
                                                         const dl_gemm_epi *e)
{
    const __m256 alpha = _mm256_set1_ps((float)e->alpha);
    const float beta_s = (float)e->beta;
    const __m256 beta = _mm256_set1_ps(beta_s);
    const float *brow = e->bias_row, *bcol = e->bias_col;
    __m256 br0 = _mm256_setzero_ps(), br1 = _mm256_setzero_ps();
    if (brow) {
        br0 = _mm256_maskload_ps(brow, m0);
        br1 = _mm256_maskload_ps(brow + 8, m1);
    }
    const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int i = 0; i < R; i++) {
        if ((size_t)i >= mr) break;
        float *ci = c + i * ldc;
        __m256 v0 = _mm256_mul_ps(alpha, acc[i][0]);
        __m256 v1 = _mm256_mul_ps(alpha, acc[i][1]);
        if (beta_s != 0.0f) {
            v0 = _mm256_fmadd_ps(beta, FULL ? _mm256_loadu_ps(ci) : _mm256_maskload_ps(ci, m0),
                                 v0);
            v1 = _mm256_fmadd_ps(beta,
                                 FULL ? _mm256_loadu_ps(ci + 8) : _mm256_maskload_ps(ci + 8, m1),
                                 v1);
        }
        if (brow) {
            v0 = _mm256_add_ps(v0, br0);
            v1 = _mm256_add_ps(v1, br1);
        }
        if (bcol) {
            __m256 bc = _mm256_set1_ps(bcol[i]);
            v0 = _mm256_add_ps(v0, bc);
            v1 = _mm256_add_ps(v1, bc);
        }
        if (e->act == DL_ACT_RELU) {
            /* max returns its second operand when either is NaN: NaN propagates. */
            v0 = _mm256_max_ps(zero, v0);
            v1 = _mm256_max_ps(zero, v1);
        } else if (e->act == DL_ACT_GELU) {
            v0 = dl_gelu_vf(v0);
            v1 = dl_gelu_vf(v1);
        } else if (e->act == DL_ACT_RELU6) {
            /* max and min return their second operand on NaN: NaN propagates */
            const __m256 six = _mm256_set1_ps(6.0f);
            v0 = _mm256_min_ps(six, _mm256_max_ps(zero, v0));
            v1 = _mm256_min_ps(six, _mm256_max_ps(zero, v1));
        }
        if (FULL) {
            _mm256_storeu_ps(ci, v0);
            _mm256_storeu_ps(ci + 8, v1);
        } else {
            _mm256_maskstore_ps(ci, m0, v0);
            _mm256_maskstore_ps(ci + 8, m1, v1);
        }
    }
}

void dl_sgemm_kernel_avx2(size_t kc, const void *a_, const void *b_, ptrdiff_t ldb, void *c_,
                          ptrdiff_t ldc, size_t mr, size_t nr, const dl_gemm_epi *e)
{
    const float *a = a_, *b = b_;
    float *c = c_;
    __m256i m0 = lanes(nr), m1 = lanes(nr > 8 ? nr - 8 : 0);
    __m256 acc[MR][2];
    for (size_t i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + NR - 1), _MM_HINT_T0);
    }
    /* the packed micro-panel: MR rows, zero-padded past mr */
    if (nr == NR) {
        kloop(MR, 1, kc, a, 1, MR, b, ldb, m0, m1, acc);
        finish(MR, 1, acc, c, ldc, mr, m0, m1, e);
    } else {
        kloop(MR, 0, kc, a, 1, MR, b, ldb, m0, m1, acc);
        finish(MR, 0, acc, c, ldc, mr, m0, m1, e);
    }
}

/* ---- A read in place (the small-product path) ---------------------------------------------- */

/* One tile with exactly R rows of op(A) read where they are: rows past R are never read. */
static inline __attribute__((always_inline)) void tile_sa(const int R, size_t kc,
                                                          const float *restrict a,
                                                          ptrdiff_t ars, ptrdiff_t acs,
                                                          const float *restrict b,
                                                          ptrdiff_t ldb, float *restrict c,
                                                          ptrdiff_t ldc, size_t nr,
                                                          const dl_gemm_epi *e)
{
    const __m256i m0 = lanes(nr), m1 = lanes(nr > 8 ? nr - 8 : 0);
    __m256 acc[MR][2];
    if (nr == NR) {
        kloop(R, 1, kc, a, ars, acs, b, ldb, m0, m1, acc);
        finish(R, 1, acc, c, ldc, (size_t)R, m0, m1, e);
    } else {
        kloop(R, 0, kc, a, ars, acs, b, ldb, m0, m1, acc);
        finish(R, 0, acc, c, ldc, (size_t)R, m0, m1, e);
    }
}

void dl_sgemm_kernel_sa_avx2(size_t kc, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                             const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, size_t mr,
                             size_t nr, const dl_gemm_epi *e)
{
    switch (mr) {
        case 1: tile_sa(1, kc, a, ars, acs, b, ldb, c, ldc, nr, e); break;
        case 2: tile_sa(2, kc, a, ars, acs, b, ldb, c, ldc, nr, e); break;
        case 3: tile_sa(3, kc, a, ars, acs, b, ldb, c, ldc, nr, e); break;
        case 4: tile_sa(4, kc, a, ars, acs, b, ldb, c, ldc, nr, e); break;
        case 5: tile_sa(5, kc, a, ars, acs, b, ldb, c, ldc, nr, e); break;
        case 6: tile_sa(6, kc, a, ars, acs, b, ldb, c, ldc, nr, e); break;
        default: break;
    }
}

/* ---- packing with in-register transposes ------------------------------------------------- */

/* Transpose 8 rows of 8 floats in place: afterwards v[t] holds element t of every input row
 * (24 shuffles instead of 64 scalar moves). */
static inline void transpose8(__m256 v[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);       /* per 128-bit lane: a0 b0 a1 b1 */
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);   /*                   a2 b2 a3 b3 */
    }
    for (int g = 0; g < 8; g += 4) {
        /* u[g + c], 128-bit lane l: rows g..g+3 at column 4l + c */
        u[g + 0] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xEE);
        u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {
        v[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        v[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

/* Store the first w (1..8) lanes of x at d, the k-th of a panel's kc rows of R floats.  Full
 * stores where they stay inside the row; when R <= 8 (one lane group per row) a full store may
 * also spill into the next row of the same panel, which is written after this one (rows go in
 * ascending k) -- everything but a panel's last row avoids the slow masked store that way. */
static inline void store_row(float *d, __m256 x, size_t w, size_t R, size_t k, size_t kc)
{
    if (w == 8 || (R <= 8 && k + 1 < kc)) _mm256_storeu_ps(d, x);
    else _mm256_maskstore_ps(d, lanes(w), x);
}

/* dst[k*R + i] = src[i*ld + k] for i < r, k < kc, and 0 for r <= i < R (R <= 16, r <= R):
 * R rows of a row-major matrix into the k-major panel a micro-kernel reads, i.e. op(A) with
 * transa == 0 (R = MR) or op(B) with transb == 1 (R = NR).  The rows of a group of 8 are read
 * together (8 cache lines in flight instead of one row at a time) and transposed in registers;
 * the portable loop this replaces moved one float at a time and was most of the packing cost
 * of Linear-shaped products (op(B) = W^T). */
void dl_sgemm_pack_t_avx2(const float *src, ptrdiff_t ld, size_t r, size_t kc, size_t R,
                          float *dst)
{
    for (size_t i0 = 0; i0 < R; i0 += 8) {
        const size_t w = R - i0 < 8 ? R - i0 : 8;
        const size_t rows = r > i0 ? (r - i0 < 8 ? r - i0 : 8) : 0;
        for (size_t k = 0; k < kc; k += 8) {
            const size_t kk = kc - k < 8 ? kc - k : 8;
            const __m256i km = lanes(kk);
            __m256 v[8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) {
                const float *s = src + (i0 + i) * ld + k;
                v[i] = (size_t)i >= rows ? _mm256_setzero_ps()
                       : kk == 8         ? _mm256_loadu_ps(s)
                                         : _mm256_maskload_ps(s, km);
            }
            transpose8(v);
            for (size_t t = 0; t < kk; t++) store_row(dst + (k + t) * R + i0, v[t], w, R, k + t, kc);
        }
    }
}

/* Source rows per pass of pack_n_narrow: few enough that the lines a 6-wide panel reads (one
 * or two per row) are still in L1 when the next panel reads the rest of them. */
enum { PACK_N_ROWS = 32 };

/* dl_sgemm_pack_n_avx2 for 4 <= R <= 8 (op(A) with transa == 1, R = MR = 6).  Panel after
 * panel over PACK_N_ROWS source rows at a time, so each panel's destination is one run:
 * A's panels are R*kc*4 bytes apart, 12 KiB at kc = 512, all on the same L1 sets, and
 * pack_n_bands' order (8 rows to every panel in turn, with masked loads of the 6 lanes) was a
 * third of dW = X^T dY's time at 288 x 96 x 2048.  A row is one plain 8-wide load (its lanes
 * past R are the next panel's, or zero past n by a masked load) and one 8-wide store whose
 * lanes past R land in the next row of the same panel, written after it; only a panel's last
 * row takes a masked store.  Measured on Zen 3 (packing op(A) of 288 x 2048 in 512-row
 * blocks, best of 100, loaded machine): 186-200 us against 315-440. */
static void pack_n_narrow(const float *src, ptrdiff_t ld, size_t n, size_t kc, size_t R,
                          float *dst)
{
    const size_t panels = (n + R - 1) / R;
    const __m256i lr = lanes(R);
    for (size_t k0 = 0; k0 < kc; k0 += PACK_N_ROWS) {
        const size_t k1 = kc - k0 < PACK_N_ROWS ? kc : k0 + PACK_N_ROWS;
        /* the next chunk's rows, in row order (what the hardware prefetchers follow), a
         * share of them at each panel: the column-strip reads below would otherwise wait on
         * memory for each new line, as they do when A is not in cache (fresh activations) */
        const size_t p0 = k1, p1 = kc - k1 < PACK_N_ROWS ? kc : k1 + PACK_N_ROWS;
        const size_t lpr = (n + 15) / 16 + 1, nlines = (p1 - p0) * lpr;
        size_t pf = 0;
        for (size_t q = 0; q < panels; q++) {
            for (const size_t pf1 = nlines * (q + 1) / panels; pf < pf1; pf++) {
                const size_t r = pf / lpr, l = pf % lpr;
                const float *a = src + (p0 + r) * ld + (l * 16 < n ? l * 16 : n - 1);
                _mm_prefetch((const char *)a, _MM_HINT_T0);
            }
            const size_t c0 = q * R, v = n - c0 < R ? n - c0 : R;   /* columns read */
            const int full = c0 + 8 <= n;   /* a plain load stays inside the row */
            const __m256i lv = lanes(v);
            float *d = dst + q * R * kc;
            for (size_t k = k0; k < k1; k++) {
                const float *s = src + k * ld + c0;
                const __m256 x = full ? _mm256_loadu_ps(s) : _mm256_maskload_ps(s, lv);
                if (k + 1 < kc) _mm256_storeu_ps(d + k * R, x);
                else _mm256_maskstore_ps(d + k * R, lr, x);
            }
        }
    }
}

/* dst[q*R*kc + k*R + i] = src[k*ld + q*R + i] for q*R + i < n, 0 past n (R <= 16): all the
 * panels of a block whose rows run along the panels (op(B) with transb == 0, R = NR, or op(A)
 * with transa == 1, R = MR).  Eight source rows at a time across every panel, as the AVX-512
 * copy does (panels R*kc*4 bytes apart would otherwise share L1 sets).  Used for the 16-wide
 * B panels, whose rows are whole cache lines: read row by row it streams; panel by panel
 * (pack_n_narrow's order) it read 1.4-2x slower (n = 128 and 512, kc = 512, Zen 3). */
static void pack_n_bands(const float *src, ptrdiff_t ld, size_t n, size_t kc, size_t R,
                         float *dst)
{
    const size_t panels = (n + R - 1) / R;
    const size_t w0 = R < 8 ? R : 8, w1 = R > 8 ? R - 8 : 0;
    for (size_t k0 = 0; k0 < kc; k0 += 8) {
        const size_t k1 = kc - k0 < 8 ? kc : k0 + 8;
        for (size_t q = 0; q < panels; q++) {
            const size_t c0 = q * R, r = n - c0 < R ? n - c0 : R;
            const size_t r0 = r < 8 ? r : 8, r1 = r > 8 ? r - 8 : 0;
            const __m256i l0 = lanes(r0), l1 = lanes(r1);
            float *d = dst + q * R * kc;
            for (size_t k = k0; k < k1; k++) {
                const float *row = src + k * ld + c0;
                const __m256 x0 = r0 == 8 ? _mm256_loadu_ps(row) : _mm256_maskload_ps(row, l0);
                store_row(d + k * R, x0, w0, R, k, kc);
                if (w1) {
                    const __m256 x1 = r1 == 8 ? _mm256_loadu_ps(row + 8)
                                    : r1      ? _mm256_maskload_ps(row + 8, l1)
                                              : _mm256_setzero_ps();
                    store_row(d + k * R + 8, x1, w1, R, k, kc);
                }
            }
        }
    }
}

/* dst[q*R*kc + k*R + i] = src[k*ld + q*R + i] for q*R + i < n, 0 past n (R <= 16): all the
 * panels of a block whose rows run along the panels (op(B) with transb == 0, R = NR, or op(A)
 * with transa == 1, R = MR). */
void dl_sgemm_pack_n_avx2(const float *src, ptrdiff_t ld, size_t n, size_t kc, size_t R,
                          float *dst)
{
    /* narrow: R >= 4 keeps a store's spill (8 - R lanes) inside the next row */
    if (R >= 4 && R <= 8) pack_n_narrow(src, ld, n, kc, R, dst);
    else pack_n_bands(src, ld, n, kc, R, dst);
}
