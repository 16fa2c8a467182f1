/* GEMM driver: packing, cache blocking, threading and dispatch (the BLIS/Goto scheme).
 *
 *   C[M,N] = act(alpha * op(A) @ op(B) + beta * C + bias), all row-major (see dlcore/gemm.h)
 *
 * Loop nest of one thread, outermost first:
 *   pc  over K in blocks of KC   one pass of rank-KC updates; beta applies with the first
 *                                block, bias and activation with the last one only
 *   ic  over M in blocks of MC   pack the A block (MC x KC) once per K slice
 *   jc  over N in blocks of NC   pack the B block (KC x NC); it lives in the core's L2
 *   ir  over MR rows             one A micro-panel (KC x MR) stays in L1 ...
 *   jr  over NR columns          ... while the B micro-panels stream from L2 through it
 *   micro-kernel                 MR x NR accumulators in registers (gemm_<isa>.c), epilogue
 *                                applied to the tile while it is in registers
 * The two innermost loops are in this order (A micro-panel reused from L1, B from L2) because
 * the float32 tiles are wider than tall: a KC x NR B micro-panel (256 x 32 floats = 32 KiB)
 * would fill Zen 4's whole 32 KiB L1d, while a KC x MR A micro-panel (256 x 14 floats = 14 KiB)
 * fits in half of it.  pc is outside jc so each element of A is packed once per call, not once
 * per column block.
 *
 * Blocking for Zen 4 (32 KiB L1d, 1 MiB L2 per core, 32 MiB shared L3), float32 AVX-512:
 *   KC = 256: A micro-panel 14 KiB in L1, leaving room for the streamed B and C lines
 *   NC = 512: B block 256 x 512 x 4 B = 512 KiB, half of L2 (the rest: A panel, C lines)
 *   MC = 2016 (144 x MR): A block 2 MiB, in L3, each micro-panel read once per B block
 * Blocks are evened out (K = 784 runs as 4 x 200/184, not 3 x 256 + 16) so no pass is a thin
 * leftover.  Generic uses the same KC/NC (smaller tiles: smaller micro-panels); float32 AVX2
 * derives its blocks from the L2 size (avx2_blocking: KC = 512, NC = 128 on Zen 3's 512 KiB);
 * float64 halves KC to keep the bytes per panel.  Measured on this machine, 1 thread: the
 * AVX-512 micro-kernel alone runs at ~112 GFLOP/s (96% of the 117 GFLOP/s FMA peak) on
 * L1/L2-resident panels; whole sgemm n = 1024 at ~100 GFLOP/s.  On a Zen 3 (AVX2 only, ~93
 * GFLOP/s FMA peak a core as `dlcore info` measures it) the 6 x 16 AVX2 micro-kernel alone runs
 * at 92-99 GFLOP/s, whole sgemm n = 1024 at ~81-83 (CPU time, shared machine).
 *
 * Threads: the MR x NR tiles of C, numbered along the rows (or down the columns when M is
 * much smaller than N), are cut into one run of equal weight per thread, splitting M and N
 * inside a panel where that balances better; each thread packs what its run uses (B is
 * packed once for the whole team only when the threads split M into few rows each, see
 * gemm_run).  A run of few column tiles reads A in place instead of packing it
 * (A_IN_PLACE_COLS).  Small products run on one thread (no fork/join), and a
 * call from inside a parallel region runs on the calling thread only.
 *
 * Direct paths (float32): M == 1 or N == 1 is a matrix-vector product that streams the matrix
 * once with no packing (gemm_gemv_simd.c), and so is M <= 4 with op(B) = B^T (Linear layers at
 * batch 2-4: each row of the weight read once for all rows); when op(B) = B is small or used by
 * only a few row panels of A (small M) it is read in place instead of packed, and only A is
 * packed.  Products of at most 2^18 multiply-adds (AVX-512, AVX2) read A in place as well
 * (sgemm_small_path, GEMM_SMALL_MNK says where that pays); every tile there is the blocked
 * path's arithmetic, so a shape gives the same bits on either path.
 *
 * Packing buffers are cached per thread and reused: a fresh page costs ~1.7 us to fault in
 * here, more than a whole small GEMM.
 */
#include <pthread.h>
#include <unistd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dlcore/gemm.h"
#include "gemm_driver.h"
#include "dlcore/runtime.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

/* Products with fewer multiply-adds than this per thread are not worth splitting (a fork/join
 * of the OpenMP team costs a few microseconds). */
static const size_t GEMM_GRAIN = (size_t)1 << 18;

/* Threads splitting M with at least this many rows each pack B themselves (gemm_run). */
static const size_t GEMM_OWN_B_ROWS = 64;

/* ------------------------------------------------------------------------------------------ */
/* Plans: a micro-kernel and the blocking that goes with it.                                   */

/* Each ISA's kernels and register tiles (the table gemm_kernels_for() picks, see dispatch.h). */
const gemm_kernels_t gemm_kernels_avx512 = {
    dl_sgemm_kernel_avx512, DL_SGEMM_AVX512_MR, DL_SGEMM_AVX512_NR, dl_sgemm_pack_t_avx512,
    dl_sgemm_pack_n_avx512, dl_dgemm_kernel_avx512, DL_DGEMM_AVX512_MR, DL_DGEMM_AVX512_NR,
    dl_sgemv_dots_avx512, dl_sgemv_axpy_avx512, dl_sgemm_small_dots_avx512,
    dl_sgemm_kernel_sa_avx512};
const gemm_kernels_t gemm_kernels_avx2 = {
    dl_sgemm_kernel_avx2, DL_SGEMM_AVX2_MR, DL_SGEMM_AVX2_NR, dl_sgemm_pack_t_avx2,
    dl_sgemm_pack_n_avx2, dl_dgemm_kernel_avx2,
    DL_DGEMM_AVX2_MR, DL_DGEMM_AVX2_NR, dl_sgemv_dots_avx2, dl_sgemv_axpy_avx2,
    dl_sgemm_small_dots_avx2, dl_sgemm_kernel_sa_avx2};
const gemm_kernels_t gemm_kernels_generic = {
    dl_sgemm_kernel_generic, DL_SGEMM_GENERIC_MR, DL_SGEMM_GENERIC_NR, NULL, NULL,
    dl_dgemm_kernel_generic, DL_DGEMM_GENERIC_MR, DL_DGEMM_GENERIC_NR, dl_sgemv_dots_generic,
    dl_sgemv_axpy_generic, dl_sgemm_small_dots_generic, NULL};

/* The core's L2 in bytes (0 when the C library cannot say), read once. */
static size_t l2_size;
static pthread_once_t l2_once = PTHREAD_ONCE_INIT;

static void l2_read(void)
{
    long v = 0;
#ifdef _SC_LEVEL2_CACHE_SIZE
    v = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    l2_size = v > 0 ? (size_t)v : 0;
}

static size_t l2_bytes(void)
{
    (void)pthread_once(&l2_once, l2_read);
    return l2_size;
}

/* float32 AVX2 blocks (6 x 16 tiles), from the L2 size.  A K block of 512 where L2 has
 * 512 KiB or more: half as many passes over C as KC = 256 (each after the first reads and
 * writes every tile of C again) and half as many tile epilogues; the 6 x 512 A micro-panel
 * (12 KiB) still sits in L1 while the B micro-panels stream from L2.  NC so that the B block
 * (KC x NC) fills half of L2, the rest left to the A panel, C lines and the next B block's
 * packing: on Zen 3 (512 KiB L2) 512 x 128, where the AVX-512 blocking's 256 x 512 filled
 * all of L2.  Measured on Zen 3, one thread, CPU time against 256 / 512 / 2016: 2048x512x128
 * (B^T) +5-10%, 512^3, 1024^3, 2048^3 and the Linear shapes 0-4% (within the noise of a shared
 * machine), none slower.  MC: an A block of up to 8 MiB (4092 rows at KC = 512), so that B,
 * packed again for every A block (gemm_tiles: jc inside ic), is packed once for M up to 4092.
 * The A block lives in L3 either way (its micro-panels stream from there once per B block, a
 * light load: 12 KiB per 8 tiles).  With 2 MiB (1020 rows) n = 1024 ran as two blocks of 512
 * and packed B twice: profiled on Zen 3, B's packing went from 5.2% to 2.9% of a 1024^3's
 * time, and at two threads the second thread's run no longer straddles two A blocks. */
