/* Products by a right operand packed once (see dlcore/gemm_prepacked.h): gemm.c's blocked
 * loop nest, micro-kernels and epilogue (gemm_driver.h) reading B from panels packed in
 * advance in its packed_b layout.
 *
 * A call packs only A, per thread, into that thread's GEMM workspace (kept between calls: a
 * fresh page costs ~1.7 us to fault in here).  Threads split the MR x NR tiles of C on a grid:
 * with B packed already there is no shared pack and no barrier, and a split along N (each
 * thread packs all of A, which is small next to its share of B) balances the few row tiles of
 * a batch-1 transformer (64 rows: 5 tiles of 14) that a split along M cannot. */
#include <stdlib.h>
#include "dlcore/gemm_prepacked.h"
#include "dlcore/runtime.h"
#include "gemm_driver.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

/* products this short read B as given (gemm.c's matrix-vector and few-row paths) */
enum { PP_DIRECT_MAX_M = 4 };

struct dl_sgemm_packed_b {
    float *p;
    size_t K, N, np;              /* np: column panels */
    dl_isa_t isa;                 /* the ISA the panels were packed for */
    int transb;
    const float *B;
    ptrdiff_t ldb;
};

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

dl_sgemm_packed_b *dl_sgemm_pack_b(int transb, size_t K, size_t N, const float *B,
                                   ptrdiff_t ldb)
{
    if (K == 0 || N == 0 || !B) return NULL;
    dl_sgemm_packed_b *pb = calloc(1, sizeof(*pb));
    if (!pb) return NULL;
    pb->isa = dl_isa();
    const gemm_plan p = dl_gemm_plan_for_isa(0, pb->isa);
    pb->K = K;
    pb->N = N;
    pb->np = (N + p.nr - 1) / p.nr;
    pb->transb = transb;
    pb->B = B;
    pb->ldb = ldb;
    pb->p = dl_alloc(K * pb->np * p.nr * sizeof(float));
    if (!pb->p) {
        free(pb);
        return NULL;
    }
    dl_gemm_pack_b_all(&p, transb, K, N, B, ldb, pb->p);
    return pb;
}

void dl_sgemm_packed_b_free(dl_sgemm_packed_b *pb)
{
    if (!pb) return;
    dl_free(pb->p);
    free(pb);
}

/* Channel-major op(A) (dl_sgemm_cm_a) packed for the blocked loop nest: its rows [i0, i0 + m)
 * (counted from row0, the first row of this thread's part) as MR-row panels.  The panels inside
 * one block are a copy of MR consecutive floats per k, the ISA's pack_n (the copy that packs a
 * transposed A); a panel across two blocks (two images) is gathered element by element. */
typedef struct {
    const dl_sgemm_cm_a *a;
    size_t row0;
    const gemm_plan *p;
} cm_ctx;

static void pack_cm(const void *ctx, size_t k0, size_t kc, size_t i0, size_t m, size_t R,
                    float *dst)
{
    const cm_ctx *c = ctx;
    const dl_sgemm_cm_a *a = c->a;
    const size_t np = (m + R - 1) / R;
    i0 += c->row0;
    for (size_t q = 0; q < np;) {
        const size_t r = i0 + q * R, off = r % a->seg, left = m - q * R;
        const float *blk = a->A + (ptrdiff_t)(r / a->seg) * a->gstride + (ptrdiff_t)k0 * a->lda;
        const size_t here = min_sz(a->seg - off, left);
        /* whole panels in this block, and the last (partial) panel when the rows end here */
        const size_t n = here == left ? here : here / R * R;
        if (n) {
            if (c->p->pack_n) {
                c->p->pack_n(blk + off, a->lda, n, kc, R, dst + q * R * kc);
            } else {
                for (size_t k = 0; k < kc; k++)
                    for (size_t j = 0; j < (n + R - 1) / R * R; j++)
                        dst[(q + j / R) * R * kc + k * R + j % R] =
                            j < n ? blk[(ptrdiff_t)k * a->lda + (ptrdiff_t)(off + j)] : 0.0f;
            }
            q += (n + R - 1) / R;
            continue;
        }
        float *d = dst + q * R * kc;
        const float *src[16];
        for (size_t i = 0; i < R; i++) {
            const size_t ri = r + i;
            src[i] = i < left ? a->A + (ptrdiff_t)(ri / a->seg) * a->gstride +
                                    (ptrdiff_t)k0 * a->lda + (ptrdiff_t)(ri % a->seg)
                              : NULL;
        }
        for (size_t k = 0; k < kc; k++)
            for (size_t i = 0; i < R; i++)
                d[k * R + i] = src[i] ? src[i][(ptrdiff_t)k * a->lda] : 0.0f;
        q++;
    }
}

/* Rows [i0, i1) by column panels [q0, q1) of C on the calling thread; -1 when op(A) is
 * channel-major and no packing buffer can be had (nothing written then). */
