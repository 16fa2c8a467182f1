/* Activations and softmax, float32, written once against simd.h (compiled per ISA).
 *
 * Elementwise kernels: one small inline function per activation, applied by a loop that is
 * inlined with it (the function pointer is a constant at each call site), over blocks split
 * between threads.  Loop tails use masked partial vectors, so the tail gets exactly the
 * vector path's answer.
 *
 * Softmax over a contiguous row: max pass, exp pass (stored into y, summed), scale pass; the
 * row stays in cache between passes.  Over a non-last axis (inner > 1) the same three passes run
 * down a column of vectors (one vector of adjacent inner positions), so no transpose is needed.
 */
#include "dlcore/act.h"
#include "simd.h"
#include "simd_normal.h"
#include "dlcore/runtime.h"
#include "act_kernels.h"

#define DL_ALWAYS_INLINE static inline __attribute__((always_inline))

/* elements per scheduling block (a multiple of every vector length) and per thread minimum */
enum { ACT_BLOCK = 16384, ACT_GRAIN = 32768, SM_GRAIN = 32768 };

/* Threaded loops hand out pieces of >= ACT_BLOCK elements dynamically: on a loaded machine a
 * thread that starts late takes fewer pieces instead of doing its static half after waking. */
static inline size_t rows_per_piece(size_t row_len)
{
    return row_len >= ACT_BLOCK ? 1 : ACT_BLOCK / (row_len ? row_len : 1);
}

typedef struct { float a, b, c; } act_prm;
typedef vf (*act_fwd_fn)(vf x, act_prm p);
typedef vf (*act_bwd_fn)(vf x, vf y, vf g, act_prm p);

/* ---- forward functions ------------------------------------------------------------------- */
DL_ALWAYS_INLINE vf f_relu(vf x, act_prm p) { (void)p; return vf_max(vf_zero(), x); }
DL_ALWAYS_INLINE vf f_leaky(vf x, act_prm p)
{
    return vf_select_gt(x, vf_zero(), x, vf_mul(x, vf_set1(p.a)));
}
DL_ALWAYS_INLINE vf f_sigmoid(vf x, act_prm p) { (void)p; return vf_sigmoid(x); }
DL_ALWAYS_INLINE vf f_tanh(vf x, act_prm p) { (void)p; return vf_tanh(x); }
/* exact GELU and its slope: simd_normal.h (Phi through its small side, so the negative tail
 * keeps relative precision; one shared e^(-x^2/2) in the backward) */
DL_ALWAYS_INLINE vf f_gelu(vf x, act_prm p) { (void)p; return vf_gelu_erf(x); }
/* 0.5 (1 + tanh(u)) = sigmoid(2u) */
DL_ALWAYS_INLINE vf gelu_tanh_arg2(vf x)
{
    vf x2 = vf_mul(x, x);
    vf inner = vf_fma(vf_mul(x2, vf_set1(0.044715f)), x, x);
    return vf_mul(inner, vf_set1(2.0f * 0.7978845608028654f));
}
DL_ALWAYS_INLINE vf f_gelu_tanh(vf x, act_prm p) { (void)p; return vf_mul(x, vf_sigmoid(gelu_tanh_arg2(x))); }
DL_ALWAYS_INLINE vf f_silu(vf x, act_prm p) { (void)p; return vf_mul(x, vf_sigmoid(x)); }
DL_ALWAYS_INLINE vf f_elu(vf x, act_prm p)
{
    vf neg = vf_mul(vf_set1(p.a * p.b), vf_expm1(vf_mul(x, vf_set1(p.c))));
    return vf_select_gt(x, vf_zero(), vf_mul(x, vf_set1(p.b)), neg);
}
DL_ALWAYS_INLINE vf f_softplus(vf x, act_prm p)
{
    vf bx = vf_mul(x, vf_set1(p.a));
    return vf_select_gt(bx, vf_set1(p.b), x, vf_div(vf_softplus(bx), vf_set1(p.a)));
}
DL_ALWAYS_INLINE vf f_hardtanh(vf x, act_prm p)
{
    return vf_min(vf_set1(p.b), vf_max(vf_set1(p.a), x));
}
DL_ALWAYS_INLINE vf relu6_shift3(vf x)
{
    return vf_min(vf_set1(6.0f), vf_max(vf_zero(), vf_add(x, vf_set1(3.0f))));
}
DL_ALWAYS_INLINE vf f_hardswish(vf x, act_prm p)
{
    (void)p;
    return vf_div(vf_mul(x, relu6_shift3(x)), vf_set1(6.0f));
}
DL_ALWAYS_INLINE vf f_hardsigmoid(vf x, act_prm p) { (void)p; return vf_div(relu6_shift3(x), vf_set1(6.0f)); }
/* tanh(log(1 + e^x)) = n / (n + 2) with n = e^x (e^x + 2); it is 1 in float beyond x = 20 */
DL_ALWAYS_INLINE vf mish_n(vf x)
{
    vf e = vf_exp(vf_min(vf_set1(20.0f), x));
    return vf_mul(e, vf_add(e, vf_set1(2.0f)));
}
DL_ALWAYS_INLINE vf f_mish(vf x, act_prm p)
{
    (void)p;
    vf n = mish_n(x);
    return vf_mul(x, vf_div(n, vf_add(n, vf_set1(2.0f))));
}