static void avx2_blocking(gemm_plan *p)
{
    const size_t l2 = l2_bytes() ? l2_bytes() : ((size_t)512 << 10);
    p->kc = l2 >= ((size_t)512 << 10) ? 512 : 256;
    size_t nc = l2 / 2 / (p->kc * sizeof(float)) / p->nr * p->nr;
    p->nc = nc < 4 * p->nr ? 4 * p->nr : nc > 512 ? 512 : nc;
    p->mc = p->mr * (((size_t)8 << 20) / (p->kc * sizeof(float)) / p->mr);
}

gemm_plan dl_gemm_plan_for_isa(int f64, dl_isa_t isa)
{
    const gemm_kernels_t *k = gemm_kernels_for(isa);
    gemm_plan p;
    p.f64 = f64;
    p.kc = 256;
    p.pack_t = NULL;
    p.pack_n = NULL;
    p.sa = NULL;
    if (!f64) {
        p.sa = k->sgemm_sa;
        p.kernel = k->sgemm;
        p.pack_t = k->pack_t;
        p.pack_n = k->pack_n;
        p.mr = k->smr;
        p.nr = k->snr;
    } else {
        /* doubles are twice as wide: halve KC to keep the same bytes per micro-panel */
        p.kc = 128;
        p.kernel = k->dgemm;
        p.mr = k->dmr;
        p.nr = k->dnr;
    }
    p.mc = p.mr * (2016 / p.mr);
    p.nc = p.nr * (512 / p.nr);
    if (isa == DL_ISA_AVX2 && !f64) avx2_blocking(&p);
    return p;
}

static gemm_plan plan_for(int f64) { return dl_gemm_plan_for_isa(f64, dl_isa()); }

/* ------------------------------------------------------------------------------------------ */
/* Per-thread workspace, kept between calls (freed when the thread exits).                     */

/* Slot 0: a thread's own packing buffers; slot 1: B packed once and shared by a team. */
enum { WS_OWN = 0, WS_SHARED = 1, WS_SLOTS = 2 };

typedef struct {
    void *p[WS_SLOTS];
    size_t bytes[WS_SLOTS];
} workspace;

static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;

static void ws_destroy(void *w_)
{
    workspace *w = w_;
    if (w) {
        for (int i = 0; i < WS_SLOTS; i++) dl_free(w->p[i]);
        free(w);
    }
}

static void ws_make_key(void) { (void)pthread_key_create(&ws_key, ws_destroy); }

/* At least `bytes` of 64-byte aligned scratch owned by the calling thread, or NULL. */
static void *thread_workspace(int slot, size_t bytes)
{
    (void)pthread_once(&ws_once, ws_make_key);
    workspace *w = pthread_getspecific(ws_key);
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w) return NULL;
        if (pthread_setspecific(ws_key, w) != 0) {
            free(w);
            return NULL;
        }
    }
    if (w->bytes[slot] < bytes) {
        dl_free(w->p[slot]);
        w->bytes[slot] = 0;
        /* grow geometrically so a sequence of slightly larger calls does not realloc each time */
        size_t want = bytes + bytes / 4;
        w->p[slot] = dl_alloc(want);
        if (!w->p[slot]) return NULL;
        w->bytes[slot] = want;
    }
    return w->p[slot];
}

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }
static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* ------------------------------------------------------------------------------------------ */
/* Packing.  Panel q of packed A holds rows [q*MR, q*MR + MR) of the block as kc columns of MR
 * values (dst[k*MR + i]); panel q of packed B holds columns [q*NR, ...) as kc rows of NR values.
 * Rows/columns past the matrix edge are zero so the kernel may compute a full tile; only the
 * valid corner is stored. */

/* Portable transposing pack: dst[k*R + i] = src[i*ld + k] (i < r), 0 for r <= i < R.  Works
 * through k in chunks of 16 so the r source rows are all being read at once (one cache line
 * each in flight) rather than one row after another. */
static void pack_t_f32(const float *src, ptrdiff_t ld, size_t r, size_t kc, size_t R,
                       float *dst)
{
    for (size_t k0 = 0; k0 < kc; k0 += 16) {
        size_t k1 = min_sz(kc, k0 + 16);
        for (size_t i = 0; i < r; i++) {
            const float *s = src + i * ld;
            for (size_t k = k0; k < k1; k++) dst[k * R + i] = s[k];
        }
        for (size_t i = r; i < R; i++)
            for (size_t k = k0; k < k1; k++) dst[k * R + i] = 0.0f;
    }
}

/* Portable non-transposing pack of a whole block: panel q of width R holds
 * dst[q*R*kc + k*R + i] = src[k*ld + q*R + i] for columns q*R + i < n, zero past n.  Works in
 * bands of 8 source rows across all panels (see dl_sgemm_pack_n_avx512 for why). */
static void pack_n_f32(const float *src, ptrdiff_t ld, size_t n, size_t kc, size_t R,
                       float *dst)
{
    const size_t panels = (n + R - 1) / R;
    for (size_t k0 = 0; k0 < kc; k0 += 8) {
        const size_t k1 = min_sz(kc, k0 + 8);
        for (size_t q = 0; q < panels; q++) {
            const size_t r = min_sz(R, n - q * R);
            for (size_t k = k0; k < k1; k++) {
                const float *s = src + k * ld + q * R;
                float *d = dst + q * R * kc + k * R;
                size_t i = 0;
                for (; i < r; i++) d[i] = s[i];
                for (; i < R; i++) d[i] = 0.0f;
            }
        }
    }
}

/* A block: op(A) rows [i0, i0+m), columns [p0, p0+kc), as ceil(m / MR) panels. */
static void pack_a_f32(int transa, const float *A, ptrdiff_t lda, size_t i0, size_t m,
                       size_t p0, size_t kc, size_t MR, float *dst, const gemm_plan *p)
{
    if (transa) {
        /* op(A)(i, k) = A[k*lda + i]: rows of A run along the panels */
        (p->pack_n ? p->pack_n : pack_n_f32)(A + p0 * lda + i0, lda, m, kc, MR, dst);
        return;
    }
    /* op(A)(i, k) = A[i*lda + k]: each panel is a transpose of MR rows */
    for (size_t q = 0; q * MR < m; q++) {
        size_t r0 = i0 + q * MR, mr = min_sz(MR, m - q * MR);
        (p->pack_t ? p->pack_t : pack_t_f32)(A + r0 * lda + p0, lda, mr, kc, MR,
                                             dst + q * MR * kc);
    }
}

static void pack_a_f64(int transa, const double *A, ptrdiff_t lda, size_t i0, size_t m,
                       size_t p0, size_t kc, size_t MR, size_t q0, size_t q1, double *dst)
{
    for (size_t q = q0; q < q1; q++) {
        double *d = dst + q * MR * kc;
        size_t r0 = i0 + q * MR, mr = min_sz(MR, m - q * MR);
        if (!transa) {
            for (size_t i = 0; i < mr; i++) {
                const double *src = A + (r0 + i) * lda + p0;
                for (size_t k = 0; k < kc; k++) d[k * MR + i] = src[k];
            }
            for (size_t i = mr; i < MR; i++)
                for (size_t k = 0; k < kc; k++) d[k * MR + i] = 0.0;
        } else {
            for (size_t k = 0; k < kc; k++) {
                const double *src = A + (p0 + k) * lda + r0;
                size_t i = 0;
                for (; i < mr; i++) d[k * MR + i] = src[i];
                for (; i < MR; i++) d[k * MR + i] = 0.0;
            }
        }
    }
}

