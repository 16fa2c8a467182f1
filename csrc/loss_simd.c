/* Losses, float32, written once against simd.h (compiled per ISA).
 *
 * Cross-entropy is fused per row of logits: one pass for the max, one pass for sum e^(x - m)
 * (plus the label-smoothing sum w (x - m), which stays well-conditioned for huge logits); the
 * loss follows from the log-sum-exp without materialising log_softmax.  The backward pass is one
 * pass per row writing softmax * A - B, then the target entry.  Pointwise losses run over blocks
 * split between threads, summing each block in float vectors and the blocks in double. */
#include <stdint.h>
#include "dlcore/loss.h"
#include "simd.h"
#include "dlcore/runtime.h"
#include "loss_kernels.h"

#define DL_ALWAYS_INLINE static inline __attribute__((always_inline))

enum { CE_GRAIN = 32768, PL_BLOCK = 16384, PL_GRAIN = 32768 };

/* Threaded loops hand out pieces of >= PL_BLOCK elements dynamically (a late-starting thread on
 * a loaded machine takes fewer pieces rather than a static half). */
static inline size_t rows_per_piece(size_t row_len)
{
    return row_len >= PL_BLOCK ? 1 : PL_BLOCK / (row_len ? row_len : 1);
}

static const float k_ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

/* Over [lo, hi): returns sum e^(x - m); with want_sd, *sd = sum w (x - m) (w NULL: ones). */
static float ce_sums_range(const float *x, const float *w, size_t lo, size_t n, float m,
                           int want_sd, float *sd)
{
    vf vm = vf_set1(m), s0 = vf_zero(), s1 = vf_zero(), d = vf_zero();
    size_t i = lo;
    for (; i + 2 * DL_VF_LEN <= n; i += 2 * DL_VF_LEN) {
        vf x0 = vf_sub(vf_loadu(x + i), vm), x1 = vf_sub(vf_loadu(x + i + DL_VF_LEN), vm);
        s0 = vf_add(s0, vf_exp_nonpos(x0));
        s1 = vf_add(s1, vf_exp_nonpos(x1));
        if (want_sd) {
            if (w) {
                d = vf_fma(vf_loadu(w + i), x0, d);
                d = vf_fma(vf_loadu(w + i + DL_VF_LEN), x1, d);
            } else {
                d = vf_add(d, vf_add(x0, x1));
            }
        }
    }
    for (; i + DL_VF_LEN <= n; i += DL_VF_LEN) {
        vf x0 = vf_sub(vf_loadu(x + i), vm);
        s0 = vf_add(s0, vf_exp_nonpos(x0));
        if (want_sd) d = w ? vf_fma(vf_loadu(w + i), x0, d) : vf_add(d, x0);
    }
    if (i < n) {
        size_t k = n - i;
        /* padding: -inf for the exponentials (adds 0), m for the differences (adds 0) */
        s1 = vf_add(s1, vf_exp_nonpos(vf_sub(vf_load_part(x + i, k, -INFINITY), vm)));
        if (want_sd) {
            vf xd = vf_sub(vf_load_part(x + i, k, m), vm);
            d = w ? vf_fma(vf_load_part(w + i, k, 0.0f), xd, d) : vf_add(d, xd);
        }
    }
    *sd = vf_reduce_add(d);
    return vf_reduce_add(vf_add(s0, s1));
}

/* Float sums over chunks of CE_CHUNK, chunk sums added in double: a long float sum drops the
 * terms below half its ulp, a bias that grows with the row (big vocabularies). */
enum { CE_CHUNK = 16 * DL_VF_LEN };
static float ce_row_sums(const float *x, const float *w, size_t n, float m, int want_sd, float *sd)
{
    double s = 0.0, d = 0.0;
    for (size_t lo = 0; lo < n; lo += CE_CHUNK) {
        float dc = 0.0f;
        s += ce_sums_range(x, w, lo, lo + CE_CHUNK < n ? lo + CE_CHUNK : n, m, want_sd, &dc);
        d += dc;
    }
    *sd = (float)d;
    return (float)s;
}

static float weight_total(const float *w, size_t C)
{
    if (!w) return (float)C;
    double s = 0.0;
    for (size_t c = 0; c < C; c++) s += w[c];
    return (float)s;
}