/* ---- backward functions: gx from (x, y, gy) --------------------------------------------- */
DL_ALWAYS_INLINE vf b_relu(vf x, vf y, vf g, act_prm p)
{
    (void)x; (void)p;
    return vf_select_le(y, vf_zero(), vf_zero(), g);
}
DL_ALWAYS_INLINE vf b_leaky(vf x, vf y, vf g, act_prm p)
{
    (void)y;
    return vf_select_gt(x, vf_zero(), g, vf_mul(g, vf_set1(p.a)));
}
DL_ALWAYS_INLINE vf b_sigmoid(vf x, vf y, vf g, act_prm p)
{
    (void)x; (void)p;
    return vf_mul(g, vf_mul(vf_sub(vf_set1(1.0f), y), y));
}
DL_ALWAYS_INLINE vf b_tanh(vf x, vf y, vf g, act_prm p)
{
    (void)x; (void)p;
    return vf_mul(g, vf_sub(vf_set1(1.0f), vf_mul(y, y)));
}
DL_ALWAYS_INLINE vf b_gelu(vf x, vf y, vf g, act_prm p)
{
    (void)y; (void)p;
    return vf_mul(g, vf_gelu_erf_slope(x));
}
/* sigmoid(v) and sigmoid(v) (1 - sigmoid(v)) from e = e^-|v|, without 1 - s cancelling */
DL_ALWAYS_INLINE vf sigmoid_and_slope(vf v, vf *slope)
{
    vf e = vf_exp_nonpos(vf_sub(vf_zero(), vf_abs(v)));
    vf r = vf_div(vf_set1(1.0f), vf_add(vf_set1(1.0f), e));
    vf er = vf_mul(e, r);
    *slope = vf_mul(er, r);
    return vf_select_lt(v, vf_zero(), er, r);
}
DL_ALWAYS_INLINE vf b_gelu_tanh(vf x, vf y, vf g, act_prm p)
{
    (void)y; (void)p;
    vf slope;
    vf s = sigmoid_and_slope(gelu_tanh_arg2(x), &slope);
    /* d(2u)/dx = 2 sqrt(2/pi) (1 + 3 * 0.044715 x^2) */
    vf du = vf_mul(vf_fma(vf_mul(x, x), vf_set1(3.0f * 0.044715f), vf_set1(1.0f)),
                   vf_set1(2.0f * 0.7978845608028654f));
    return vf_mul(g, vf_fma(vf_mul(x, slope), du, s));
}
DL_ALWAYS_INLINE vf b_silu(vf x, vf y, vf g, act_prm p)
{
    (void)y; (void)p;
    vf slope;
    vf s = sigmoid_and_slope(x, &slope);
    return vf_mul(g, vf_fma(x, slope, s));
}
DL_ALWAYS_INLINE vf b_elu(vf x, vf y, vf g, act_prm p)
{
    (void)y;
    vf neg = vf_mul(vf_mul(g, vf_set1(p.a * p.b * p.c)), vf_exp(vf_mul(x, vf_set1(p.c))));
    return vf_select_le(x, vf_zero(), neg, vf_mul(g, vf_set1(p.b)));
}
DL_ALWAYS_INLINE vf b_softplus(vf x, vf y, vf g, act_prm p)
{
    (void)y;
    vf bx = vf_mul(x, vf_set1(p.a));
    return vf_select_gt(bx, vf_set1(p.b), g, vf_mul(g, vf_sigmoid(bx)));
}
DL_ALWAYS_INLINE vf b_hardtanh(vf x, vf y, vf g, act_prm p)
{
    (void)y;
    vf inside = vf_select_ge(x, vf_set1(p.b), vf_zero(), g);
    return vf_select_le(x, vf_set1(p.a), vf_zero(), inside);
}
DL_ALWAYS_INLINE vf b_hardswish(vf x, vf y, vf g, act_prm p)
{
    (void)y; (void)p;
    /* PyTorch's boundaries: 0 at x <= -3, g at x >= 3 */
    vf mid = vf_mul(g, vf_add(vf_div(x, vf_set1(3.0f)), vf_set1(0.5f)));
    vf t = vf_select_lt(x, vf_set1(3.0f), mid, g);
    return vf_select_le(x, vf_set1(-3.0f), vf_zero(), t);
}
DL_ALWAYS_INLINE vf b_hardsigmoid(vf x, vf y, vf g, act_prm p)
{
    (void)y; (void)p;
    vf in = vf_select_lt(x, vf_set1(3.0f), vf_div(g, vf_set1(6.0f)), vf_zero());
    return vf_select_gt(x, vf_set1(-3.0f), in, vf_zero());
}
DL_ALWAYS_INLINE vf b_mish(vf x, vf y, vf g, act_prm p)
{
    (void)y; (void)p;
    vf n = mish_n(x);
    vf n2 = vf_add(n, vf_set1(2.0f));
    vf t = vf_div(n, n2);
    /* 1 - t^2 = 4 (n + 1) / (n + 2)^2 */
    vf sech2 = vf_div(vf_mul(vf_set1(4.0f), vf_add(n, vf_set1(1.0f))), vf_mul(n2, n2));
    /* n stops growing at x = 20, so sech2 stays ~4e-18 and x * sech2 would grow with x;
       the true sech2 (~4 e^-2x) is below float's range there: the slope is exactly t = 1 */
    sech2 = vf_select_gt(x, vf_set1(20.0f), vf_zero(), sech2);
    vf d = vf_fma(vf_mul(x, vf_sigmoid(x)), sech2, t);
    return vf_mul(g, d);
}

