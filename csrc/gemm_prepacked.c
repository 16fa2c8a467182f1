/* Products by a right operand packed once (see dlcore/gemm_prepacked.h), on the GEMM family's
 * micro-kernels (gemm_kernels.h) with gemm.c's blocking and packed-panel layout.
 *
 * Packed layout: op(B) in K blocks of KC rows (evened out as gemm.c does); block b holds all
 * ceil(N / NR) column panels, panel q at b*KC*NP*NR + q*NR*kc, row k of it at + k*NR (zero
 * past column N), so a thread reads exactly the panels of its columns.
 *
 * A call packs only A, per thread, into a buffer kept by that thread between calls (a fresh
 * page costs ~1.7 us to fault in here).  Threads split the MR x NR tiles of C on a grid: with B
 * packed already there is no shared pack and no barrier, and a split along N (each thread
 * packs all of A, which is small next to its share of B) balances the few row tiles of a
 * batch-1 transformer (64 rows: 5 tiles of 14) that a split along M cannot. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dlcore/gemm_prepacked.h"
#include "dlcore/runtime.h"
#include "gemm_kernels.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

/* gemm.c's blocking: K blocks of 256, column blocks of 512, row blocks of ~2016 */
enum { PP_KC = 256, PP_NC = 512, PP_MC = 2016 };
/* multiply-adds per thread below which a product stays on one thread (gemm.c's grain) */
static const size_t PP_GRAIN = (size_t)1 << 18;
/* products this short read B as given (gemm.c's matrix-vector and few-row paths) */
enum { PP_DIRECT_MAX_M = 4 };

struct dl_sgemm_packed_b {
    float *p;
    size_t K, N, kc, np;          /* kc: the (evened) K block; np: column panels */
    const gemm_kernels_t *k;      /* the ISA the panels were packed for */
    int transb;
    const float *B;
    ptrdiff_t ldb;
};

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }
static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

static size_t even_block(size_t n, size_t blk, size_t unit)
{
    size_t nb = (n + blk - 1) / blk;
    return min_sz(blk, round_up((n + nb - 1) / nb, unit));
}

/* dst[k*R + i] = src[i*ld + k] for i < r, k < kc; zero for r <= i < R. */
static void pack_t_portable(const float *src, ptrdiff_t ld, size_t r, size_t kc, size_t R,
                            float *dst)
{
    for (size_t k0 = 0; k0 < kc; k0 += 16) {
        const size_t k1 = min_sz(kc, k0 + 16);
        for (size_t i = 0; i < r; i++)
            for (size_t k = k0; k < k1; k++) dst[k * R + i] = src[i * ld + k];
        for (size_t i = r; i < R; i++)
            for (size_t k = k0; k < k1; k++) dst[k * R + i] = 0.0f;
    }
}

static void pack_t(const gemm_kernels_t *k, const float *src, ptrdiff_t ld, size_t r,
                   size_t kc, size_t R, float *dst)
{
    if (k->pack_t) k->pack_t(src, ld, r, kc, R, dst);
    else pack_t_portable(src, ld, r, kc, R, dst);
}

dl_sgemm_packed_b *dl_sgemm_pack_b(int transb, size_t K, size_t N, const float *B,
                                   ptrdiff_t ldb)
{
    if (K == 0 || N == 0 || !B) return NULL;
    dl_sgemm_packed_b *pb = calloc(1, sizeof(*pb));
    if (!pb) return NULL;
    pb->k = gemm_kernels();
    const size_t nr = pb->k->snr;
    pb->K = K;
    pb->N = N;
    pb->kc = even_block(K, PP_KC, 8);
    pb->np = (N + nr - 1) / nr;
    pb->transb = transb;
    pb->B = B;
    pb->ldb = ldb;
    pb->p = dl_alloc(K * pb->np * nr * sizeof(float));
    if (!pb->p) {
        free(pb);
        return NULL;
    }
    for (size_t pc = 0; pc < K; pc += pb->kc) {
        const size_t kc = min_sz(pb->kc, K - pc);
        float *blk = pb->p + pc * pb->np * nr;
        for (size_t q = 0; q < pb->np; q++) {
            const size_t j0 = q * nr, w = min_sz(nr, N - j0);
            float *d = blk + q * nr * kc;
            if (transb) {  /* op(B)(k, j) = B[j*ldb + k]: a transpose of w rows of B */
                pack_t(pb->k, B + j0 * ldb + pc, ldb, w, kc, nr, d);
                continue;
            }
            for (size_t k = 0; k < kc; k++) {
                const float *s = B + (pc + k) * ldb + j0;
                size_t j = 0;
                for (; j < w; j++) d[k * nr + j] = s[j];
                for (; j < nr; j++) d[k * nr + j] = 0.0f;
            }
        }
    }
    return pb;
}