/* B block: op(B) rows [p0, p0+kc), columns [j0, j0+n), as ceil(n / NR) panels.  op(B)'s
 * columns are the rows of op(B)^T, which is B^T when B is not transposed and B when it is:
 * the A-block pack with the transposition flipped (the same for float64 below). */
static void pack_b_f32(int transb, const float *B, ptrdiff_t ldb, size_t p0, size_t kc,
                       size_t j0, size_t n, size_t NR, float *dst, const gemm_plan *p)
{
    pack_a_f32(!transb, B, ldb, j0, n, p0, kc, NR, dst, p);
}

static void pack_b_f64(int transb, const double *B, ptrdiff_t ldb, size_t p0, size_t kc,
                       size_t j0, size_t n, size_t NR, size_t q0, size_t q1, double *dst)
{
    pack_a_f64(!transb, B, ldb, j0, n, p0, kc, NR, q0, q1, dst);
}

/* ------------------------------------------------------------------------------------------ */
/* The blocked product.                                                                        */

/* Share [0, n) of `parts` equal parts: part t is [n*t/parts, n*(t+1)/parts). */
static void share(size_t n, int parts, int t, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)t / (size_t)parts;
    *hi = n * (size_t)(t + 1) / (size_t)parts;
}

/* Split [0, n) into equal blocks of at most `blk` (each a multiple of `unit` but the last),
 * so that no block is a thin leftover: e.g. K = 784 runs as 4 x 196, not 3 x 256 + 16. */
static size_t even_block(size_t n, size_t blk, size_t unit)
{
    size_t nb = (n + blk - 1) / blk;
    return min_sz(blk, round_up((n + nb - 1) / nb, unit));
}

/* The epilogue of the K slice [pc, pc + kc): beta only on the first slice (later ones add to
 * C), the activation only on the last; the caller sets the bias slices per tile. */
static dl_gemm_epi k_slice_epi(const gemm_args *g, size_t pc, size_t kc)
{
    dl_gemm_epi e = {0};
    e.alpha = g->alpha;
    e.beta = pc == 0 ? g->beta : 1.0;
    e.act = pc + kc == g->K ? (int)g->act : DL_ACT_NONE;
    return e;
}

size_t dl_gemm_k_block(const gemm_plan *p, size_t K) { return even_block(K, p->kc, 8); }

/* Panel q (counted from the view's first) of the K block [pc, pc + kc) of a packed B. */
static char *packed_panel(const packed_b *pb, const gemm_plan *p, size_t pc, size_t kc,
                          size_t q)
{
    const size_t es = p->f64 ? sizeof(double) : sizeof(float);
    return pb->p + (pc * pb->np * p->nr + (pb->q0 + q) * p->nr * kc) * es;
}

/* The tiles of C in one order: along each row panel (cols == 0) or down each column panel. */
typedef struct {
    size_t pm, pn;   /* tiles down and across */
    int cols;        /* 1: numbered down each column panel (jr * pm + ir); 0: along rows */
} tile_order;

/* Row and column panels that tiles [t0, t1) touch (t0 < t1). */
static void run_extent(const tile_order *o, size_t t0, size_t t1, size_t *ir0, size_t *ir1,
                       size_t *jr0, size_t *jr1)
{
    const size_t nin = o->cols ? o->pm : o->pn;
    size_t out0 = t0 / nin, out1 = (t1 - 1) / nin + 1, in0 = 0, in1 = nin;
    if (out1 - out0 == 1) {
        in0 = t0 % nin;
        in1 = (t1 - 1) % nin + 1;
    }
    if (o->cols) {
        *jr0 = out0, *jr1 = out1, *ir0 = in0, *ir1 = in1;
    } else {
        *ir0 = out0, *ir1 = out1, *jr0 = in0, *jr1 = in1;
    }
}

/* A run of tiles that spans at most this many columns of C reads A (float32, op(A) = A) in
 * place with the kernel's in-place twin (the small path's), instead of packing it: each A
 * micro-panel would serve only a few tiles, too few to pay for its copy.  Wider runs pack: the
 * packed panel is one contiguous stream where in place it is MR strided rows, which costs more
 * the more tiles read it.  Measured on Zen 3 (AVX2, 6 x 16 tiles: 256 columns are 16 tiles;
 * 1 thread, CPU time, calls of both ways interleaved): 4096x512x64 and 2048x512x128 (B^T)
 * 16-19% faster, 256^3 10%, 1024x1024x128 and 256x2048x256 even; 64x784x512 (512 columns) 6%
 * faster but 512^3, 1024^3, 128x1024x1024 and 96x1024x1024 (B^T) 4-9% slower.  Not measured
 * with AVX-512, where the bound is 8 of its 14 x 32 tiles.  The arithmetic of a tile is the
 * same either way (kloop), so the result does not depend on the choice. */
enum { A_IN_PLACE_COLS = 256 };

/* The blocked loop nest on the calling thread, over the tiles [t0, t1) of C in the order o.
 * A is packed into `apack` (only the row panels the run touches) or was packed in advance
 * (`apre`, dl_sgemm_pack_a); B comes from `pb` (packed by the team or in advance), is packed
 * into `bpack` (only the column panels the run touches), or is read in place (both NULL).
 * g->post runs on each row panel's columns of the run once the last K slice is stored. */
