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

/* Rows [i0, i1) by column panels [q0, q1) of C on the calling thread. */
static void block_run(const gemm_args *g, const gemm_plan *p, const dl_sgemm_packed_b *pb,
                      size_t i0, size_t i1, size_t q0, size_t q1)
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
    const packed_b view = {(char *)pb->p, pb->np, q0};
    dl_gemm_single(&sub, p, &view);
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
    const gemm_args g = {0, pb->transb, M, N, K, A, pb->B, lda, pb->ldb, ldc, C, alpha, beta,
                         bias, bias_kind, act, post};
    const gemm_plan p = dl_gemm_plan_for_isa(0, pb->isa);
    const size_t mr = p.mr, pm = (M + mr - 1) / mr;
    int nt = dl_gemm_auto_threads(M, N, K, nthreads), tm = 1, tn = 1;
#ifndef DL_HAVE_OPENMP
    nt = 1;
#endif
    if (nt <= 1) {
        block_run(&g, &p, pb, 0, M, 0, pb->np);
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
                if (i0 < i1 && q0 < q1) block_run(&g, &p, pb, i0, i1, q0, q1);
            }
        }
#endif
    }
    return 0;
}