static int64_t ce_fwd(const float *x, const int64_t *target, const float *weight,
                      size_t N, size_t C, int64_t ignore_index, float smoothing,
                      float *loss, float *lse, double *sum_loss, double *sum_weight)
{
    const float W = weight_total(weight, C), eps = smoothing;
    double tl = 0.0, tw = 0.0;
    int64_t bad = INT64_MAX;
    int nt = dl_threads_for(N * C, CE_GRAIN);
    size_t piece = rows_per_piece(C);
#pragma omp parallel for num_threads(nt) schedule(dynamic, piece) if (nt > 1) \
    reduction(+ : tl, tw) reduction(min : bad)
    for (size_t i = 0; i < N; i++) {
        int64_t t = target[i];
        if (t == ignore_index || t < 0 || t >= (int64_t)C) {
            if (t != ignore_index && (int64_t)i < bad) bad = (int64_t)i;
            if (loss) loss[i] = 0.0f;
            if (lse) lse[2 * i] = lse[2 * i + 1] = 0.0f;
            continue;
        }
        const float *xi = x + i * C;
        float m = vf_row_max(xi, C), sd = 0.0f;
        float ls = logf(ce_row_sums(xi, weight, C, m, eps != 0.0f, &sd));
        float wt = weight ? weight[t] : 1.0f;
        float l = (1.0f - eps) * wt * ((m - xi[t]) + ls);
        if (eps != 0.0f) l += eps / (float)C * (W * ls - sd);
        if (loss) loss[i] = l;
        if (lse) lse[2 * i] = m, lse[2 * i + 1] = ls;   /* kept apart: see ce_bwd */
        tl += l;
        tw += wt;
    }
    *sum_loss = tl;
    *sum_weight = tw;
    return bad == INT64_MAX ? -1 : bad;
}

static void zero_row(float *p, size_t n)
{
    for (size_t j = 0; j < n; j++) p[j] = 0.0f;
}

static void ce_bwd(const float *x, const int64_t *target, const float *weight,
                   const float *lse, size_t N, size_t C, int64_t ignore_index,
                   float smoothing, const float *g, float gscale, float *gx)
{
    const float W = weight_total(weight, C), eps = smoothing;
    int nt = dl_threads_for(N * C, CE_GRAIN);
    size_t piece = rows_per_piece(C);
#pragma omp parallel for num_threads(nt) schedule(dynamic, piece) if (nt > 1)
    for (size_t i = 0; i < N; i++) {
        int64_t t = target[i];
        const float *xi = x + i * C;
        float *gi = gx + i * C;
        if (t == ignore_index || t < 0 || t >= (int64_t)C) {
            zero_row(gi, C);
            continue;
        }
        float sc = (g ? g[i] : 1.0f) * gscale;
        float wt = weight ? weight[t] : 1.0f;
        vf A = vf_set1(sc * ((1.0f - eps) * wt + eps * W / (float)C));
        vf B = vf_set1(sc * eps / (float)C);
        /* p = exp((x - max) - logsum): with the two added first (the log-sum-exp), a max of
           1e30 would swallow log 2 and give p = 1 for both of two tied logits */
        vf vm = vf_set1(lse[2 * i]), vl = vf_set1(lse[2 * i + 1]);
        size_t j = 0;
        for (; j + DL_VF_LEN <= C; j += DL_VF_LEN) {
            vf p = vf_exp_nonpos(vf_sub(vf_sub(vf_loadu(xi + j), vm), vl));
            vf b = weight ? vf_mul(B, vf_loadu(weight + j)) : B;
            vf_storeu(gi + j, vf_fma(p, A, vf_sub(vf_zero(), b)));
        }
        if (j < C) {
            size_t k = C - j;
            vf p = vf_exp_nonpos(vf_sub(vf_sub(vf_load_part(xi + j, k, 0.0f), vm), vl));
            vf b = weight ? vf_mul(B, vf_load_part(weight + j, k, 0.0f)) : B;
            vf_store_part(gi + j, vf_fma(p, A, vf_sub(vf_zero(), b)), k);
        }
        gi[t] -= sc * (1.0f - eps) * wt;
    }
}

/* ---- class-probability targets ------------------------------------------------------------ */
/* q' w for one vector: ((1 - eps) q + eps / C) * w, masked to the first k lanes */
static inline vf smooth_wq(vf q, vf w, vf mask, float eps, float invC)
{
    return vf_mul(vf_mul(vf_fma(q, vf_set1(1.0f - eps), vf_set1(eps * invC)), w), mask);
}