static void gemm_tiles(const gemm_args *g, const gemm_plan *p, const tile_order *o, size_t t0,
                       size_t t1, char *apack, char *bpack, const packed_b *pb,
                       const char *apre)
{
    const size_t es = p->f64 ? sizeof(double) : sizeof(float);
    const char *A = g->A, *B = g->B, *bias = g->bias;
    char *C = g->C;
    const size_t mr_ = p->mr, nr_ = p->nr;
    const size_t KC = dl_gemm_k_block(p, g->K);
    const size_t MC = even_block(g->M, p->mc, mr_);
    const size_t NC = even_block(g->N, p->nc, nr_);
    size_t ir0, ir1, jr0, jr1;
    run_extent(o, t0, t1, &ir0, &ir1, &jr0, &jr1);
    const int a_in_place = g->a_in_place && !apre && !g->apacker && p->sa && !g->transa &&
                           (jr1 - jr0) * nr_ <= A_IN_PLACE_COLS;

    for (size_t pc = 0; pc < g->K; pc += KC) {
        const size_t kc = min_sz(KC, g->K - pc);
        const int last = pc + kc == g->K;
        dl_gemm_epi e = k_slice_epi(g, pc, kc);
        for (size_t ic = 0; ic < g->M; ic += MC) {
            /* this block's row panels that the run touches */
            const size_t qa = ic / mr_ > ir0 ? ic / mr_ : ir0;
            const size_t qb = min_sz((min_sz(ic + MC, g->M) + mr_ - 1) / mr_, ir1);
            if (qa >= qb) continue;
            const size_t i0 = qa * mr_, m = min_sz(qb * mr_, g->M) - i0;
            if (apre)   /* block (pc, ic) at pc * round_up(M, MR) + ic * kc: panel q at q*MR*kc */
                apack = (char *)apre + (pc * round_up(g->M, mr_) + qa * mr_ * kc) * es;
            else if (a_in_place)
                ;   /* the kernel reads row i of A at A + i * lda + pc */
            else if (g->apacker)
                g->apacker->fn(g->apacker->ctx, pc, kc, i0, m, mr_, (float *)apack);
            else if (p->f64)
                pack_a_f64(g->transa, (const double *)A, g->lda, i0, m, pc, kc, mr_, 0, qb - qa,
                           (double *)apack);
            else
                pack_a_f32(g->transa, (const float *)A, g->lda, i0, m, pc, kc, mr_,
                           (float *)apack, p);
            for (size_t jc = 0; jc < g->N; jc += NC) {
                const size_t ja = jc / nr_ > jr0 ? jc / nr_ : jr0;
                const size_t jb = min_sz((min_sz(jc + NC, g->N) + nr_ - 1) / nr_, jr1);
                if (ja >= jb) continue;
                const char *bblk = NULL;   /* panel jr at bblk + (jr - bq0) * nr * kc */
                size_t bq0 = 0;
                if (pb) {
                    bblk = packed_panel(pb, p, pc, kc, jc / nr_);
                    bq0 = jc / nr_;
                } else if (bpack) {
                    const size_t j0 = ja * nr_, n = min_sz(jb * nr_, g->N) - j0;
                    if (g->bpacker)
                        g->bpacker->fn(g->bpacker->ctx, pc, kc, j0, n, nr_, (float *)bpack);
                    else if (p->f64)
                        pack_b_f64(g->transb, (const double *)B, g->ldb, pc, kc, j0, n, nr_, 0,
                                   jb - ja, (double *)bpack);
                    else
                        pack_b_f32(g->transb, (const float *)B, g->ldb, pc, kc, j0, n, nr_,
                                   (float *)bpack, p);
                    bblk = bpack;
                    bq0 = ja;
                }
                for (size_t ir = qa; ir < qb; ir++) {
                    const size_t i = ir * mr_, mr = min_sz(mr_, g->M - i);
                    const char *ap = apack + (ir - qa) * mr_ * kc * es;
                    e.bias_col = (last && g->bias_kind == DL_BIAS_COL) ? bias + i * es : NULL;
                    size_t jlo = jb, jhi = ja;   /* the run's columns of this row panel */
                    for (size_t jr = ja; jr < jb; jr++) {
                        const size_t t = o->cols ? jr * o->pm + ir : ir * o->pn + jr;
                        if (t < t0 || t >= t1) continue;
                        jlo = min_sz(jlo, jr);
                        jhi = jr + 1;
                        const size_t j = jr * nr_, nr = min_sz(nr_, g->N - j);
                        const char *bp;
                        ptrdiff_t ldb;
                        if (bblk) {
                            bp = bblk + (jr - bq0) * nr_ * kc * es;
                            ldb = (ptrdiff_t)nr_;
                        } else {
                            bp = B + (pc * g->ldb + j) * es;
                            ldb = g->ldb;
                        }
                        e.bias_row = (last && g->bias_kind == DL_BIAS_ROW) ? bias + j * es
                                                                             : NULL;
                        if (a_in_place)
                            p->sa(kc, (const float *)A + i * g->lda + pc, g->lda, 1,
                                  (const float *)bp, ldb, (float *)(C + (i * g->ldc + j) * es),
                                  g->ldc, mr, nr, &e);
                        else
                            p->kernel(kc, ap, bp, ldb, C + (i * g->ldc + j) * es, g->ldc, mr,
                                      nr, &e);
                    }
                    if (last && g->post && jlo < jhi)   /* final and still in cache */
                        g->post->fn(g->post->ctx, (float *)(C + (i * g->ldc + jlo * nr_) * es),
                                    mr, min_sz(jhi * nr_, g->N) - jlo * nr_, g->ldc);
                }
            }
        }
    }
}

/* The whole product on the calling thread: every tile, along the rows. */
static void gemm_blocked(const gemm_args *g, const gemm_plan *p, char *apack, char *bpack,
                         const packed_b *pb, const char *apre)
{
    const tile_order all = {(g->M + p->mr - 1) / p->mr, (g->N + p->nr - 1) / p->nr, 0};
    gemm_tiles(g, p, &all, 0, all.pm * all.pn, apack, bpack, pb, apre);
}

/* ------------------------------------------------------------------------------------------ */
/* Direct paths (float32): matrix-vector products (M == 1 or N == 1) and a few rows times a
 * transposed matrix, both streaming the matrix once, unpacked.                                */

typedef void (*gemv_fn)(size_t n, size_t K, const float *x, const float *W, ptrdiff_t ldw,
                        float *y);
typedef void (*small_dots_fn)(size_t m, size_t n, size_t K, const float *X, ptrdiff_t ldx,
                              const float *W, ptrdiff_t ldw, float *Y, ptrdiff_t ldy);

/* m rows of n outputs whose raw sums a kernel writes into y (row stride ldy), column run by
 * column run; element (i, j) is then finished into C[i * ldc + j * incc] with the bias element
 * bias[i * bias_i + j * bias_j]. */
typedef struct direct_job direct_job;
struct direct_job {
    const gemm_args *g;
    size_t m, n;
    float *y;
    ptrdiff_t ldy, ldc, incc, bias_i, bias_j;
    void (*sums)(const direct_job *d, size_t j0, size_t j1);   /* columns [j0, j1) of y */
    const float *x, *W;   /* the kernel's operands: x a vector (gemv) or rows (small_dots) */
    ptrdiff_t ldx, ldw;
    gemv_fn gemv;
    int dots;   /* gemv: rows of W run along K (output j is row j), else output j is column j */
    small_dots_fn small_dots;
};

static void gemv_sums(const direct_job *d, size_t j0, size_t j1)
{
    d->gemv(j1 - j0, d->g->K, d->x, d->dots ? d->W + j0 * d->ldw : d->W + j0, d->ldw, d->y + j0);
}

static void small_dots_sums(const direct_job *d, size_t j0, size_t j1)
{
    d->small_dots(d->m, j1 - j0, d->g->K, d->x, d->ldx, d->W + j0 * d->ldw, d->ldw, d->y + j0,
                  d->ldy);
}

/* thread tid of team's run of the outputs: their sums, then their epilogue */
static void direct_part(const direct_job *d, int tid, int team, size_t chunks)
{
    const gemm_args *g = d->g;
    float *C = g->C;
    const float *bias = g->bias;
    const float alpha = (float)g->alpha, beta = (float)g->beta;
    size_t c0, c1;
    share(chunks, team, tid, &c0, &c1);
    const size_t j0 = c0 * 64, j1 = min_sz(c1 * 64, d->n);
    if (j0 >= j1) return;
    d->sums(d, j0, j1);
    for (size_t i = 0; i < d->m; i++) {
        for (size_t j = j0; j < j1; j++) {
            const float b = bias ? bias[i * d->bias_i + j * d->bias_j] : 0.0f;
            float *c = C + i * d->ldc + j * d->incc;
            *c = dl_epi_f32(d->y[i * d->ldy + j], c, alpha, beta, b, g->act);
        }
    }
}

/* Each thread takes a contiguous run of outputs, a multiple of 64 so the axpy strips stay
 * whole; it forms their sums and finishes them while they are in cache. */
static void direct_run(const direct_job *d, int nthreads)
{
    const size_t chunks = (d->n + 63) / 64;
    int nt = nthreads < (int)chunks ? nthreads : (int)chunks;
    if (nt < 1) nt = 1;
    if (nt > 1) {
#ifdef DL_HAVE_OPENMP
#pragma omp parallel num_threads(nt)
        direct_part(d, omp_get_thread_num(), omp_get_num_threads(), chunks);
        return;
#endif
    }
    /* no region of one thread: it alone costs ~0.5 us, a third of a small layer's time */
    direct_part(d, 0, 1, chunks);
}