void dl_sgemm_packed_b_free(dl_sgemm_packed_b *pb)
{
    if (!pb) return;
    dl_free(pb->p);
    free(pb);
}

/* ------------------------------------------------------------------ per-thread A buffer */
typedef struct {
    void *p;
    size_t bytes;
} pp_ws;

static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;

static void ws_destroy(void *w_)
{
    pp_ws *w = w_;
    dl_free(w->p);
    free(w);
}

static void ws_make_key(void) { (void)pthread_key_create(&ws_key, ws_destroy); }

static float *thread_buffer(size_t bytes)
{
    (void)pthread_once(&ws_once, ws_make_key);
    pp_ws *w = pthread_getspecific(ws_key);
    if (!w) {
        w = calloc(1, sizeof(*w));
        if (!w) return NULL;
        if (pthread_setspecific(ws_key, w) != 0) {
            free(w);
            return NULL;
        }
    }
    if (w->bytes < bytes) {
        dl_free(w->p);
        w->p = dl_alloc(bytes);
        w->bytes = w->p ? bytes : 0;
    }
    return w->p;
}

/* ------------------------------------------------------------------ the product */
typedef struct {
    const dl_sgemm_packed_b *pb;
    size_t M;
    const float *A;
    ptrdiff_t lda;
    float *C;
    ptrdiff_t ldc;
    float alpha, beta;
    const float *bias;
    dl_bias_t bias_kind;
    dl_act_t act;
    const dl_gemm_post *post;
} pp_args;

/* Rows [i0, i1) by column panels [q0, q1) of C on the calling thread. */
static void block_run(const pp_args *g, size_t i0, size_t i1, size_t q0, size_t q1)
{
    const dl_sgemm_packed_b *pb = g->pb;
    const gemm_kernels_t *k = pb->k;
    const size_t mr = k->smr, nr = k->snr, K = pb->K, N = pb->N;
    const size_t MC = even_block(i1 - i0, mr * (PP_MC / mr), mr);
    const size_t NCP = PP_NC / nr;  /* panels per column block */
    float *ap = thread_buffer(round_up(MC, mr) * pb->kc * sizeof(float));
    if (!ap) {  /* out of memory for the A buffer: the unpacked product of this block */
        const size_t j0 = q0 * nr, j1 = min_sz(q1 * nr, N);
        const float *bias = g->bias_kind == DL_BIAS_ROW ? g->bias + j0
                            : g->bias_kind == DL_BIAS_COL ? g->bias + i0 : NULL;
        dl_sgemm_ex(0, pb->transb, i1 - i0, j1 - j0, K, g->alpha, g->A + i0 * g->lda, g->lda,
                    pb->transb ? pb->B + j0 * pb->ldb : pb->B + j0, pb->ldb, g->beta,
                    g->C + i0 * g->ldc + j0, g->ldc, bias, g->bias_kind, g->act, 1);
        if (g->post) g->post->fn(g->post->ctx, g->C + i0 * g->ldc + j0, i1 - i0, j1 - j0, g->ldc);
        return;
    }
    for (size_t pc = 0; pc < K; pc += pb->kc) {
        const size_t kc = min_sz(pb->kc, K - pc);
        const int first = pc == 0, last = pc + kc == K;
        const float *blk = pb->p + pc * pb->np * nr;
        dl_gemm_epi e;
        e.alpha = g->alpha;
        e.beta = first ? g->beta : 1.0;
        e.act = last ? (int)g->act : DL_ACT_NONE;
        for (size_t ic = i0; ic < i1; ic += MC) {
            const size_t mc = min_sz(MC, i1 - ic), pm = (mc + mr - 1) / mr;
            for (size_t t = 0; t < pm; t++)
                pack_t(k, g->A + (ic + t * mr) * g->lda + pc, g->lda, min_sz(mr, mc - t * mr),
                       kc, mr, ap + t * mr * kc);
            for (size_t jc = q0; jc < q1; jc += NCP) {
                const size_t jq1 = min_sz(q1, jc + NCP);
                for (size_t t = 0; t < pm; t++) {
                    const size_t i = ic + t * mr, m = min_sz(mr, i1 - i);
                    e.bias_col = last && g->bias_kind == DL_BIAS_COL ? g->bias + i : NULL;
                    for (size_t q = jc; q < jq1; q++) {
                        const size_t j = q * nr, n = min_sz(nr, N - j);
                        e.bias_row = last && g->bias_kind == DL_BIAS_ROW ? g->bias + j : NULL;
                        k->sgemm(kc, ap + t * mr * kc, blk + q * nr * kc, (ptrdiff_t)nr,
                                 g->C + i * g->ldc + j, g->ldc, m, n, &e);
                    }
                    if (last && g->post)  /* this strip of C is final and still in cache */
                        g->post->fn(g->post->ctx, g->C + i * g->ldc + jc * nr, m,
                                    min_sz(jq1 * nr, N) - jc * nr, g->ldc);
                }
            }
        }
    }
}