static void ce_prob_fwd(const float *x, const float *q, const float *weight, size_t N,
                        size_t C, float smoothing, float *loss, float *lse,
                        double *sum_loss)
{
    const float eps = smoothing, invC = 1.0f / (float)C;
    double tl = 0.0;
    int nt = dl_threads_for(N * C, CE_GRAIN);
    size_t piece = rows_per_piece(C);
#pragma omp parallel for num_threads(nt) schedule(dynamic, piece) if (nt > 1) reduction(+ : tl)
    for (size_t i = 0; i < N; i++) {
        const float *xi = x + i * C, *qi = q + i * C;
        float m = vf_row_max(xi, C);
        vf vm = vf_set1(m), s = vf_zero(), sq = vf_zero(), sqd = vf_zero(), one = vf_set1(1.0f);
        size_t j = 0;
        for (; j + DL_VF_LEN <= C; j += DL_VF_LEN) {
            vf d = vf_sub(vf_loadu(xi + j), vm);
            s = vf_add(s, vf_exp_nonpos(d));
            vf wq = smooth_wq(vf_loadu(qi + j), weight ? vf_loadu(weight + j) : one, one, eps, invC);
            sq = vf_add(sq, wq);
            sqd = vf_fma(wq, d, sqd);
        }
        if (j < C) {
            size_t k = C - j;
            s = vf_add(s, vf_exp_nonpos(vf_sub(vf_load_part(xi + j, k, -INFINITY), vm)));
            vf d = vf_sub(vf_load_part(xi + j, k, m), vm);
            vf wv = weight ? vf_load_part(weight + j, k, 0.0f) : one;
            vf wq = smooth_wq(vf_load_part(qi + j, k, 0.0f), wv, vf_load_part(k_ones, k, 0.0f),
                              eps, invC);
            sq = vf_add(sq, wq);
            sqd = vf_fma(wq, d, sqd);
        }
        float ls = logf(vf_reduce_add(s));
        float l = vf_reduce_add(sq) * ls - vf_reduce_add(sqd);
        if (loss) loss[i] = l;
        if (lse) lse[2 * i] = m, lse[2 * i + 1] = ls;   /* kept apart: see ce_bwd */
        tl += l;
    }
    *sum_loss = tl;
}

static void ce_prob_bwd(const float *x, const float *q, const float *weight,
                        const float *lse, size_t N, size_t C, float smoothing,
                        const float *g, float gscale, float *gx)
{
    const float eps = smoothing, invC = 1.0f / (float)C;
    int nt = dl_threads_for(N * C, CE_GRAIN);
    size_t piece = rows_per_piece(C);
#pragma omp parallel for num_threads(nt) schedule(dynamic, piece) if (nt > 1)
    for (size_t i = 0; i < N; i++) {
        const float *xi = x + i * C, *qi = q + i * C;
        float *gi = gx + i * C;
        float sc = (g ? g[i] : 1.0f) * gscale;
        vf one = vf_set1(1.0f), acc = vf_zero();
        size_t j = 0;
        for (; j + DL_VF_LEN <= C; j += DL_VF_LEN)
            acc = vf_add(acc, smooth_wq(vf_loadu(qi + j), weight ? vf_loadu(weight + j) : one,
                                        one, eps, invC));
        if (j < C) {
            size_t k = C - j;
            vf wv = weight ? vf_load_part(weight + j, k, 0.0f) : one;
            acc = vf_add(acc, smooth_wq(vf_load_part(qi + j, k, 0.0f), wv,
                                        vf_load_part(k_ones, k, 0.0f), eps, invC));
        }
        vf A = vf_set1(sc * vf_reduce_add(acc)), vsc = vf_set1(sc);
        vf vm = vf_set1(lse[2 * i]), vl = vf_set1(lse[2 * i + 1]);
        for (j = 0; j + DL_VF_LEN <= C; j += DL_VF_LEN) {
            vf p = vf_exp_nonpos(vf_sub(vf_sub(vf_loadu(xi + j), vm), vl));
            vf wq = smooth_wq(vf_loadu(qi + j), weight ? vf_loadu(weight + j) : one, one, eps, invC);
            vf_storeu(gi + j, vf_fma(p, A, vf_sub(vf_zero(), vf_mul(wq, vsc))));
        }
        if (j < C) {
            size_t k = C - j;
            vf p = vf_exp_nonpos(vf_sub(vf_sub(vf_load_part(xi + j, k, 0.0f), vm), vl));
            vf wv = weight ? vf_load_part(weight + j, k, 0.0f) : one;
            vf wq = smooth_wq(vf_load_part(qi + j, k, 0.0f), wv, one, eps, invC);
            vf_store_part(gi + j, vf_fma(p, A, vf_sub(vf_zero(), vf_mul(wq, vsc))), k);
        }
    }
}