static int sgemv_path(const gemm_args *g, int nthreads)
{
    /* y (length n) = op(W) x; the outputs are C[j * incc]. */
    direct_job d = {0};
    d.g = g;
    d.m = 1;
    d.sums = gemv_sums;
    const int row_bias = g->bias_kind == DL_BIAS_ROW;
    ptrdiff_t incx;
    const float *x;
    if (g->M == 1) {
        /* C[0, j] = sum_k op(A)[0, k] op(B)[k, j] */
        d.n = g->N;
        d.incc = 1;
        x = g->A;
        incx = g->transa ? g->lda : 1;
        d.W = g->B;
        d.ldw = g->ldb;
        d.dots = g->transb;
        d.bias_j = row_bias;
    } else {
        /* C[i, 0] = sum_k op(A)[i, k] op(B)[k, 0] */
        d.n = g->M;
        d.incc = g->ldc;
        x = g->B;
        incx = g->transb ? 1 : g->ldb;
        d.W = g->A;
        d.ldw = g->lda;
        d.dots = !g->transa;
        d.bias_j = !row_bias;
    }
    const size_t K = g->K;
    float *ws = thread_workspace(WS_OWN, (round_up(d.n, 16) + round_up(K, 16)) * sizeof(float));
    if (!ws) return -1;
    float *xc = ws + round_up(d.n, 16);
    d.y = ws;
    if (incx != 1) {
        for (size_t k = 0; k < K; k++) xc[k] = x[k * incx];
        x = xc;
    }
    d.x = x;
    const gemm_kernels_t *k = gemm_kernels();
    d.gemv = d.dots ? k->sgemv_dots : k->sgemv_axpy;
    direct_run(&d, nthreads);
    return 0;
}

/* A few rows (2 <= M <= 4, float32) times a transposed matrix, op(B) = B^T with B stored
 * N x K (a Linear layer at batch 2-4): B is streamed once for all rows, unpacked. */
