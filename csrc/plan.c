/* The inference executor (see dlcore/plan.h): plan storage, the per-call arena pool, and the
 * step loop that calls the engine's public kernels with sizes fixed at planning time. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dlcore/act.h"
#include "dlcore/affinity.h"
#include "dlcore/attention.h"
#include "dlcore/batchnorm.h"
#include "dlcore/conv.h"
#include "dlcore/gemm.h"
#include "dlcore/gemm_prepacked.h"
#include "dlcore/layernorm.h"
#include "dlcore/plan.h"
#include "dlcore/pool.h"
#include "dlcore/rnn.h"
#include "dlcore/runtime.h"
#include "layernorm_kernels.h"
#include "plan_dw_cblock_table.h"
#include "plan_kernels.h"
#include "plan_mbconv.h"
#include "plan_pointwise.h"
#include "plan_shared.h"
#include "plan_winograd.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

int dl_plan_conv_pack(const int64_t *i, const float *w, dl_sgemm_packed_a *pa);
void dl_plan_conv_unpack(dl_sgemm_packed_a *pa);
void dl_plan_conv_gemm(const int64_t *i, const double *f, const dl_sgemm_packed_a *pa,
                       const float *x, const float *bias, float *y, float *col);
dl_sgemm_packed_b *dl_plan_conv_pack_t(const int64_t *i, const float *w);
void dl_plan_conv_gemm_t(const int64_t *i, const double *f, const dl_sgemm_packed_b *pb,
                         const float *x, const float *bias, float *y, float *col);
float *dl_plan_direct_pack(const int64_t *i, const float *w);

/* the RNN step's weights packed once (rnn_packed.c) */
typedef struct dl_rnn_packed dl_rnn_packed;
dl_rnn_packed *dl_rnn_pack_f32(int mode, int form, size_t I, size_t H, size_t P,
                               const float *w_ih, const float *w_hh);
void dl_rnn_packed_free(dl_rnn_packed *pk);
int dl_rnn_forward_packed_f32(const dl_rnn_desc *d, const dl_rnn_packed *pk, const float *x,
                              ptrdiff_t ldx, const float *b_x, const float *b_h, const float *h0,
                              const float *c0, float *out, ptrdiff_t ldo, float *hn, float *cn,
                              float *work);

struct dl_plan {
    int nsteps, nslots;
    dl_plan_step *steps;
    dl_plan_slot *slots;
    dl_sgemm_packed_a *packed;  /* per step: CONV_GEMM weights packed at creation */
    dl_rnn_packed **rnn_packed; /* per step: RNN weights packed at creation (i[9] != 0) */
    dl_sgemm_packed_b **gemm_b; /* per step: a GEMM's constant B packed at creation */
    float **direct;             /* per step: CONV_DIRECT weights packed at creation */
    dl_plan_wino *wino;         /* per step: a Winograd CONV's filters transformed at creation */
    unsigned char *team;        /* per step: 1 if it may use the thread team (plan_team.c) */
    dl_plan_mbconv_packed **mb; /* per step: an MBCONV step's weights packed at creation */
    size_t arena_bytes;
    pthread_mutex_t lock;
    char **pool;          /* arenas of finished calls, reused by the next ones */
    int npool, cap;
};

/* A single (unbatched) product by a constant B, A not transposed and more rows than the
 * direct few-row paths take (dlcore/gemm_prepacked.h): B packed once, not on every call. */
static dl_sgemm_packed_b *gemm_pack_b(const dl_plan_step *s, const dl_plan_slot *slots)
{
    const int64_t *i = s->i;
    int64_t total = 1;
    for (int d = 0; d < (int)i[10]; d++) total *= i[11 + d];
    if (s->slot[1] < 0 || slots[s->slot[1]].kind != DL_SLOT_CONST || i[0] != 0 || total != 1
        || i[2] <= 4)
        return NULL;
    return dl_sgemm_pack_b((int)i[1], (size_t)i[4], (size_t)i[3],
                           (const float *)((const char *)slots[s->slot[1]].ptr + s->off[1]),
                           (ptrdiff_t)i[6]);
}