/* ---- pointwise losses ---------------------------------------------------------------------- */
static inline vf pl_sign(vf d)
{
    /* sign(0) = 0, NaN stays NaN (both selects false pick d) */
    vf s = vf_select_gt(d, vf_zero(), vf_set1(1.0f), d);
    return vf_select_lt(d, vf_zero(), vf_set1(-1.0f), s);
}

DL_ALWAYS_INLINE vf pl_fwd(int kind, vf x, vf t, vf w, vf pw, float prm)
{
    switch (kind) {
    case DL_PL_MSE: { vf d = vf_sub(x, t); return vf_mul(d, d); }
    case DL_PL_L1: return vf_abs(vf_sub(x, t));
    case DL_PL_SMOOTH_L1: {
        vf ad = vf_abs(vf_sub(x, t)), b = vf_set1(prm);
        vf quad = vf_div(vf_mul(vf_mul(ad, ad), vf_set1(0.5f)), b);
        return vf_select_lt(ad, b, quad, vf_sub(ad, vf_set1(0.5f * prm)));
    }
    case DL_PL_HUBER: {
        vf ad = vf_abs(vf_sub(x, t)), dl = vf_set1(prm);
        vf quad = vf_mul(vf_mul(ad, ad), vf_set1(0.5f));
        return vf_select_lt(ad, dl, quad, vf_mul(dl, vf_sub(ad, vf_set1(0.5f * prm))));
    }
    case DL_PL_BCE: {
        vf lo = vf_set1(-100.0f);
        vf lx = vf_max(lo, vf_log(x));
        vf l1x = vf_max(lo, vf_log(vf_sub(vf_set1(1.0f), x)));
        vf l = vf_fma(t, vf_sub(lx, l1x), l1x);   /* t lx + (1 - t) l1x */
        return vf_mul(vf_sub(vf_zero(), w), l);
    }
    case DL_PL_BCE_LOGITS: {
        vf lw = vf_fma(vf_sub(pw, vf_set1(1.0f)), t, vf_set1(1.0f));
        vf l = vf_fma(lw, vf_softplus(vf_sub(vf_zero(), x)), vf_mul(vf_sub(vf_set1(1.0f), t), x));
        return vf_mul(w, l);
    }
    case DL_PL_KL: {
        vf tl = vf_mul(t, vf_log(t));
        tl = vf_select_le(t, vf_zero(), vf_select_ge(t, vf_zero(), vf_zero(), tl), tl);
        return vf_sub(tl, vf_mul(t, x));
    }
    case DL_PL_KL_LOG_TARGET: return vf_mul(vf_exp(t), vf_sub(t, x));
    default: return vf_zero();
    }
}

DL_ALWAYS_INLINE vf pl_bwd(int kind, vf x, vf t, vf w, vf pw, float prm)
{
    switch (kind) {
    case DL_PL_MSE: { vf d = vf_sub(x, t); return vf_add(d, d); }
    case DL_PL_L1: return pl_sign(vf_sub(x, t));
    case DL_PL_SMOOTH_L1: {
        vf d = vf_sub(x, t), b = vf_set1(prm);
        vf r = vf_select_ge(d, b, vf_set1(1.0f), vf_div(d, b));
        return vf_select_le(d, vf_sub(vf_zero(), b), vf_set1(-1.0f), r);
    }
    case DL_PL_HUBER: {
        vf d = vf_sub(x, t), dl = vf_set1(prm);
        vf r = vf_select_ge(d, dl, dl, d);
        return vf_select_le(d, vf_sub(vf_zero(), dl), vf_sub(vf_zero(), dl), r);
    }
    case DL_PL_BCE: {
        vf den = vf_max(vf_set1(1e-12f), vf_mul(vf_sub(vf_set1(1.0f), x), x));
        return vf_div(vf_mul(w, vf_sub(x, t)), den);
    }
    case DL_PL_BCE_LOGITS: {
        vf lw = vf_fma(vf_sub(pw, vf_set1(1.0f)), t, vf_set1(1.0f));
        return vf_mul(w, vf_sub(vf_mul(lw, vf_sigmoid(x)), vf_mul(pw, t)));
    }
    case DL_PL_KL: return vf_sub(vf_zero(), t);
    case DL_PL_KL_LOG_TARGET: return vf_sub(vf_zero(), vf_exp(t));
    default: return vf_zero();
    }
}