static int sgemm_small_m_path(const gemm_args *g, int nthreads)
{
    direct_job d = {0};
    d.g = g;
    d.m = g->M;
    d.n = g->N;
    d.ldy = (ptrdiff_t)round_up(d.n, 16);
    d.y = thread_workspace(WS_OWN, d.m * (size_t)d.ldy * sizeof(float));
    if (!d.y) return -1;
    d.ldc = g->ldc;
    d.incc = 1;
    d.bias_i = g->bias_kind == DL_BIAS_COL;
    d.bias_j = g->bias_kind == DL_BIAS_ROW;
    d.sums = small_dots_sums;
    d.x = g->A;
    d.ldx = g->lda;
    d.W = g->B;
    d.ldw = g->ldb;
    d.small_dots = gemm_kernels()->sgemm_small_dots;
    direct_run(&d, nthreads);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Small products (float32, one thread): A read in place, no packing of A.                     */

/* Products of at most this many multiply-adds (float32, one thread, AVX-512 or AVX2) take
 * sgemm_small_path.  Why a threshold: packing A costs a pass over it and a per-thread buffer,
 * which small products cannot amortise, while reading A in place touches MR rows (MR cache
 * lines, MR pages for a tall matrix) at every k step, which large products pay for in L1 and
 * TLB misses.  Measured on this machine (Zen 4, one thread, best of 1500-2000 calls through
 * _C.gemm, the two paths alternated twice), AVX-512: in place is 8-17% faster at 24x36x50,
 * 100x20x30, 48^3 and 14x200x32, 2-5% at 64^3 and 200x64x20 (256K), 1-2% slower at 96^3 and
 * 4-5% slower at 128^3: the crossover is near 64^3 = 2^18.  AVX2 (6 x 16 tile) gains 8-36% up
 * to 2^18, so the same bound serves it.  The portable kernel has no such path: read in place
 * it lost 10-70% (its packed loop is the one the compiler vectorizes). */
static const size_t GEMM_SMALL_MNK = (size_t)1 << 18;

/* The blocked product's tiles in row-panel order with A read where it is (transa == 0: row
 * stride lda; transa == 1: k stride lda) and B read in place, or (transb) packed one K block at
 * a time.  Each tile is the same kernel arithmetic as gemm_blocked's, with the same K blocks,
 * so the result is the same bits whichever path a product takes. */
static int sgemm_small_path(const gemm_args *g, const gemm_plan *p)
{
    const size_t KC = dl_gemm_k_block(p, g->K), MR = p->mr, NR = p->nr;
    float *bpack = NULL;
    if (g->transb) {
        bpack = thread_workspace(WS_OWN, round_up(g->N, NR) * KC * sizeof(float));
        if (!bpack) return -1;
    }
    const float *A = g->A, *B = g->B, *bias = g->bias;
    float *C = g->C;
    const ptrdiff_t ars = g->transa ? 1 : g->lda, acs = g->transa ? g->lda : 1;
    for (size_t pc = 0; pc < g->K; pc += KC) {
        const size_t kc = min_sz(KC, g->K - pc);
        const int last = pc + kc == g->K;
        dl_gemm_epi e = k_slice_epi(g, pc, kc);
        if (bpack) pack_b_f32(1, B, g->ldb, pc, kc, 0, g->N, NR, bpack, p);
        for (size_t i = 0; i < g->M; i += MR) {
            const size_t mr = min_sz(MR, g->M - i);
            const float *a = A + (ptrdiff_t)i * ars + (ptrdiff_t)pc * acs;
            e.bias_col = (last && g->bias_kind == DL_BIAS_COL) ? bias + i : NULL;
            for (size_t j = 0; j < g->N; j += NR) {
                const size_t nr = min_sz(NR, g->N - j);
                e.bias_row = (last && g->bias_kind == DL_BIAS_ROW) ? bias + j : NULL;
                if (bpack)
                    p->sa(kc, a, ars, acs, bpack + j * kc, (ptrdiff_t)NR, C + i * g->ldc + j,
                          g->ldc, mr, nr, &e);
                else
                    p->sa(kc, a, ars, acs, B + pc * g->ldb + j, g->ldb, C + i * g->ldc + j,
                          g->ldc, mr, nr, &e);
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Entry points.                                                                               */

/* at most one thread per GEMM_GRAIN multiply-adds (gemm_driver.h) */
int dl_gemm_auto_threads(size_t M, size_t N, size_t K, int cap)
{
#ifdef DL_HAVE_OPENMP
    if (omp_in_parallel()) return 1;
#endif
    if (cap <= 0) cap = dl_num_threads();
    size_t work = M * N;
    /* saturating: M*N*K may overflow size_t only for absurd sizes, but stay safe */
    work = K && work > SIZE_MAX / K ? SIZE_MAX : work * K;
    size_t useful = work / GEMM_GRAIN;
    if (useful < 1) useful = 1;
    return (size_t)cap < useful ? cap : (int)useful;
}

/* Plain triple loop with a float64 accumulator: only when the packing buffers cannot be
 * allocated (out of memory), so that the call still returns the right answer. */
static void gemm_unpacked(const gemm_args *g, int f64)
{
    for (size_t i = 0; i < g->M; i++) {
        for (size_t j = 0; j < g->N; j++) {
            double s = 0.0;
            for (size_t k = 0; k < g->K; k++) {
                size_t ia = g->transa ? k * g->lda + i : i * g->lda + k;
                size_t ib = g->transb ? j * g->ldb + k : k * g->ldb + j;
                s += f64 ? ((const double *)g->A)[ia] * ((const double *)g->B)[ib]
                         : (double)((const float *)g->A)[ia] * ((const float *)g->B)[ib];
            }
            size_t bi = g->bias_kind == DL_BIAS_ROW ? j : i;
            if (f64) {
                double *c = (double *)g->C + i * g->ldc + j;
                double b = g->bias_kind ? ((const double *)g->bias)[bi] : 0.0;
                *c = dl_epi_f64(s, c, g->alpha, g->beta, b, g->act);
            } else {
                float *c = (float *)g->C + i * g->ldc + j;
                float b = g->bias_kind ? ((const float *)g->bias)[bi] : 0.0f;
                *c = dl_epi_f32((float)s, c, (float)g->alpha, (float)g->beta, b, g->act);
            }
        }
    }
    if (g->post) g->post->fn(g->post->ctx, g->C, g->M, g->N, g->ldc);
}

/* K == 0: the product is empty, C = act(beta * C + bias); alpha is not applied to the empty
 * sum (an infinite alpha times no terms is 0, not NaN). */
static void gemm_empty_k(const gemm_args *g, int f64)
{
    gemm_args z = *g;
    z.alpha = 0.0;
    gemm_unpacked(&z, f64);
}

/* Read B in place when it is op(B) = B and packing would not pay: B small enough to stay in
 * cache anyway, or used by few row panels of A. */
static int want_pack_b(const gemm_args *g, const gemm_plan *p)
{
    return g->bpacker || g->transb || (g->M > 4 * p->mr && g->K * g->N > 32768);
}

/* One thread's whole product (or its share of one): packing buffers from its own cache;
 * B comes from `pb` instead when it is packed already (by the team, or in advance). */
int dl_gemm_single(const gemm_args *g, const gemm_plan *plan, const packed_b *pb)
{
    const gemm_plan p = *plan;
    const int f64 = p.f64;
    const size_t es = f64 ? sizeof(double) : sizeof(float);
    const int pack_b = !pb && want_pack_b(g, &p);
    const size_t kc = dl_gemm_k_block(&p, g->K);
    const size_t mc = round_up(even_block(g->M, p.mc, p.mr), p.mr);
    const size_t nc = round_up(even_block(g->N, p.nc, p.nr), p.nr);
    const size_t abytes = round_up(mc * kc * es, 64);
    const size_t bbytes = pack_b ? round_up(nc * kc * es, 64) : 0;
    char *ws = thread_workspace(WS_OWN, abytes + bbytes);
    if (!ws) {
        if (g->bpacker || g->apacker) return -1;   /* no operand to read in place */
        gemm_unpacked(g, f64);
        return 0;
    }
    gemm_blocked(g, &p, ws, pack_b ? ws + abytes : NULL, pb, NULL);
    return 0;
}

/* Pack this thread's share of every B block of the product into `pb` (the team splits the
 * NR-wide panels of each block). */
static void pack_b_team(const gemm_args *g, const gemm_plan *p, const packed_b *pb, int tid,
                        int nt)
{
    const size_t KC = dl_gemm_k_block(p, g->K), NC = even_block(g->N, p->nc, p->nr);
    for (size_t pc = 0; pc < g->K; pc += KC) {
        const size_t kc = min_sz(KC, g->K - pc);
        for (size_t jc = 0; jc < g->N; jc += NC) {
            const size_t nc = min_sz(NC, g->N - jc), pn = (nc + p->nr - 1) / p->nr;
            size_t q0, q1;
            share(pn, nt, tid, &q0, &q1);
            if (q0 >= q1) continue;
            char *dst = packed_panel(pb, p, pc, kc, jc / p->nr + q0);
            const size_t j0 = jc + q0 * p->nr, n = min_sz(nc, q1 * p->nr) - q0 * p->nr;
            if (p->f64)
                pack_b_f64(g->transb, g->B, g->ldb, pc, kc, j0, n, p->nr, 0, q1 - q0,
                           (double *)dst);
            else
                pack_b_f32(g->transb, g->B, g->ldb, pc, kc, j0, n, p->nr, (float *)dst, p);
        }
    }
}

void dl_gemm_pack_b_all(const gemm_plan *p, int transb, size_t K, size_t N, const float *B,
                        ptrdiff_t ldb, float *dst)
{
    const packed_b pb = {(char *)dst, (N + p->nr - 1) / p->nr, 0};
    const size_t KC = dl_gemm_k_block(p, K);
    for (size_t pc = 0; pc < K; pc += KC) {
        const size_t kc = min_sz(KC, K - pc);
        pack_b_f32(transb, B, ldb, pc, kc, 0, N, p->nr, (float *)packed_panel(&pb, p, pc, kc, 0),
                   p);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The team's product.  C's MR x NR tiles are numbered in one order, along each row panel or
 * down each column panel, and each thread takes one run of consecutive tiles of equal weight
 * (rows x columns computed), so a split may end inside a row or column panel: e.g. M = 256 at
 * two threads is 128 rows each, where whole 14-row panels could only give 140 / 116 (the
 * larger half 9% over the mean).  Every tile is computed exactly as on one thread (the same K
 * blocks, kernel and epilogue), so results do not depend on the thread count. */

static size_t panel_len(size_t q, size_t n, size_t R) { return min_sz(R, n - q * R); }

/* The first tile of run t of nt (t == nt: one past the last tile): the tile boundary nearest
 * to t/nt of the total weight.  Monotonic in t, so the runs tile the matrix exactly. */
static size_t tile_split(const gemm_args *g, const gemm_plan *p, const tile_order *o, int t,
                         int nt)
{
    const size_t nout = o->cols ? o->pn : o->pm, nin = o->cols ? o->pm : o->pn;
    if (t <= 0) return 0;
    if (t >= nt) return nout * nin;
    const size_t Rout = o->cols ? p->nr : p->mr, Rin = o->cols ? p->mr : p->nr;
    const size_t Lout = o->cols ? g->N : g->M, Lin = o->cols ? g->M : g->N;
    const double target = (double)Lout * (double)Lin * (double)t / (double)nt;
    double before = 0.0;
    size_t q = 0;
    for (; q < nout; q++) {
        const double w = (double)panel_len(q, Lout, Rout) * (double)Lin;
        if (before + w > target) break;
        before += w;
    }
    if (q == nout) return nout * nin;
    const double wq = (double)panel_len(q, Lout, Rout);
    size_t r = 0;
    for (; r < nin; r++) {
        const double w = wq * (double)panel_len(r, Lin, Rin);
        if (before + 0.5 * w > target) break;
        before += w;
    }
    return q * nin + r;
}

/* Tiles [t0, t1) when no packing buffer could be had (out of memory): one tile at a time by
 * gemm_unpacked, still the right answer. */
static void gemm_tiles_unpacked(const gemm_args *g, const gemm_plan *p, const tile_order *o,
                                size_t t0, size_t t1)
{
    const size_t es = p->f64 ? sizeof(double) : sizeof(float);
    for (size_t t = t0; t < t1; t++) {
        const size_t ir = o->cols ? t % o->pm : t / o->pn, jr = o->cols ? t / o->pm : t % o->pn;
        const size_t i0 = ir * p->mr, j0 = jr * p->nr;
        gemm_args sub = *g;
        sub.M = min_sz(p->mr, g->M - i0);
        sub.N = min_sz(p->nr, g->N - j0);
        sub.A = (const char *)g->A + (g->transa ? i0 : i0 * g->lda) * es;
        sub.B = (const char *)g->B + (g->transb ? j0 * g->ldb : j0) * es;
        sub.C = (char *)g->C + (i0 * g->ldc + j0) * es;
        if (g->bias_kind == DL_BIAS_ROW) sub.bias = (const char *)g->bias + j0 * es;
        if (g->bias_kind == DL_BIAS_COL) sub.bias = (const char *)g->bias + i0 * es;
        gemm_unpacked(&sub, p->f64);
    }
}

/* Threads: each thread computes one run of tiles (gemm_tiles).  Along rows, each thread packs
 * the A panels of its rows and all of B itself, or, when its rows are few, the team first
 * packs all of B once into a shared buffer (one barrier); down columns, each thread packs its
 * own B columns and all of A (or reads A in place), and never waits for another.  Beyond that
 * one barrier the only
 * synchronisation is the fork and the join: on a machine shared with other work, a thread
 * descheduled at a barrier costs every other thread a scheduler time slice. */
static void gemm_run(gemm_args *g, int f64, int nthreads)
{
    if (g->M == 0 || g->N == 0) return;
    if (g->bias == NULL) g->bias_kind = DL_BIAS_NONE;
    if (g->bias_kind == DL_BIAS_NONE) g->bias = NULL;
    if (g->K == 0) {
        gemm_empty_k(g, f64);
        return;
    }
    g->a_in_place = !f64;
    nthreads = dl_gemm_auto_threads(g->M, g->N, g->K, nthreads);
#ifndef DL_HAVE_OPENMP
    nthreads = 1;
#endif
    if (!f64 && (g->M == 1 || g->N == 1) && sgemv_path(g, nthreads) == 0) return;
    if (!f64 && g->M <= 4 && !g->transa && g->transb && sgemm_small_m_path(g, nthreads) == 0)
        return;
    /* one plan for the whole call (and every thread): set_isa from another thread must not
     * change the panel shapes half way */
    const gemm_plan p = plan_for(f64);
    if (p.sa && nthreads <= 1 && g->M * g->N <= GEMM_SMALL_MNK &&
        g->M * g->N * g->K <= GEMM_SMALL_MNK && sgemm_small_path(g, &p) == 0)
        return;
    if (nthreads <= 1) {
        dl_gemm_single(g, &p, NULL);
        return;
    }
    const size_t pm = (g->M + p.mr - 1) / p.mr, pn = (g->N + p.nr - 1) / p.nr;
    if ((size_t)nthreads > pm * pn) nthreads = (int)(pm * pn);
    /* Tiles numbered along rows (threads split M, every thread uses all of B, which the team
     * packs once) unless M is so much smaller than N that each thread packing all of A (the
     * smaller operand, M*K copies against M*N*K/nt multiply-adds) costs less than sharing B:
     * then down columns (threads split N, each packs only its own B columns, no barrier). */
    const tile_order o = {pm, pn, g->M * (size_t)nthreads <= g->N};
    const int pack_b = want_pack_b(g, &p);
    const size_t es = f64 ? sizeof(double) : sizeof(float);
    const size_t KC = dl_gemm_k_block(&p, g->K), NC = even_block(g->N, p.nc, p.nr);
    const size_t MC = even_block(g->M, p.mc, p.mr);

    /* Split along rows, each thread packs the B panels it uses itself, unless its rows are so
     * few that packing all of B would be most of its work: then the team packs B once.  On
     * Zen 3 the two threads are on different core complexes (a cache line moves between them in
     * ~200 ns, a MiB the other wrote reads at ~13 GB/s against ~47 GB/s from its own caches),
     * so the shared copy costs each thread its half packed into lines the other thread holds
     * and the other half read across, and the barrier; packing it all locally is cheaper.
     * Measured there (2 threads, calls of both ways interleaved, loaded machine): 256^3
     * 15-20% faster, 512^3 and 512x768x768 (B^T) 4-7%, 1024^3 and 2048^3 even or faster. */
    packed_b shared = {NULL, pn, 0};
    if (!o.cols && pack_b && g->M < (size_t)nthreads * GEMM_OWN_B_ROWS) {
        const size_t total = g->K * pn * p.nr * es;
        /* bounded: the buffer stays cached with the calling thread; beyond this each thread
         * packs the B panels it needs (for products this large that copy is cheap relative) */
        if (total <= ((size_t)16 << 20)) shared.p = thread_workspace(WS_SHARED, total);
    }
    const size_t abytes = round_up(round_up(MC, p.mr) * KC * es, 64);
    const size_t bbytes = pack_b && !shared.p ? round_up(round_up(NC, p.nr) * KC * es, 64) : 0;
#ifdef DL_HAVE_OPENMP
#pragma omp parallel num_threads(nthreads)
    {
        const int tid = omp_get_thread_num(), team = omp_get_num_threads();
        if (shared.p) {
            pack_b_team(g, &p, &shared, tid, team);
#pragma omp barrier
        }
        char *ws = thread_workspace(WS_OWN, abytes + bbytes);
        /* normally one run per thread; a smaller team than asked for (OMP_THREAD_LIMIT,
         * OMP_DYNAMIC) still computes every run */
        for (int part = tid; part < nthreads; part += team) {
            const size_t t0 = tile_split(g, &p, &o, part, nthreads);
            const size_t t1 = tile_split(g, &p, &o, part + 1, nthreads);
            if (t0 >= t1) continue;
            if (ws)
                gemm_tiles(g, &p, &o, t0, t1, ws, bbytes ? ws + abytes : NULL,
                           shared.p ? &shared : NULL, NULL);
            else
                gemm_tiles_unpacked(g, &p, &o, t0, t1);
        }
    }
#endif
}

void dl_sgemm_ex(int transa, int transb, size_t M, size_t N, size_t K, float alpha,
                 const float *A, ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta,
                 float *C, ptrdiff_t ldc, const float *bias, dl_bias_t bias_kind, dl_act_t act,
                 int nthreads)
{
    gemm_args g = {transa != 0, transb != 0, M, N, K, A, B, lda, ldb, ldc, C,
                   alpha, beta, bias, bias_kind, act};
    gemm_run(&g, 0, nthreads);
}

void dl_dgemm_ex(int transa, int transb, size_t M, size_t N, size_t K, double alpha,
                 const double *A, ptrdiff_t lda, const double *B, ptrdiff_t ldb, double beta,
                 double *C, ptrdiff_t ldc, const double *bias, dl_bias_t bias_kind,
                 dl_act_t act, int nthreads)
{
    gemm_args g = {transa != 0, transb != 0, M, N, K, A, B, lda, ldb, ldc, C,
                   alpha, beta, bias, bias_kind, act};
    gemm_run(&g, 1, nthreads);
}

void dl_sgemm(int transa, int transb, size_t M, size_t N, size_t K, float alpha,
              const float *A, ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta,
              float *C, ptrdiff_t ldc, const float *bias, dl_bias_t bias_kind, dl_act_t act)
{
    dl_sgemm_ex(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, bias_kind,
                act, 0);
}

void dl_dgemm(int transa, int transb, size_t M, size_t N, size_t K, double alpha,
              const double *A, ptrdiff_t lda, const double *B, ptrdiff_t ldb, double beta,
              double *C, ptrdiff_t ldc, const double *bias, dl_bias_t bias_kind, dl_act_t act)
{
    dl_dgemm_ex(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, bias_kind,
                act, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* A left operand packed once for several products (float32).                                 */

int dl_sgemm_pack_a(int transa, size_t M, size_t K, const float *A, ptrdiff_t lda,
                    dl_sgemm_packed_a *pa)
{
    pa->p = NULL;
    pa->transa = transa != 0;
    pa->M = M;
    pa->K = K;
    pa->A = A;
    pa->lda = lda;
    pa->isa = (int)dl_isa();
    if (M == 0 || K == 0) return -1;
    const gemm_plan p = dl_gemm_plan_for_isa(0, (dl_isa_t)pa->isa);
    const size_t rows = round_up(M, p.mr);
    if (K > SIZE_MAX / sizeof(float) / rows) return -1;
    pa->p = dl_alloc(rows * K * sizeof(float));
    if (!pa->p) return -1;
    /* the blocks gemm_blocked walks, in its order: block (pc, ic) at pc * rows + ic * kc;
     * threads take whole blocks (a copy: one thread per 64K elements is plenty) */
    const size_t KC = dl_gemm_k_block(&p, K), MC = even_block(M, p.mc, p.mr);
    const size_t nkb = (K + KC - 1) / KC, nmb = (M + MC - 1) / MC;
    int nt = 1;
#ifdef DL_HAVE_OPENMP
    if (!omp_in_parallel()) {
        const size_t useful = rows * K >> 16;
        nt = dl_num_threads();
        if ((size_t)nt > useful) nt = useful ? (int)useful : 1;
        if ((size_t)nt > nkb * nmb) nt = (int)(nkb * nmb);
    }
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
#endif
    for (ptrdiff_t b = 0; b < (ptrdiff_t)(nkb * nmb); b++) {
        const size_t pc = (size_t)b / nmb * KC, kc = min_sz(KC, K - pc);
        const size_t ic = (size_t)b % nmb * MC;
        pack_a_f32(pa->transa, A, lda, ic, min_sz(MC, M - ic), pc, kc, p.mr,
                   pa->p + pc * rows + ic * kc, &p);
    }
    return 0;
}

void dl_sgemm_packed_a_free(dl_sgemm_packed_a *pa)
{
    dl_free(pa->p);
    pa->p = NULL;
}

/* One thread's columns of a product with A packed in advance: only B is packed here. */
static void packed_a_single(const gemm_args *g, const gemm_plan *p, const float *apre)
{
    const size_t es = sizeof(float);
    const int pack_b = want_pack_b(g, p);
    const size_t kc = dl_gemm_k_block(p, g->K);
    const size_t nc = round_up(even_block(g->N, p->nc, p->nr), p->nr);
    char *ws = NULL;
    if (pack_b) {
        ws = thread_workspace(WS_OWN, round_up(nc * kc * es, 64));
        if (!ws) {
            gemm_unpacked(g, 0);
            return;
        }
    }
    gemm_blocked(g, p, NULL, ws, NULL, (const char *)apre);
}

void dl_sgemm_packed_run(const dl_sgemm_packed_a *pa, int transb, size_t N, float alpha,
                         const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc,
                         const float *bias, dl_bias_t bias_kind, dl_act_t act, int nthreads)
{
    if (!pa->p) {
        dl_sgemm_ex(pa->transa, transb, pa->M, N, pa->K, alpha, pa->A, pa->lda, B, ldb, beta, C,
                    ldc, bias, bias_kind, act, nthreads);
        return;
    }
    if (N == 0) return;
    gemm_args g = {pa->transa, transb != 0, pa->M, N, pa->K, pa->A, B, pa->lda, ldb, ldc, C,
                   alpha, beta, bias, bias_kind, act};
    if (g.bias == NULL) g.bias_kind = DL_BIAS_NONE;
    if (g.bias_kind == DL_BIAS_NONE) g.bias = NULL;
    const gemm_plan p = dl_gemm_plan_for_isa(0, (dl_isa_t)pa->isa);
    /* A is shared, so threads split the columns */
    const size_t pn = (N + p.nr - 1) / p.nr;
    int nt = dl_gemm_auto_threads(g.M, N, g.K, nthreads);
    if ((size_t)nt > pn) nt = (int)pn;
#ifndef DL_HAVE_OPENMP
    nt = 1;
#endif
    if (nt <= 1) {
        packed_a_single(&g, &p, pa->p);
        return;
    }
#ifdef DL_HAVE_OPENMP
#pragma omp parallel num_threads(nt)
    {
        const int tid = omp_get_thread_num(), team = omp_get_num_threads();
        size_t c0, c1;
        share(pn, team, tid, &c0, &c1);
        const size_t j0 = c0 * p.nr, j1 = min_sz(c1 * p.nr, N);
        if (j0 < j1) {
            gemm_args sub = g;
            sub.N = j1 - j0;
            sub.B = B + (g.transb ? (ptrdiff_t)j0 * ldb : (ptrdiff_t)j0);
            sub.C = C + j0;
            if (g.bias_kind == DL_BIAS_ROW) sub.bias = bias + j0;
            packed_a_single(&sub, &p, pa->p);
        }
    }
#endif
}

/* Batched: when each product is too small to split, the batch itself is split between
 * threads (each product on one thread); otherwise products run one after another, each using
 * every thread. */
static int batch_threads(size_t M, size_t N, size_t K, size_t batch)
{
    if (batch < 2 || dl_gemm_auto_threads(M, N, K, 0) > 1) return 1;
    /* the whole batch as one piece of work: M x N x (K * batch), saturating */
    size_t kb = K && batch > SIZE_MAX / K ? SIZE_MAX : K * batch;
    int nt = dl_gemm_auto_threads(M, N, kb, 0);
    return (size_t)nt < batch ? nt : (int)batch;
}

/* Product b of a strided batch (float32 or float64 by f64), on `nthreads` as dl_sgemm_ex. */
static void batch_item(int f64, int transa, int transb, size_t M, size_t N, size_t K,
                       double alpha, const void *A, ptrdiff_t lda, ptrdiff_t stride_a,
                       const void *B, ptrdiff_t ldb, ptrdiff_t stride_b, double beta, void *C,
                       ptrdiff_t ldc, ptrdiff_t stride_c, size_t b, int nthreads)
{
    const ptrdiff_t es = f64 ? (ptrdiff_t)sizeof(double) : (ptrdiff_t)sizeof(float);
    const ptrdiff_t ib = (ptrdiff_t)b;
    gemm_args g = {transa != 0, transb != 0, M, N, K,
                   (const char *)A + ib * stride_a * es, (const char *)B + ib * stride_b * es,
                   lda, ldb, ldc, (char *)C + ib * stride_c * es,
                   alpha, beta, NULL, DL_BIAS_NONE, DL_ACT_NONE};
    gemm_run(&g, f64, nthreads);
}

static void gemm_batched(int f64, int transa, int transb, size_t M, size_t N, size_t K,
                         double alpha, const void *A, ptrdiff_t lda, ptrdiff_t stride_a,
                         const void *B, ptrdiff_t ldb, ptrdiff_t stride_b, double beta, void *C,
                         ptrdiff_t ldc, ptrdiff_t stride_c, size_t batch)
{
    int nt = batch_threads(M, N, K, batch);
    if (nt <= 1) {
        for (size_t b = 0; b < batch; b++)
            batch_item(f64, transa, transb, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b,
                       beta, C, ldc, stride_c, b, 0);
        return;
    }
#ifdef DL_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (ptrdiff_t b = 0; b < (ptrdiff_t)batch; b++)
        batch_item(f64, transa, transb, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b,
                   beta, C, ldc, stride_c, (size_t)b, 1);
}

void dl_sgemm_batched(int transa, int transb, size_t M, size_t N, size_t K, float alpha,
                      const float *A, ptrdiff_t lda, ptrdiff_t stride_a,
                      const float *B, ptrdiff_t ldb, ptrdiff_t stride_b, float beta,
                      float *C, ptrdiff_t ldc, ptrdiff_t stride_c, size_t batch)
{
    gemm_batched(0, transa, transb, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C,
                 ldc, stride_c, batch);
}

void dl_dgemm_batched(int transa, int transb, size_t M, size_t N, size_t K, double alpha,
                      const double *A, ptrdiff_t lda, ptrdiff_t stride_a,
                      const double *B, ptrdiff_t ldb, ptrdiff_t stride_b, double beta,
                      double *C, ptrdiff_t ldc, ptrdiff_t stride_c, size_t batch)
{
    gemm_batched(1, transa, transb, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C,
                 ldc, stride_c, batch);
}