/* ---- loops ------------------------------------------------------------------------------- */
DL_ALWAYS_INLINE void fwd_range(act_fwd_fn f, const float *x, float *y, size_t lo, size_t hi,
                                act_prm p)
{
    size_t i = lo;
    /* four independent vectors per step: the long activations (GELU, Mish, ELU...) are chains
     * of dependent operations, and four chains in flight keep the FMA units busy */
    for (; i + 4 * DL_VF_LEN <= hi; i += 4 * DL_VF_LEN) {
        vf a = f(vf_loadu(x + i), p);
        vf b = f(vf_loadu(x + i + DL_VF_LEN), p);
        vf c = f(vf_loadu(x + i + 2 * DL_VF_LEN), p);
        vf d = f(vf_loadu(x + i + 3 * DL_VF_LEN), p);
        vf_storeu(y + i, a);
        vf_storeu(y + i + DL_VF_LEN, b);
        vf_storeu(y + i + 2 * DL_VF_LEN, c);
        vf_storeu(y + i + 3 * DL_VF_LEN, d);
    }
    for (; i + DL_VF_LEN <= hi; i += DL_VF_LEN)
        vf_storeu(y + i, f(vf_loadu(x + i), p));
    if (i < hi)
        vf_store_part(y + i, f(vf_load_part(x + i, hi - i, 0.0f), p), hi - i);
}

/* One range function per activation (ACT_RANGES below) with the activation inlined in it; the
 * threaded driver calls it once per block.  (A parallel region inside an inlined driver would be
 * outlined once for all kinds, calling the activation through a pointer for every vector.) */