/* Sum of one block [lo, hi); *bad counts inputs outside [0, 1] for BCE. */
DL_ALWAYS_INLINE float pl_fwd_block(int kind, const float *x, const float *t, const float *w,
                                    const float *pw, size_t lo, size_t hi, float prm, float *out,
                                    float *bad)
{
    vf one = vf_set1(1.0f), acc = vf_zero(), nb = vf_zero();
    size_t i = lo;
    for (; i + DL_VF_LEN <= hi; i += DL_VF_LEN) {
        vf xv = vf_loadu(x + i);
        vf l = pl_fwd(kind, xv, vf_loadu(t + i), w ? vf_loadu(w + i) : one,
                      pw ? vf_loadu(pw + i) : one, prm);
        if (out) vf_storeu(out + i, l);
        acc = vf_add(acc, l);
        if (kind == DL_PL_BCE)
            nb = vf_add(nb, vf_add(vf_select_lt(xv, vf_zero(), one, vf_zero()),
                                   vf_select_gt(xv, one, one, vf_zero())));
    }
    if (i < hi) {
        /* padding lanes are x = t = 0 (a finite loss), masked out of the sum */
        size_t k = hi - i;
        vf xv = vf_load_part(x + i, k, 0.0f);
        vf l = pl_fwd(kind, xv, vf_load_part(t + i, k, 0.0f),
                      w ? vf_load_part(w + i, k, 0.0f) : one,
                      pw ? vf_load_part(pw + i, k, 0.0f) : one, prm);
        if (out) vf_store_part(out + i, l, k);
        acc = vf_add(acc, vf_mul(l, vf_load_part(k_ones, k, 0.0f)));
        if (kind == DL_PL_BCE)
            nb = vf_add(nb, vf_add(vf_select_lt(xv, vf_zero(), one, vf_zero()),
                                   vf_select_gt(xv, one, one, vf_zero())));
    }
    *bad = vf_reduce_add(nb);
    return vf_reduce_add(acc);
}

DL_ALWAYS_INLINE void pl_bwd_block(int kind, const float *x, const float *t, const float *w,
                                   const float *pw, size_t lo, size_t hi, float prm,
                                   const float *g, float gscale, float *gx)
{
    vf one = vf_set1(1.0f), sc = vf_set1(gscale);
    size_t i = lo;
    for (; i + DL_VF_LEN <= hi; i += DL_VF_LEN) {
        vf d = pl_bwd(kind, vf_loadu(x + i), vf_loadu(t + i), w ? vf_loadu(w + i) : one,
                      pw ? vf_loadu(pw + i) : one, prm);
        vf s = g ? vf_mul(vf_loadu(g + i), sc) : sc;
        vf_storeu(gx + i, vf_mul(d, s));
    }
    if (i < hi) {
        size_t k = hi - i;
        vf d = pl_bwd(kind, vf_load_part(x + i, k, 0.0f), vf_load_part(t + i, k, 0.0f),
                      w ? vf_load_part(w + i, k, 0.0f) : one,
                      pw ? vf_load_part(pw + i, k, 0.0f) : one, prm);
        vf s = g ? vf_mul(vf_load_part(g + i, k, 0.0f), sc) : sc;
        vf_store_part(gx + i, vf_mul(d, s), k);
    }
}

DL_ALWAYS_INLINE int pl_fwd_run(int kind, const float *x, const float *t, const float *w,
                                const float *pw, size_t n, float prm, float *out, double *sum)
{
    size_t nblk = (n + PL_BLOCK - 1) / PL_BLOCK;
    double tot = 0.0, nbad = 0.0;
    int nt = dl_threads_for(n, PL_GRAIN);
#pragma omp parallel for num_threads(nt) schedule(dynamic) if (nt > 1) reduction(+ : tot, nbad)
    for (size_t b = 0; b < nblk; b++) {
        size_t lo = b * PL_BLOCK, hi = lo + PL_BLOCK < n ? lo + PL_BLOCK : n;
        float bad = 0.0f;
        tot += pl_fwd_block(kind, x, t, w, pw, lo, hi, prm, out, &bad);
        nbad += bad;
    }
    *sum = tot;
    return nbad > 0 ? 1 : 0;
}