dl_plan *dl_plan_new(int nsteps, const dl_plan_step *steps, int nslots,
                     const dl_plan_slot *slots, size_t arena_bytes)
{
    dl_plan *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->steps = malloc(sizeof(dl_plan_step) * (size_t)(nsteps > 0 ? nsteps : 1));
    p->slots = malloc(sizeof(dl_plan_slot) * (size_t)(nslots > 0 ? nslots : 1));
    if (!p->steps || !p->slots) {
        free(p->steps);
        free(p->slots);
        free(p);
        return NULL;
    }
    if (nsteps) memcpy(p->steps, steps, sizeof(dl_plan_step) * (size_t)nsteps);
    if (nslots) memcpy(p->slots, slots, sizeof(dl_plan_slot) * (size_t)nslots);
    p->nsteps = nsteps;
    p->nslots = nslots;
    p->arena_bytes = arena_bytes;
    p->packed = calloc((size_t)(nsteps > 0 ? nsteps : 1), sizeof(dl_sgemm_packed_a));
    p->rnn_packed = calloc((size_t)(nsteps > 0 ? nsteps : 1), sizeof(dl_rnn_packed *));
    p->gemm_b = calloc((size_t)(nsteps > 0 ? nsteps : 1), sizeof(dl_sgemm_packed_b *));
    p->direct = calloc((size_t)(nsteps > 0 ? nsteps : 1), sizeof(float *));
    p->wino = calloc((size_t)(nsteps > 0 ? nsteps : 1), sizeof(dl_plan_wino));
    p->team = calloc((size_t)(nsteps > 0 ? nsteps : 1), 1);
    p->mb = calloc((size_t)(nsteps > 0 ? nsteps : 1), sizeof(dl_plan_mbconv_packed *));
    if (!p->packed || !p->rnn_packed || !p->gemm_b || !p->direct || !p->wino || !p->team ||
        !p->mb) {
        free(p->mb);
        free(p->team);
        free(p->wino);
        free(p->direct);
        free(p->packed);
        free(p->rnn_packed);
        free(p->gemm_b);
        free(p->steps);
        free(p->slots);
        free(p);
        return NULL;
    }
    dl_plan_team_flags(nsteps, p->steps, p->team);
    for (int k = 0; k < nsteps; k++) {
        const dl_plan_step *s = &p->steps[k];
        if (s->op == DL_PLAN_RNN && s->i[9] != 0) {
            /* NULL when packing failed: the run then takes the eager call */
            const int64_t *i = s->i;
            const dl_plan_slot *wi = &p->slots[s->slot[1]], *wh = &p->slots[s->slot[2]];
            p->rnn_packed[k] = dl_rnn_pack_f32(
                (int)i[0], (int)i[9], (size_t)i[3], (size_t)i[4], (size_t)i[5],
                (const float *)((const char *)wi->ptr + s->off[1]),
                (const float *)((const char *)wh->ptr + s->off[2]));
            continue;
        }
        if (s->op == DL_PLAN_MBCONV) {
            /* NULL when out of memory (or not constant weights): the run then reports it */
            const dl_plan_slot *we = s->slot[1] >= 0 ? &p->slots[s->slot[1]] : NULL;
            const dl_plan_slot *wp = s->slot[5] >= 0 ? &p->slots[s->slot[5]] : NULL;
            if (we && wp && we->kind == DL_SLOT_CONST && wp->kind == DL_SLOT_CONST &&
                dl_plan_mbconv_ok(s->i))
                p->mb[k] = dl_plan_mbconv_pack(
                    s->i, (const float *)((const char *)we->ptr + s->off[1]),
                    (const float *)((const char *)wp->ptr + s->off[5]));
            continue;
        }
        if (s->op == DL_PLAN_GEMM) {
            p->gemm_b[k] = gemm_pack_b(s, p->slots);  /* NULL: the run packs per call */
            continue;
        }
        if (s->op == DL_PLAN_CONV) {
            /* U stays NULL unless Winograd runs on constant weights (plan_winograd.h) */
            const dl_plan_slot *sl = &p->slots[s->slot[1]];
            if (s->slot[1] >= 0 && sl->kind == DL_SLOT_CONST)
                dl_plan_wino_pack(s->i, (const float *)((const char *)sl->ptr + s->off[1]),
                                  &p->wino[k]);
            /* a small map's depthwise step: its lane-weight table (plan_dw_cblock.h) */
            const dl_plan_slot *bl = s->slot[2] >= 0 ? &p->slots[s->slot[2]] : NULL;
            if (s->slot[1] >= 0 && sl->kind == DL_SLOT_CONST &&
                (!bl || bl->kind == DL_SLOT_CONST))
                p->direct[k] = dl_plan_dw_cblock_table(
                    s->i, (const float *)((const char *)sl->ptr + s->off[1]),
                    bl ? (const float *)((const char *)bl->ptr + s->off[2]) : NULL);
            continue;
        }
        if (s->op == DL_PLAN_CONV_DIRECT) {
            /* NULL when out of memory: the run then reports it */
            const dl_plan_slot *sl = &p->slots[s->slot[1]];
            p->direct[k] = dl_plan_direct_pack(s->i,
                                               (const float *)((const char *)sl->ptr + s->off[1]));
            continue;
        }
        if (s->op != DL_PLAN_CONV_GEMM) continue;
        const dl_plan_slot *sl = &p->slots[s->slot[1]];
        /* a small map's pointwise conv as the transposed product (plan_pointwise.c) */
        p->gemm_b[k] = dl_plan_pointwise_pack(s->i, (const float *)((const char *)sl->ptr +
                                                                    s->off[1]));
        if (p->gemm_b[k]) continue;
        /* a small map's convolution as the transposed product (plan_conv.c) */
        p->gemm_b[k] = dl_plan_conv_pack_t(s->i, (const float *)((const char *)sl->ptr +
                                                                 s->off[1]));
        if (p->gemm_b[k]) continue;
        /* a failed pack leaves p == NULL: the run then multiplies by the unpacked weights */
        dl_plan_conv_pack(s->i, (const float *)((const char *)sl->ptr + s->off[1]),
                          &p->packed[k]);
    }
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

void dl_plan_free(dl_plan *p)
{
    if (!p) return;
    for (int k = 0; k < p->npool; k++) dl_free(p->pool[k]);
    for (int k = 0; k < p->nsteps; k++)
        if (p->steps[k].op == DL_PLAN_CONV_GEMM) dl_plan_conv_unpack(&p->packed[k]);
    for (int k = 0; k < p->nsteps; k++) dl_rnn_packed_free(p->rnn_packed[k]);
    for (int k = 0; k < p->nsteps; k++) dl_sgemm_packed_b_free(p->gemm_b[k]);
    for (int k = 0; k < p->nsteps; k++) dl_plan_unshare(p->direct[k]);
    for (int k = 0; k < p->nsteps; k++) dl_plan_wino_free(&p->wino[k]);
    for (int k = 0; k < p->nsteps; k++) dl_plan_mbconv_free(p->mb[k]);
    free(p->mb);
    free(p->direct);
    free(p->wino);
    free(p->packed);
    free(p->rnn_packed);
    free(p->gemm_b);
    free(p->team);
    free(p->pool);
    free(p->steps);
    free(p->slots);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

size_t dl_plan_arena_bytes(const dl_plan *p) { return p->arena_bytes; }

int dl_plan_step_team(const dl_plan *p, int k)
{
    return k < 0 || k >= p->nsteps ? -1 : p->team[k];
}

int dl_plan_step_keeps_threads(const dl_plan *p, int k)
{
    if (k < 0 || k >= p->nsteps) return -1;
    return p->team[k] == DL_PLAN_ON_TEAM && dl_plan_step_ignores_load(&p->steps[k]);
}

int dl_plan_step_winograd(const dl_plan *p, int k)
{
    return k < 0 || k >= p->nsteps ? -1 : p->wino[k].U ? p->wino[k].m : 0;
}

char *dl_plan_arena_acquire(dl_plan *p)
{
    char *a = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->npool > 0) a = p->pool[--p->npool];
    pthread_mutex_unlock(&p->lock);
    if (!a) a = dl_alloc(p->arena_bytes ? p->arena_bytes : 64);
    return a;
}

void dl_plan_arena_release(dl_plan *p, char *arena)
{
    if (!arena) return;
    pthread_mutex_lock(&p->lock);
    if (p->npool == p->cap) {
        int cap = p->cap ? 2 * p->cap : 4;
        char **np_ = realloc(p->pool, sizeof(char *) * (size_t)cap);
        if (!np_) {
            pthread_mutex_unlock(&p->lock);
            dl_free(arena);
            return;
        }
        p->pool = np_;
        p->cap = cap;
    }
    p->pool[p->npool++] = arena;
    pthread_mutex_unlock(&p->lock);
}

/* ---- steps --------------------------------------------------------------------------------- */
#define OPND(s, ptr, j) ((s)->slot[j] < 0 ? NULL : (ptr)[(s)->slot[j]] + (s)->off[j])

static void post_act(int kind, float *y, size_t rows, size_t cols, ptrdiff_t ld,
                     const double *f)
{
    if (kind < 0) return;
    if ((size_t)ld == cols) {
        dl_act_fwd_f32(kind, y, y, rows * cols, (float)f[0], (float)f[1], (float)f[2]);
        return;
    }
    for (size_t r = 0; r < rows; r++)
        dl_act_fwd_f32(kind, y + r * ld, y + r * ld, cols, (float)f[0], (float)f[1],
                       (float)f[2]);
}

typedef struct {
    int kind;
    const double *f;
} post_ctx;

static void post_strip(const void *ctx, float *y, size_t rows, size_t cols, ptrdiff_t ld)
{
    const post_ctx *c = ctx;
    post_act(c->kind, y, rows, cols, ld, c->f);
}

static void run_gemm(const dl_plan_step *s, const dl_sgemm_packed_b *pb, int where,
                     char **ptr)
{
    const int64_t *i = s->i;
    const int nthreads = dl_num_threads();
    if (where == DL_PLAN_ON_HELPERS && nthreads > 1) {
        dl_plan_gemm_split(s, (const float *)OPND(s, ptr, 0), (const float *)OPND(s, ptr, 1),
                           (const float *)OPND(s, ptr, 2), (float *)OPND(s, ptr, 3), nthreads);
        return;
    }
    const float *A = (const float *)OPND(s, ptr, 0), *B = (const float *)OPND(s, ptr, 1);
    const float *bias = (const float *)OPND(s, ptr, 2);
    float *C = (float *)OPND(s, ptr, 3);
    const int ta = (int)i[0], tb = (int)i[1];
    const size_t M = (size_t)i[2], N = (size_t)i[3], K = (size_t)i[4];
    const ptrdiff_t lda = i[5], ldb = i[6], ldc = i[7];
    const dl_act_t act = (dl_act_t)i[8];
    const int post = (int)i[9], nb = (int)i[10];
    const dl_bias_t bk = bias ? (dl_bias_t)i[27] : DL_BIAS_NONE;
    const float alpha = (float)s->f[3], beta = (float)s->f[4];
    int64_t total = 1;
    for (int d = 0; d < nb; d++) total *= i[11 + d];
    if (total == 1) {
        /* on packed weights the activation runs on each strip of C as it is finished */
        const post_ctx pc = {post, s->f};
        const dl_gemm_post strip = {post_strip, &pc};
        if (pb && dl_sgemm_packed_b_run(pb, M, N, K, alpha, A, lda, beta, C, ldc, bias, bk, act,
                                        post >= 0 ? &strip : NULL, 0) == 0)
            return;
        dl_sgemm_ex(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, bk, act, 0);
        post_act(post, C, M, N, ldc, s->f);
        return;
    }
    /* many small products (attention-like batched MatMul): one product per thread */
    int nt = nthreads;
    if ((double)M * (double)N * (double)K >= (double)(1 << 18) || total < 2) nt = 1;
    if (nt > total) nt = (int)total;
#ifdef DL_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
#endif
    for (int64_t t = 0; t < total; t++) {
        int64_t rem = t, oa = 0, ob = 0, oc = 0;
        for (int d = nb - 1; d >= 0; d--) {
            int64_t sz = i[11 + d], k = rem % sz;
            rem /= sz;
            oa += k * i[15 + d];
            ob += k * i[19 + d];
            oc += k * i[23 + d];
        }
        dl_sgemm_ex(ta, tb, M, N, K, alpha, A + oa, lda, B + ob, ldb, beta, C + oc, ldc, bias,
                    bk, act, nt > 1 ? 1 : 0);
        post_act(post, C + oc, M, N, ldc, s->f);
    }
}

static dl_conv_params conv_params(const int64_t *i)
{
    dl_conv_params p;
    p.N = i[0]; p.C = i[1]; p.H = i[2]; p.W = i[3];
    p.K = i[4]; p.R = i[5]; p.S = i[6]; p.OH = i[7]; p.OW = i[8];
    p.sh = i[9]; p.sw = i[10]; p.ph = i[11]; p.pw = i[12]; p.dh = i[13]; p.dw = i[14];
    p.groups = i[15];
    return p;
}

static dl_pool_params pool_params(const int64_t *i)
{
    dl_pool_params p;
    p.planes = i[0]; p.H = i[1]; p.W = i[2]; p.OH = i[3]; p.OW = i[4];
    p.kh = i[5]; p.kw = i[6]; p.sh = i[7]; p.sw = i[8]; p.ph = i[9]; p.pw = i[10];
    p.dh = i[11]; p.dw = i[12];
    return p;
}

static void run_binary(const dl_plan_step *s, char **ptr)
{
    const int64_t *i = s->i;
    const int ndim = (int)i[1], post = (int)i[20];
    float *y = (float *)OPND(s, ptr, 2);
    plan_kernels()->binary((int)i[0], ndim, i + 2, i + 8, i + 14, (const float *)OPND(s, ptr, 0),
      (const float *)OPND(s, ptr, 1), y, post == DL_AF_RELU, dl_num_threads());
    if (post >= 0 && post != DL_AF_RELU) {
        size_t n = 1;
        for (int d = 0; d < ndim; d++) n *= (size_t)i[2 + d];
        dl_act_fwd_f32(post, y, y, n, (float)s->f[0], (float)s->f[1], (float)s->f[2]);
    }
}

enum { SKIP_LN_RB = 8 };  /* rows per block */

/* Blocks [k0, k1) of SKIP_LN_RB rows of run_skip_layernorm. */
static void skip_layernorm_blocks(const plan_kernels_t *pk, const layernorm_kernels_t *lk,
                                  const float *a, const float *b, const float *gamma,
                                  const float *beta, float eps, float *y, float *sum,
                                  size_t rows, size_t n, size_t k0, size_t k1, char *qrows,
                                  int qmax)
{
    for (size_t k = k0; k < k1; k++) {
        size_t r0 = k * SKIP_LN_RB, r1 = r0 + SKIP_LN_RB < rows ? r0 + SKIP_LN_RB : rows;
        float *dst = (sum ? sum : y) + r0 * n;
        pk->add_rows((r1 - r0) * n, a + r0 * n, b + r0 * n, dst);
        lk->fwd_rows(0, r1 - r0, n, dst, gamma, beta, eps, 0, y + r0 * n, NULL, NULL);
        if (qrows) dl_plan_qrows_fill(qrows, rows, n, qmax, y, r0, r1);
    }
}

/* y = LayerNorm(a + b) row block by row block, the sum written once (to `sum` when it is
 * wanted, else into y) and normalized while it is still in cache. */
static void run_skip_layernorm(const dl_plan_step *s, char **ptr)
{
    const float *a = (const float *)OPND(s, ptr, 0), *b = (const float *)OPND(s, ptr, 1);
    const float *gamma = (const float *)OPND(s, ptr, 2), *beta = (const float *)OPND(s, ptr, 3);
    float *y = (float *)OPND(s, ptr, 4), *sum = (float *)OPND(s, ptr, 5);
    char *qrows = OPND(s, ptr, 6);
    const size_t rows = (size_t)s->i[0], n = (size_t)s->i[1];
    const int qmax = (int)s->i[2];
    const float eps = (float)s->f[0];
    /* one ISA for the whole step: the tables read once */
    const plan_kernels_t *pk = plan_kernels();
    const layernorm_kernels_t *lk = layernorm_kernels_for(dl_isa());
    const size_t nblk = (rows + SKIP_LN_RB - 1) / SKIP_LN_RB;
    int nt = dl_threads_for(rows * n, (size_t)1 << 15);
    if (nt <= 1) {  /* no parallel region: even an if(false) one costs a libgomp team */
        skip_layernorm_blocks(pk, lk, a, b, gamma, beta, eps, y, sum, rows, n, 0, nblk, qrows,
                              qmax);
        return;
    }
#ifdef DL_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (size_t k = 0; k < nblk; k++)
        skip_layernorm_blocks(pk, lk, a, b, gamma, beta, eps, y, sum, rows, n, k, k + 1, qrows,
                              qmax);
}

static int run_attention(const dl_plan_step *s, char **ptr)
{
    const int64_t *i = s->i;
    dl_attn_desc d;
    d.B = (size_t)i[0]; d.H = (size_t)i[1]; d.L = (size_t)i[2]; d.S = (size_t)i[3];
    d.D = (size_t)i[4]; d.Dv = (size_t)i[5];
    for (int k = 0; k < 3; k++) {
        d.q_s[k] = i[6 + k];
        d.k_s[k] = i[9 + k];
        d.v_s[k] = i[12 + k];
    }
    d.mask = OPND(s, ptr, 3);
    d.mask_kind = d.mask ? (int)i[15] : DL_ATTN_MASK_NONE;
    for (int k = 0; k < 4; k++) d.m_s[k] = i[16 + k];
    d.causal = (int)i[20];
    d.scale = s->f[0];
    for (int k = 0; k < 3; k++) d.o_s[k] = i[21 + k];
    return dl_attn_fwd_f32(&d, (const float *)OPND(s, ptr, 0), (const float *)OPND(s, ptr, 1),
                           (const float *)OPND(s, ptr, 2), (float *)OPND(s, ptr, 4),
                           (float *)OPND(s, ptr, 5));
}

static int run_rnn(const dl_plan_step *s, const dl_rnn_packed *pk, char **ptr)
{
    const int64_t *i = s->i;
    dl_rnn_desc d;
    d.mode = (dl_rnn_mode_t)i[0];
    d.n_steps = (size_t)i[1];
    d.batch_sizes = (const int64_t *)OPND(s, ptr, 12);
    d.B = (size_t)i[2];
    d.n_input = (size_t)i[3];
    d.H = (size_t)i[4];
    d.P = (size_t)i[5];
    d.reverse = (int)i[6];
#define F(j) ((const float *)OPND(s, ptr, j))
    if (pk)
        return dl_rnn_forward_packed_f32(&d, pk, F(0), i[7], F(3), F(4), F(6), F(7),
                                         (float *)OPND(s, ptr, 8), i[8],
                                         (float *)OPND(s, ptr, 9), (float *)OPND(s, ptr, 10),
                                         (float *)OPND(s, ptr, 11));
    return dl_rnn_forward_f32(&d, F(0), i[7], F(1), F(2), F(3), F(4), F(5), F(6), F(7),
                              (float *)OPND(s, ptr, 8), i[8], (float *)OPND(s, ptr, 9),
                              (float *)OPND(s, ptr, 10), NULL, (float *)OPND(s, ptr, 11));
#undef F
}

static int run_step(const dl_plan_step *s, int where, const dl_sgemm_packed_a *pa,
                    const dl_rnn_packed *rp, const dl_sgemm_packed_b *pb, const float *wd,
                    const dl_plan_wino *pw, const dl_plan_mbconv_packed *mb, char **ptr,
                    int *err, int64_t *detail)
{
    const int64_t *i = s->i;
    const double *f = s->f;
    int rc = 0;
    switch (s->op) {
    case DL_PLAN_COPY:
        dl_plan_copy(s, OPND(s, ptr, 0), OPND(s, ptr, 1));
        break;
    case DL_PLAN_FILL:
        dl_plan_fill(s, OPND(s, ptr, 0));
        break;
    case DL_PLAN_GEMM:
        run_gemm(s, pb, where, ptr);
        break;
    case DL_PLAN_CONV:
    case DL_PLAN_CONV_T: {
        dl_conv_params p = conv_params(i);
        const float *x = (const float *)OPND(s, ptr, 0), *w = (const float *)OPND(s, ptr, 1);
        const float *b = (const float *)OPND(s, ptr, 2);
        float *y = (float *)OPND(s, ptr, 3);
        if (s->op == DL_PLAN_CONV && p.groups == p.C && p.C > 0 && p.K % p.C == 0 &&
            p.dh == 1 && p.dw == 1 && p.R * p.S <= 64) {
            /* depthwise (or one input channel): the executor's kernel, epilogue fused */
            rc = plan_window_kernels()->dwconv(i, f, x, w, b, y, wd);
        } else if (s->op == DL_PLAN_CONV && pw->U) {
            rc = dl_plan_wino_run(i, f, pw, x, w, b, y);
        } else if (s->op == DL_PLAN_CONV) {
            rc = dl_conv2d_fwd_f32(&p, x, w, b, y);
            if (!rc) post_act((int)i[16], y, 1, (size_t)(p.N * p.K * p.OH * p.OW),
                              (ptrdiff_t)(p.N * p.K * p.OH * p.OW), f);
        } else {
            rc = dl_conv2d_bwd_data_f32(&p, x, w, b, y);
        }
        if (rc) *err = DL_PLAN_ENOMEM;
        break;
    }
    case DL_PLAN_CONV_GEMM:
        if (pb && i[20] == 2) {
            dl_plan_conv_gemm_t(i, f, pb, (const float *)OPND(s, ptr, 0),
                                (const float *)OPND(s, ptr, 2), (float *)OPND(s, ptr, 3),
                                (float *)OPND(s, ptr, 4));
            break;
        }
        if (pb) {
            dl_plan_pointwise_t(i, f, pb, (const float *)OPND(s, ptr, 0),
                                (const float *)OPND(s, ptr, 2), (float *)OPND(s, ptr, 3),
                                (float *)OPND(s, ptr, 4));
            break;
        }
        if (i[21] == 1) {
            /* a residual sum fused into a pointwise conv (plan_pointwise.c) */
            dl_plan_pointwise_acc(i, pa, (const float *)OPND(s, ptr, 0),
                                  (const float *)OPND(s, ptr, 2), (float *)OPND(s, ptr, 3));
            break;
        }
        dl_plan_conv_gemm(i, f, pa, (const float *)OPND(s, ptr, 0),
                          (const float *)OPND(s, ptr, 2), (float *)OPND(s, ptr, 3),
                          (float *)OPND(s, ptr, 4));
        break;
    case DL_PLAN_CONV_DIRECT:
        rc = wd ? plan_direct_kernels()->conv(i, f, wd, (const float *)OPND(s, ptr, 2),
                                              (const float *)OPND(s, ptr, 0),
                                              (float *)OPND(s, ptr, 3))
                : -1;
        if (rc) *err = wd ? DL_PLAN_EOP : DL_PLAN_ENOMEM;
        break;
    case DL_PLAN_MBCONV:
        rc = plan_mbconv_kernels()->run(
            i, f, mb, (const float *)OPND(s, ptr, 0), (const float *)OPND(s, ptr, 2),
            (const float *)OPND(s, ptr, 3), (const float *)OPND(s, ptr, 4),
            (const float *)OPND(s, ptr, 6), (float *)OPND(s, ptr, 7));
        if (rc) *err = mb ? DL_PLAN_ENOMEM : DL_PLAN_EOP;
        break;
    case DL_PLAN_ACT:
        dl_act_fwd_f32((int)i[0], (const float *)OPND(s, ptr, 0), (float *)OPND(s, ptr, 1),
                       (size_t)i[1], (float)f[0], (float)f[1], (float)f[2]);
        break;
    case DL_PLAN_SOFTMAX:
        dl_softmax_fwd_f32((const float *)OPND(s, ptr, 0), (float *)OPND(s, ptr, 1),
                           (size_t)i[0], (size_t)i[1], (size_t)i[2], (int)i[3]);
        break;
    case DL_PLAN_BINARY:
        run_binary(s, ptr);
        break;
    case DL_PLAN_UNARY:
        dl_plan_unary(s, (const float *)OPND(s, ptr, 0), (float *)OPND(s, ptr, 1));
        break;
    case DL_PLAN_LAYERNORM: {
        const float *x = (const float *)OPND(s, ptr, 0);
        const float *g = (const float *)OPND(s, ptr, 1), *b = (const float *)OPND(s, ptr, 2);
        float *y = (float *)OPND(s, ptr, 3);
        rc = i[2] ? dl_rmsnorm_fwd_f32((size_t)i[0], (size_t)i[1], x, g, f[0], y, NULL)
                  : dl_layernorm_fwd_f32((size_t)i[0], (size_t)i[1], x, g, b, f[0], y, NULL,
                                         NULL);
        if (rc) *err = DL_PLAN_ENOMEM;
        break;
    }
    case DL_PLAN_SKIP_LAYERNORM:
        run_skip_layernorm(s, ptr);
        break;
    case DL_PLAN_MAXPOOL:
    case DL_PLAN_AVGPOOL:
    case DL_PLAN_ADAPTIVE_AVGPOOL:
    case DL_PLAN_ADAPTIVE_MAXPOOL:
    case DL_PLAN_RESIZE: {
        dl_pool_params p = pool_params(i);
        const float *x = (const float *)OPND(s, ptr, 0);
        float *y = (float *)OPND(s, ptr, 1);
        if (s->op == DL_PLAN_MAXPOOL && dl_maxpool2d_route_f32(&p, x, y, &rc)) {
            /* ResNet's stem pooling (98 us for ResNet-18's at one thread against 527 us on
             * the window kernel; the portable path's one-lane form of it branches on every
             * maximum: 4.8 ms, so that path keeps the window kernel), other windows larger
             * than 2x2 on the phase-split vector kernel: pool_routes.c, eager's too */
            if (rc) *err = DL_PLAN_ENOMEM;
        } else if (s->op == DL_PLAN_MAXPOOL) dl_maxpool2d_fwd_f32(&p, x, y, NULL);
        else if (s->op == DL_PLAN_AVGPOOL) dl_avgpool2d_fwd_f32(&p, x, y, (int)i[13], i[14]);
        else if (s->op == DL_PLAN_ADAPTIVE_AVGPOOL && p.OH == 1 && p.OW == 1)
            plan_kernels()->plane_means((size_t)p.planes, (size_t)(p.H * p.W), x, y);
        else if (s->op == DL_PLAN_ADAPTIVE_AVGPOOL) dl_adaptive_avgpool2d_fwd_f32(&p, x, y);
        else if (s->op == DL_PLAN_ADAPTIVE_MAXPOOL) dl_adaptive_maxpool2d_fwd_f32(&p, x, y, NULL);
        else if (i[13] == 0) dl_upsample_nearest2d_fwd_f32(&p, (float)f[0], (float)f[1], x, y);
        else dl_upsample_bilinear2d_fwd_f32(&p, (int)i[14], f[0], f[1], x, y);
        break;
    }
    case DL_PLAN_BATCHNORM:
        dl_batchnorm_fwd_eval_f32(i[0], i[1], i[2], (const float *)OPND(s, ptr, 0),
                                  (const float *)OPND(s, ptr, 1), (const float *)OPND(s, ptr, 2),
                                  (const float *)OPND(s, ptr, 3), (const float *)OPND(s, ptr, 4),
                                  (float *)OPND(s, ptr, 5));
        break;
    case DL_PLAN_ATTENTION:
        rc = run_attention(s, ptr);
        if (rc) *err = DL_PLAN_ENOMEM;
        break;
    case DL_PLAN_RNN:
        rc = run_rnn(s, rp, ptr);
        if (rc) *err = DL_PLAN_ENOMEM;
        break;
    case DL_PLAN_GATHER:
        rc = dl_plan_gather(s, OPND(s, ptr, 0), OPND(s, ptr, 1), OPND(s, ptr, 2), detail);
        if (rc) *err = DL_PLAN_EINDEX;
        break;
    case DL_PLAN_CAST:
        dl_plan_cast(s, OPND(s, ptr, 0), OPND(s, ptr, 1));
        break;
    case DL_PLAN_WHERE:
        dl_plan_where(s, (const uint8_t *)OPND(s, ptr, 0), OPND(s, ptr, 1), OPND(s, ptr, 2),
                      OPND(s, ptr, 3));
        break;
    case DL_PLAN_REDUCE:
        dl_plan_reduce(s, (const float *)OPND(s, ptr, 0), (float *)OPND(s, ptr, 1));
        break;
    case DL_PLAN_QLINEAR:
        rc = dl_plan_qlinear(s, OPND(s, ptr, 0), (const int8_t *)OPND(s, ptr, 1),
                             (const int32_t *)OPND(s, ptr, 2), (const float *)OPND(s, ptr, 3),
                             (const float *)OPND(s, ptr, 4), OPND(s, ptr, 5), OPND(s, ptr, 6));
        if (rc) *err = rc == -2 ? DL_PLAN_ENOMEM : DL_PLAN_EOP;
        break;
    case DL_PLAN_QCONV:
        rc = dl_plan_qconv(s, (const uint8_t *)OPND(s, ptr, 0), (const int8_t *)OPND(s, ptr, 1),
                           (const int32_t *)OPND(s, ptr, 2), (const float *)OPND(s, ptr, 3),
                           (const float *)OPND(s, ptr, 4), (uint8_t *)OPND(s, ptr, 5));
        if (rc) *err = rc == -2 ? DL_PLAN_ENOMEM : DL_PLAN_EOP;
        break;
    case DL_PLAN_QADD:
        dl_plan_qadd(s, (const uint8_t *)OPND(s, ptr, 0), (const uint8_t *)OPND(s, ptr, 1),
                     (uint8_t *)OPND(s, ptr, 2));
        break;
    case DL_PLAN_QUANTIZE:
        dl_plan_quantize(s, (const float *)OPND(s, ptr, 0), (uint8_t *)OPND(s, ptr, 1));
        break;
    case DL_PLAN_DEQUANTIZE:
        dl_plan_dequantize(s, (const uint8_t *)OPND(s, ptr, 0), (float *)OPND(s, ptr, 1));
        break;
    case DL_PLAN_QMAXPOOL:
        rc = dl_plan_qmaxpool(s, (const uint8_t *)OPND(s, ptr, 0), (uint8_t *)OPND(s, ptr, 1));
        if (rc) *err = DL_PLAN_EOP;
        break;
    case DL_PLAN_QAVGPOOL:
        dl_plan_qavgpool(s, (const uint8_t *)OPND(s, ptr, 0), (uint8_t *)OPND(s, ptr, 1));
        break;
    default:
        *err = DL_PLAN_EOP;
        rc = -1;
    }
    return rc;
}

int dl_plan_run(const dl_plan *p, int begin, int end, char *arena, char *const *io,
                int nthreads, int *err, int64_t *detail)
{
    char *stack_ptrs[128];
    char **ptr = stack_ptrs;
    *err = DL_PLAN_OK;
    if (p->nslots > 128) {
        ptr = malloc(sizeof(char *) * (size_t)p->nslots);
        if (!ptr) {
            *err = DL_PLAN_ENOMEM;
            return begin + 1;
        }
    }
    for (int k = 0; k < p->nslots; k++) {
        const dl_plan_slot *sl = &p->slots[k];
        ptr[k] = sl->kind == DL_SLOT_CONST ? (char *)sl->ptr
                 : sl->kind == DL_SLOT_ARENA ? arena + sl->offset : io[sl->index];
    }
    /* the call's team size (fewer on an oversubscribed machine); a step below the team's
     * grain gets one thread */
    int nt = nthreads > 0 ? nthreads : dl_num_threads();
    int prev = dl_set_local_num_threads(nt);
    int failed = 0, teamed = 0, on_team = 0;
    if (end > p->nsteps) end = p->nsteps;
    for (int k = begin; k < end && nt > 1; k++) {
        teamed |= p->team[k] != DL_PLAN_ALONE;
        on_team |= p->team[k] == DL_PLAN_ON_TEAM;
    }
    const int asked = nt;
    if (teamed) nt = dl_team_size_for_load(nt);
    dl_team_binding tb;
    tb.bound = 0;
    /* only the OpenMP team is bound: the helpers' steps are a few microseconds, less than
     * binding takes (plan_gemm_split.c) */
    if (on_team && nt > 1) dl_team_bind(nt, &tb);
    for (int k = begin; k < end; k++) {
        int nk = p->team[k] != DL_PLAN_ALONE ? nt : 1;
        /* a step whose threads join only once keeps the threads asked for (plan_team.c) */
        if (nk < asked && p->team[k] == DL_PLAN_ON_TEAM
            && dl_plan_step_ignores_load(&p->steps[k]))
            nk = asked;
        dl_set_local_num_threads(nk);
        if (run_step(&p->steps[k], p->team[k], &p->packed[k], p->rnn_packed[k], p->gemm_b[k],
                     p->direct[k], &p->wino[k], p->mb[k], ptr, err, detail) != 0
            || *err) {
            failed = k + 1;
            break;
        }
    }
    dl_team_unbind(&tb);
    dl_set_local_num_threads(prev);
    if (ptr != stack_ptrs) free(ptr);
    return failed;
}