static int block_run(const gemm_args *g, const gemm_plan *p, const dl_sgemm_packed_b *pb,
                     const dl_sgemm_cm_a *cm, size_t i0, size_t i1, size_t q0, size_t q1)
{
    const size_t j0 = q0 * p->nr, j1 = min_sz(q1 * p->nr, g->N);
    gemm_args sub = *g;
    sub.M = i1 - i0;
    sub.N = j1 - j0;
    sub.A = (const float *)g->A + i0 * g->lda;
    sub.B = (const float *)g->B + (g->transb ? j0 * g->ldb : j0);
    sub.C = (float *)g->C + i0 * g->ldc + j0;
    if (g->bias_kind == DL_BIAS_ROW) sub.bias = (const float *)g->bias + j0;
    if (g->bias_kind == DL_BIAS_COL) sub.bias = (const float *)g->bias + i0;
    const cm_ctx ctx = {cm, i0, p};
    const gemm_apacker ap = {pack_cm, &ctx};
    if (cm) {
        sub.A = NULL;
        sub.apacker = &ap;
    }
    const packed_b view = {(char *)pb->p, pb->np, q0};
    return dl_gemm_single(&sub, p, &view);
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

/* The product with op(A) row-major (cm NULL: A, lda) or channel-major (cm). */
static int run(const dl_sgemm_packed_b *pb, size_t M, size_t N, size_t K, float alpha,
               const float *A, ptrdiff_t lda, const dl_sgemm_cm_a *cm, float beta, float *C,
               ptrdiff_t ldc, const float *bias, dl_bias_t bias_kind, dl_act_t act,
               const dl_gemm_post *post, int nthreads)
{
    if (!pb || N != pb->N || K != pb->K) return -1;
    if (!bias) bias_kind = DL_BIAS_NONE;
    if (M == 0) return 0;
    if (M <= PP_DIRECT_MAX_M) {
        if (!cm) {
            dl_sgemm_ex(0, pb->transb, M, N, K, alpha, A, lda, pb->B, pb->ldb, beta, C, ldc,
                        bias, bias_kind, act, nthreads);
        } else {
            /* each block's rows as a transposed A */
            for (size_t r = 0; r < M;) {
                const size_t off = r % cm->seg, m = min_sz(cm->seg - off, M - r);
                dl_sgemm_ex(1, pb->transb, m, N, K, alpha,
                            cm->A + (ptrdiff_t)(r / cm->seg) * cm->gstride + (ptrdiff_t)off,
                            cm->lda, pb->B, pb->ldb, beta, C + (ptrdiff_t)r * ldc, ldc,
                            bias_kind == DL_BIAS_COL ? bias + r : bias, bias_kind, act,
                            nthreads);
                r += m;
            }
        }
        if (post) post->fn(post->ctx, C, M, N, ldc);
        return 0;
    }
    const gemm_args g = {0, pb->transb, M, N, K, A, pb->B, lda, pb->ldb, ldc, C, alpha, beta,
                         bias, bias_kind, act, post};
    const gemm_plan p = dl_gemm_plan_for_isa(0, pb->isa);
    const size_t mr = p.mr, pm = (M + mr - 1) / mr;
    int nt = dl_gemm_auto_threads(M, N, K, nthreads), tm = 1, tn = 1;
#ifndef DL_HAVE_OPENMP
    nt = 1;
#endif
    if (nt <= 1) return block_run(&g, &p, pb, cm, 0, M, 0, pb->np);
    int rc = 0;
    grid(pm, pb->np, nt, &tm, &tn);
#ifdef DL_HAVE_OPENMP
    #pragma omp parallel num_threads(tm * tn) reduction(min : rc)
    {
        const int tid = omp_get_thread_num(), team = omp_get_num_threads();
        /* normally one part per thread; a smaller team than asked for still does all */
        for (int part = tid; part < tm * tn; part += team) {
            const size_t a = (size_t)(part / tn), b = (size_t)(part % tn);
            const size_t r0 = pm * a / (size_t)tm, r1 = pm * (a + 1) / (size_t)tm;
            const size_t q0 = pb->np * b / (size_t)tn, q1 = pb->np * (b + 1) / (size_t)tn;
            const size_t i0 = r0 * mr, i1 = min_sz(r1 * mr, M);
            if (i0 < i1 && q0 < q1 && block_run(&g, &p, pb, cm, i0, i1, q0, q1) != 0) rc = -1;
        }
    }
#endif
    return rc;
}

int dl_sgemm_packed_b_run(const dl_sgemm_packed_b *pb, size_t M, size_t N, size_t K,
                          float alpha, const float *A, ptrdiff_t lda, float beta, float *C,
                          ptrdiff_t ldc, const float *bias, dl_bias_t bias_kind, dl_act_t act,
                          const dl_gemm_post *post, int nthreads)
{
    /* row-major A: the blocked loop reads A in place when it finds no packing buffer */
    return run(pb, M, N, K, alpha, A, lda, NULL, beta, C, ldc, bias, bias_kind, act, post,
               nthreads) ? -1 : 0;
}

int dl_sgemm_packed_b_run_cm(const dl_sgemm_packed_b *pb, size_t M, size_t N, size_t K,
                             float alpha, const dl_sgemm_cm_a *a, float beta, float *C,
                             ptrdiff_t ldc, const float *bias, dl_bias_t bias_kind,
                             dl_act_t act, const dl_gemm_post *post, int nthreads)
{
    if (!a || !a->A || a->seg == 0) return -1;
    return run(pb, M, N, K, alpha, NULL, 0, a, beta, C, ldc, bias, bias_kind, act, post,
               nthreads);
}