/* tm x tn threads over pm x pn tiles, the grid with the smallest largest share (ties: the
 * split along N, whose threads each keep only their share of B in cache). */
static void grid(size_t pm, size_t pn, int nt, int *tm, int *tn)
{
    size_t best = (size_t)-1;
    *tm = nt;
    *tn = 1;
    for (int b = nt; b >= 1; b--) {
        if (nt % b) continue;
        const int a = nt / b;
        const size_t cost = ((pm + a - 1) / a) * ((pn + b - 1) / b);
        if (cost < best) {
            best = cost;
            *tm = a;
            *tn = b;
        }
    }
}

static int threads_for(size_t M, size_t N, size_t K, int cap)
{
#ifdef DL_HAVE_OPENMP
    if (omp_in_parallel()) return 1;
#else
    return 1;
#endif
    if (cap <= 0) cap = dl_num_threads();
    const size_t work = M * N > SIZE_MAX / K ? SIZE_MAX : M * N * K;
    size_t useful = work / PP_GRAIN;
    if (useful < 1) useful = 1;
    return (size_t)cap < useful ? cap : (int)useful;
}

int dl_sgemm_packed_b_run(const dl_sgemm_packed_b *pb, size_t M, size_t N, size_t K,
                          float alpha, const float *A, ptrdiff_t lda, float beta, float *C,
                          ptrdiff_t ldc, const float *bias, dl_bias_t bias_kind, dl_act_t act,
                          const dl_gemm_post *post, int nthreads)
{
    if (!pb || N != pb->N || K != pb->K) return -1;
    if (!bias) bias_kind = DL_BIAS_NONE;
    if (M == 0) return 0;
    if (M <= PP_DIRECT_MAX_M) {
        dl_sgemm_ex(0, pb->transb, M, N, K, alpha, A, lda, pb->B, pb->ldb, beta, C, ldc, bias,
                    bias_kind, act, nthreads);
        if (post) post->fn(post->ctx, C, M, N, ldc);
        return 0;
    }
    const pp_args g = {pb, M, A, lda, C, ldc, alpha, beta, bias, bias_kind, act, post};
    const size_t mr = pb->k->smr, pm = (M + mr - 1) / mr;
    int nt = threads_for(M, N, K, nthreads), tm = 1, tn = 1;
    if (nt <= 1) {
        block_run(&g, 0, M, 0, pb->np);
    } else {
        grid(pm, pb->np, nt, &tm, &tn);
#ifdef DL_HAVE_OPENMP
        #pragma omp parallel num_threads(tm * tn)
        {
            const int tid = omp_get_thread_num(), team = omp_get_num_threads();
            /* normally one part per thread; a smaller team than asked for still does all */
            for (int part = tid; part < tm * tn; part += team) {
                const size_t a = (size_t)(part / tn), b = (size_t)(part % tn);
                const size_t r0 = pm * a / (size_t)tm, r1 = pm * (a + 1) / (size_t)tm;
                const size_t q0 = pb->np * b / (size_t)tn, q1 = pb->np * (b + 1) / (size_t)tn;
                const size_t i0 = r0 * mr, i1 = min_sz(r1 * mr, M);
                if (i0 < i1 && q0 < q1) block_run(&g, i0, i1, q0, q1);
            }
        }
#endif
    }
    return 0;
}