DL_ALWAYS_INLINE void pl_bwd_run(int kind, const float *x, const float *t, const float *w,
                                 const float *pw, size_t n, float prm, const float *g,
                                 float gscale, float *gx)
{
    size_t nblk = (n + PL_BLOCK - 1) / PL_BLOCK;
    int nt = dl_threads_for(n, PL_GRAIN);
#pragma omp parallel for num_threads(nt) schedule(dynamic) if (nt > 1)
    for (size_t b = 0; b < nblk; b++) {
        size_t lo = b * PL_BLOCK, hi = lo + PL_BLOCK < n ? lo + PL_BLOCK : n;
        pl_bwd_block(kind, x, t, w, pw, lo, hi, prm, g, gscale, gx);
    }
}

static int ploss_fwd(int kind, const float *x, const float *t, const float *w,
                     const float *pw, size_t n, float param, float *out, double *sum)
{
    *sum = 0.0;
    switch (kind) {
    /* a constant kind per call so each loop is specialised */
    case DL_PL_MSE: return pl_fwd_run(DL_PL_MSE, x, t, NULL, NULL, n, param, out, sum);
    case DL_PL_L1: return pl_fwd_run(DL_PL_L1, x, t, NULL, NULL, n, param, out, sum);
    case DL_PL_SMOOTH_L1: return pl_fwd_run(DL_PL_SMOOTH_L1, x, t, NULL, NULL, n, param, out, sum);
    case DL_PL_HUBER: return pl_fwd_run(DL_PL_HUBER, x, t, NULL, NULL, n, param, out, sum);
    case DL_PL_BCE: return pl_fwd_run(DL_PL_BCE, x, t, w, NULL, n, param, out, sum);
    case DL_PL_BCE_LOGITS: return pl_fwd_run(DL_PL_BCE_LOGITS, x, t, w, pw, n, param, out, sum);
    case DL_PL_KL: return pl_fwd_run(DL_PL_KL, x, t, NULL, NULL, n, param, out, sum);
    case DL_PL_KL_LOG_TARGET:
        return pl_fwd_run(DL_PL_KL_LOG_TARGET, x, t, NULL, NULL, n, param, out, sum);
    default: return -1;
    }
}

static int ploss_bwd(int kind, const float *x, const float *t, const float *w,
                     const float *pw, size_t n, float param, const float *g,
                     float gscale, float *gx)
{
    switch (kind) {
    case DL_PL_MSE: pl_bwd_run(DL_PL_MSE, x, t, NULL, NULL, n, param, g, gscale, gx); return 0;
    case DL_PL_L1: pl_bwd_run(DL_PL_L1, x, t, NULL, NULL, n, param, g, gscale, gx); return 0;
    case DL_PL_SMOOTH_L1:
        pl_bwd_run(DL_PL_SMOOTH_L1, x, t, NULL, NULL, n, param, g, gscale, gx); return 0;
    case DL_PL_HUBER: pl_bwd_run(DL_PL_HUBER, x, t, NULL, NULL, n, param, g, gscale, gx); return 0;
    case DL_PL_BCE: pl_bwd_run(DL_PL_BCE, x, t, w, NULL, n, param, g, gscale, gx); return 0;
    case DL_PL_BCE_LOGITS:
        pl_bwd_run(DL_PL_BCE_LOGITS, x, t, w, pw, n, param, g, gscale, gx); return 0;
    case DL_PL_KL: pl_bwd_run(DL_PL_KL, x, t, NULL, NULL, n, param, g, gscale, gx); return 0;
    case DL_PL_KL_LOG_TARGET:
        pl_bwd_run(DL_PL_KL_LOG_TARGET, x, t, NULL, NULL, n, param, g, gscale, gx); return 0;
    default: return -1;
    }
}

const loss_kernels_t DL_ISA_FN(loss_kernels) = {ce_fwd, ce_bwd, ce_prob_fwd, ce_prob_bwd,
                                              ploss_fwd, ploss_bwd};