typedef void (*act_fwd_range_fn)(const float *x, float *y, size_t lo, size_t hi, act_prm p);
typedef void (*act_bwd_range_fn)(const float *x, const float *y, const float *g, float *gx,
                                 size_t lo, size_t hi, act_prm p);

static void fwd_run(act_fwd_range_fn range, const float *x, float *y, size_t n, act_prm p)
{
    size_t nblk = (n + ACT_BLOCK - 1) / ACT_BLOCK;
    int nt = dl_threads_for(n, ACT_GRAIN);
    if (nt <= 1) {
        range(x, y, 0, n, p);
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(dynamic)
    for (size_t b = 0; b < nblk; b++) {
        size_t lo = b * ACT_BLOCK, hi = lo + ACT_BLOCK < n ? lo + ACT_BLOCK : n;
        range(x, y, lo, hi, p);
    }
}

/* out (rows, F) = silu(g) * u with g|u the halves of each row of gu (rows ld apart): a SwiGLU
 * over a stacked gate|up projection in one pass, the same roundings as SiLU then a product */
static void silu_mul_rows(const float *gu, size_t ld, size_t lo, size_t hi, size_t F, float *out)
{
    const act_prm p = {0.0f, 0.0f, 0.0f};
    for (size_t r = lo; r < hi; r++) {
        const float *g = gu + r * ld, *u = g + F;
        float *o = out + r * F;
        size_t i = 0;
        for (; i + DL_VF_LEN <= F; i += DL_VF_LEN)
            vf_storeu(o + i, vf_mul(f_silu(vf_loadu(g + i), p), vf_loadu(u + i)));
        if (i < F)
            vf_store_part(o + i, vf_mul(f_silu(vf_load_part(g + i, F - i, 0.0f), p),
                                        vf_load_part(u + i, F - i, 0.0f)), F - i);
    }
}

static void silu_mul(const float *gu, size_t ld, size_t rows, size_t F, float *out)
{
    int nt = dl_threads_for(rows * F, ACT_GRAIN);
    if (nt <= 1 || rows < 2) {
        silu_mul_rows(gu, ld, 0, rows, F, out);
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t r = 0; r < rows; r++) silu_mul_rows(gu, ld, r, r + 1, F, out);
}

/* use_x / use_y are constants at every call site: the unused pointer (maybe NULL) is never read */
DL_ALWAYS_INLINE void bwd_range(act_bwd_fn f, int use_x, int use_y, const float *x,
                                const float *y, const float *g, float *gx, size_t lo, size_t hi,
                                act_prm p)
{
    size_t i = lo;
    for (; i + 2 * DL_VF_LEN <= hi; i += 2 * DL_VF_LEN) {  /* two chains in flight */
        size_t j = i + DL_VF_LEN;
        vf xa = use_x ? vf_loadu(x + i) : vf_zero(), xb = use_x ? vf_loadu(x + j) : vf_zero();
        vf ya = use_y ? vf_loadu(y + i) : vf_zero(), yb = use_y ? vf_loadu(y + j) : vf_zero();
        vf ga = f(xa, ya, vf_loadu(g + i), p);
        vf gb = f(xb, yb, vf_loadu(g + j), p);
        vf_storeu(gx + i, ga);
        vf_storeu(gx + j, gb);
    }
    for (; i + DL_VF_LEN <= hi; i += DL_VF_LEN) {
        vf xv = use_x ? vf_loadu(x + i) : vf_zero();
        vf yv = use_y ? vf_loadu(y + i) : vf_zero();
        vf_storeu(gx + i, f(xv, yv, vf_loadu(g + i), p));
    }
    if (i < hi) {
        size_t k = hi - i;
        vf xv = use_x ? vf_load_part(x + i, k, 0.0f) : vf_zero();
        vf yv = use_y ? vf_load_part(y + i, k, 0.0f) : vf_zero();
        vf_store_part(gx + i, f(xv, yv, vf_load_part(g + i, k, 0.0f), p), k);
    }
}

static void bwd_run(act_bwd_range_fn range, const float *x, const float *y, const float *g,
                    float *gx, size_t n, act_prm p)
{
    size_t nblk = (n + ACT_BLOCK - 1) / ACT_BLOCK;
    int nt = dl_threads_for(n, ACT_GRAIN);
    if (nt <= 1) {
        range(x, y, g, gx, 0, n, p);
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(dynamic)
    for (size_t b = 0; b < nblk; b++) {
        size_t lo = b * ACT_BLOCK, hi = lo + ACT_BLOCK < n ? lo + ACT_BLOCK : n;
        range(x, y, g, gx, lo, hi, p);
    }
}

/* every activation: its kind, forward, backward, and whether the backward reads x and y */
#define ACT_LIST(X)                                           \
    X(DL_AF_RELU, f_relu, b_relu, 0, 1)                       \
    X(DL_AF_LEAKY_RELU, f_leaky, b_leaky, 1, 0)               \
    X(DL_AF_SIGMOID, f_sigmoid, b_sigmoid, 0, 1)              \
    X(DL_AF_TANH, f_tanh, b_tanh, 0, 1)                       \
    X(DL_AF_GELU, f_gelu, b_gelu, 1, 0)                       \
    X(DL_AF_GELU_TANH, f_gelu_tanh, b_gelu_tanh, 1, 0)        \
    X(DL_AF_SILU, f_silu, b_silu, 1, 0)                       \
    X(DL_AF_ELU, f_elu, b_elu, 1, 0)                          \
    X(DL_AF_SOFTPLUS, f_softplus, b_softplus, 1, 0)           \
    X(DL_AF_HARDTANH, f_hardtanh, b_hardtanh, 1, 0)           \
    X(DL_AF_HARDSWISH, f_hardswish, b_hardswish, 1, 0)        \
    X(DL_AF_HARDSIGMOID, f_hardsigmoid, b_hardsigmoid, 1, 0)  \
    X(DL_AF_MISH, f_mish, b_mish, 1, 0)

#define ACT_RANGES(k, f, bf, use_x, use_y)                                                   \
    static void f##_range(const float *x, float *y, size_t lo, size_t hi, act_prm p)         \
    {                                                                                        \
        fwd_range(f, x, y, lo, hi, p);                                                       \
    }                                                                                        \
    static void bf##_range(const float *x, const float *y, const float *g, float *gx,        \
                           size_t lo, size_t hi, act_prm p)                                  \
    {                                                                                        \
        bwd_range(bf, use_x, use_y, x, y, g, gx, lo, hi, p);                                 \
    }
ACT_LIST(ACT_RANGES)
#undef ACT_RANGES

static int act_fwd(int kind, const float *x, float *y, size_t n, float a, float b, float c)
{
    act_prm p = {a, b, c};
    switch (kind) {
#define ACT_FWD_CASE(k, f, bf, use_x, use_y) case k: fwd_run(f##_range, x, y, n, p); return 0;
    ACT_LIST(ACT_FWD_CASE)
#undef ACT_FWD_CASE
    default: return -1;
    }
}

static int act_bwd(int kind, const float *x, const float *y, const float *gy, float *gx,
                   size_t n, float a, float b, float c)
{
    act_prm p = {a, b, c};
    switch (kind) {
#define ACT_BWD_CASE(k, f, bf, use_x, use_y)                                              \
    case k: bwd_run(bf##_range, x, y, gy, gx, n, p); return 0;
    ACT_LIST(ACT_BWD_CASE)
#undef ACT_BWD_CASE
    default: return -1;
    }
}

/* ---- softmax over contiguous rows --------------------------------------------------------- */
/* Sums run in float vectors over chunks of SUM_CHUNK elements and add the chunk sums in double:
 * a float partial sum drops every term below half its ulp, a bias (not noise) that reached 5e-5
 * relative over a row of 10^5 softmax terms.  With two accumulators each lane adds at most 8
 * terms before the flush. */
enum { SUM_CHUNK = 16 * DL_VF_LEN, COL_CHUNK = 64 };

/* sum of e^(x - m) over [lo, hi); if y is not NULL the terms are stored there */
static float expsum_range(const float *x, float *y, size_t lo, size_t hi, float m)
{
    vf vm = vf_set1(m), s0 = vf_zero(), s1 = vf_zero();
    size_t i = lo;
    for (; i + 2 * DL_VF_LEN <= hi; i += 2 * DL_VF_LEN) {
        vf e0 = vf_exp_nonpos(vf_sub(vf_loadu(x + i), vm));
        vf e1 = vf_exp_nonpos(vf_sub(vf_loadu(x + i + DL_VF_LEN), vm));
        if (y) {
            vf_storeu(y + i, e0);
            vf_storeu(y + i + DL_VF_LEN, e1);
        }
        s0 = vf_add(s0, e0);
        s1 = vf_add(s1, e1);
    }
    for (; i + DL_VF_LEN <= hi; i += DL_VF_LEN) {
        vf e0 = vf_exp_nonpos(vf_sub(vf_loadu(x + i), vm));
        if (y) vf_storeu(y + i, e0);
        s0 = vf_add(s0, e0);
    }
    if (i < hi) {
        /* padding lanes are -inf, so e^(-inf - m) adds 0; they give NaN only when m is -inf or
         * NaN, and then the row's own lanes are NaN as well */
        vf e1 = vf_exp_nonpos(vf_sub(vf_load_part(x + i, hi - i, -INFINITY), vm));
        if (y) vf_store_part(y + i, e1, hi - i);
        s1 = vf_add(s1, e1);
    }
    return vf_reduce_add(vf_add(s0, s1));
}

static float row_expsum(const float *x, float *y, size_t n, float m)
{
    double tot = 0.0;
    for (size_t lo = 0; lo < n; lo += SUM_CHUNK)
        tot += expsum_range(x, y, lo, lo + SUM_CHUNK < n ? lo + SUM_CHUNK : n, m);
    return (float)tot;
}

/* y = x * s + t over a row (s = 1/sum for softmax on y itself, t = -lse for log-softmax) */
static void row_affine(const float *x, float *y, size_t n, float s, float t)
{
    vf vs = vf_set1(s), vt = vf_set1(t);
    size_t i = 0;
    for (; i + DL_VF_LEN <= n; i += DL_VF_LEN) vf_storeu(y + i, vf_fma(vf_loadu(x + i), vs, vt));
    if (i < n) vf_store_part(y + i, vf_fma(vf_load_part(x + i, n - i, 0.0f), vs, vt), n - i);
}

/* y = (x - m) - ls: log-softmax subtracts the max first, so x near m keeps its digits even
 * where m is huge (m + ls would round ls away at |m| ~ 1e30) */
static void row_shift2(const float *x, float *y, size_t n, float m, float ls)
{
    vf vm = vf_set1(m), vl = vf_set1(ls);
    size_t i = 0;
    for (; i + DL_VF_LEN <= n; i += DL_VF_LEN)
        vf_storeu(y + i, vf_sub(vf_sub(vf_loadu(x + i), vm), vl));
    if (i < n)
        vf_store_part(y + i, vf_sub(vf_sub(vf_load_part(x + i, n - i, 0.0f), vm), vl), n - i);
}

static void softmax_row(const float *x, float *y, size_t n, int log_)
{
    float m = vf_row_max(x, n);
    if (!log_) {
        float s = row_expsum(x, y, n, m);
        row_affine(y, y, n, 1.0f / s, 0.0f);
    } else {
        float s = row_expsum(x, NULL, n, m);
        row_shift2(x, y, n, m, logf(s));
    }
}

/* adds the lanes of a into tot (double) and returns zero: per-lane chunked sums */
static inline vf flush_lanes(vf a, double *tot)
{
    float buf[DL_VF_LEN];
    vf_storeu(buf, a);
    for (size_t l = 0; l < DL_VF_LEN; l++) tot[l] += buf[l];
    return vf_zero();
}

static inline vf lanes_of(const double *tot)
{
    float buf[DL_VF_LEN];
    for (size_t l = 0; l < DL_VF_LEN; l++) buf[l] = (float)tot[l];
    return vf_loadu(buf);
}

/* ---- softmax down columns (inner > 1): one vector of adjacent columns at a time ----------- */
/* the k (<= DL_VF_LEN) adjacent columns at p; a whole vector loads and stores unmasked */
static inline vf cols_load(const float *p, size_t k, float fill)
{
    return k == DL_VF_LEN ? vf_loadu(p) : vf_load_part(p, k, fill);
}

static inline void cols_store(float *p, vf a, size_t k)
{
    if (k == DL_VF_LEN) vf_storeu(p, a);
    else vf_store_part(p, a, k);
}

static void softmax_cols(const float *x, float *y, size_t dim, size_t inner, size_t j, size_t k,
                         int log_)
{
    /* columns j .. j+k-1 (k <= DL_VF_LEN) of a (dim, inner) block */
    vf m = vf_set1(-INFINITY);
    for (size_t d = 0; d < dim; d++) {
        const float *p = x + d * inner + j;
        m = vf_max(m, cols_load(p, k, -INFINITY));
    }
    /* a column of all -inf has m = -inf; x - m is then NaN, as in the row kernel */
    vf s = vf_zero();
    double tot[DL_VF_LEN] = {0};
    for (size_t d = 0; d < dim; d++) {
        const float *p = x + d * inner + j;
        vf e = vf_exp_nonpos(vf_sub(cols_load(p, k, 0.0f), m));
        s = vf_add(s, e);
        if (!log_) cols_store(y + d * inner + j, e, k);
        if ((d + 1) % COL_CHUNK == 0 || d + 1 == dim) s = flush_lanes(s, tot);
    }
    s = lanes_of(tot);
    if (!log_) {
        vf sc = vf_div(vf_set1(1.0f), s);
        for (size_t d = 0; d < dim; d++) {
            float *q = y + d * inner + j;
            cols_store(q, vf_mul(cols_load(q, k, 0.0f), sc), k);
        }
        return;
    }
    /* (x - m) - log s, as in row_shift2 */
    float buf[DL_VF_LEN];
    vf_storeu(buf, s);
    for (size_t l = 0; l < DL_VF_LEN; l++) buf[l] = logf(buf[l]);
    vf ls = vf_loadu(buf);
    for (size_t d = 0; d < dim; d++) {
        cols_store(y + d * inner + j,
                   vf_sub(vf_sub(cols_load(x + d * inner + j, k, 0.0f), m), ls), k);
    }
}

/* ---- softmax backward ---------------------------------------------------------------------- */
/* The input gradient is y * (g - s) with s = sum(g * y) (log-softmax: g - e^y * s, s = sum(g)).
 * Where g is close to s (y near 1, or every g alike) g - s cancels, so s must be right to well
 * under a float ulp: an attention row with |g| ~ 8 and s rounded once to float put 5 ulp of
 * error into the result.  Each product of two floats is exact in double and the row sums in
 * double; s then enters as a float pair hi + lo, (g - hi) exact or nearly so, lo carrying the
 * digits hi dropped. */
static double bwd_row_sum(const float *y, const float *g, size_t n, int log_)
{
    double s = 0.0;
    if (log_) {
#pragma omp simd reduction(+ : s)
        for (size_t i = 0; i < n; i++) s += (double)g[i];
    } else {
#pragma omp simd reduction(+ : s)
        for (size_t i = 0; i < n; i++) s += (double)g[i] * (double)y[i];
    }
    return s;
}

typedef struct { vf hi, lo; } sum_pair;

static inline float low_part(double tot, float hi)
{
    /* an infinite or NaN sum keeps its IEEE meaning through hi alone (inf - inf would be NaN) */
    return isfinite(hi) ? (float)(tot - (double)hi) : 0.0f;
}

static inline sum_pair sum_pair_of(double tot)
{
    float hi = (float)tot;
    sum_pair r = {vf_set1(hi), vf_set1(low_part(tot, hi))};
    return r;
}

/* one pair per lane, from per-lane double sums */
static inline sum_pair sum_pair_lanes(const double *tot)
{
    float hi[DL_VF_LEN], lo[DL_VF_LEN];
    for (size_t l = 0; l < DL_VF_LEN; l++) {
        hi[l] = (float)tot[l];
        lo[l] = low_part(tot[l], hi[l]);
    }
    sum_pair r = {vf_loadu(hi), vf_loadu(lo)};
    return r;
}

/* the input gradient from y (log-softmax: log y), g and s */
static inline vf bwd_value(vf yv, vf gv, sum_pair s, int log_)
{
    if (log_) {
        vf ne = vf_sub(vf_zero(), vf_exp_nonpos(yv));
        return vf_fma(ne, s.lo, vf_fma(ne, s.hi, gv));
    }
    return vf_mul(yv, vf_sub(vf_sub(gv, s.hi), s.lo));
}

static void softmax_bwd_row(const float *y, const float *g, float *gx, size_t n, int log_)
{
    sum_pair s = sum_pair_of(bwd_row_sum(y, g, n, log_));
    size_t i;
    for (i = 0; i + DL_VF_LEN <= n; i += DL_VF_LEN) {
        vf_storeu(gx + i, bwd_value(vf_loadu(y + i), vf_loadu(g + i), s, log_));
    }
    if (i < n) {
        size_t k = n - i;
        vf r = bwd_value(vf_load_part(y + i, k, 0.0f), vf_load_part(g + i, k, 0.0f), s, log_);
        vf_store_part(gx + i, r, k);
    }
}

static void softmax_bwd_cols(const float *y, const float *g, float *gx, size_t dim, size_t inner,
                             size_t j, size_t k, int log_)
{
    double tot[DL_VF_LEN] = {0};
    for (size_t d = 0; d < dim; d++) {
        const float *gp = g + d * inner + j, *yp = y + d * inner + j;
        if (log_) {
#pragma omp simd
            for (size_t l = 0; l < k; l++) tot[l] += (double)gp[l];
        } else {
#pragma omp simd
            for (size_t l = 0; l < k; l++) tot[l] += (double)gp[l] * (double)yp[l];
        }
    }
    sum_pair s = sum_pair_lanes(tot);
    for (size_t d = 0; d < dim; d++) {
        size_t o = d * inner + j;
        cols_store(gx + o,
                   bwd_value(cols_load(y + o, k, 0.0f), cols_load(g + o, k, 0.0f), s, log_), k);
    }
}

/* ---- both directions: rows (inner == 1) or column vectors, over threads ------------------ */
/* forward (gy NULL): y = softmax(x) along dim; backward: y = the input gradient from the
 * forward's output x and the output gradient gy */
static void softmax_split(const float *x, const float *gy, float *y, size_t outer, size_t dim,
                          size_t inner, int log_)
{
    if (outer == 0 || dim == 0 || inner == 0) return;
    if (inner == 1) {
        int nt = dl_threads_for(outer * dim, SM_GRAIN);
        size_t piece = rows_per_piece(dim);
#pragma omp parallel for num_threads(nt) schedule(dynamic, piece) if (nt > 1)
        for (size_t r = 0; r < outer; r++) {
            if (gy) softmax_bwd_row(x + r * dim, gy + r * dim, y + r * dim, dim, log_);
            else softmax_row(x + r * dim, y + r * dim, dim, log_);
        }
        return;
    }
    size_t ncol = (inner + DL_VF_LEN - 1) / DL_VF_LEN;
    size_t tasks = outer * ncol;
    int nt = dl_threads_for(outer * dim * inner, SM_GRAIN);
    size_t piece = rows_per_piece(dim * DL_VF_LEN);
#pragma omp parallel for num_threads(nt) schedule(dynamic, piece) if (nt > 1)
    for (size_t t = 0; t < tasks; t++) {
        size_t o = t / ncol, j = (t % ncol) * DL_VF_LEN;
        size_t k = inner - j < DL_VF_LEN ? inner - j : DL_VF_LEN;
        size_t base = o * dim * inner;
        if (gy) softmax_bwd_cols(x + base, gy + base, y + base, dim, inner, j, k, log_);
        else softmax_cols(x + base, y + base, dim, inner, j, k, log_);
    }
}

static void softmax_fwd(const float *x, float *y, size_t outer, size_t dim, size_t inner,
                        int log_)
{
    softmax_split(x, NULL, y, outer, dim, inner, log_);
}

static void softmax_bwd(const float *y, const float *gy, float *gx, size_t outer,
                        size_t dim, size_t inner, int log_)
{
    softmax_split(y, gy, gx, outer, dim, inner, log_);
}

const act_kernels_t DL_ISA_FN(act_kernels) = {act_fwd, act_bwd, softmax_fwd, softmax_bwd,
                                             silu_mul};
