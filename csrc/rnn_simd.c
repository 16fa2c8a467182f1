/* Fused recurrent cell kernels, float32, one row of H hidden units per call; compiled once per
 * ISA (see simd.h).  rnn.c threads over rows and reaches them through rnn_kernels().
 *
 * Every kernel is one pass: the gate pre-activations a GEMM left in memory are read once, the
 * nonlinearities and the state update happen in registers, and only what backward needs is
 * written (activated gates, tanh(c), GRU's recurrent n part).  The LSTM cells, where five
 * nonlinearities per unit per step are most of the time, take simd.h's short route
 * (vf_sigmoid_fast, vf_tanh_fast); GRU and Elman keep vf_sigmoid / vf_tanh. */
#include "simd.h"
#include "dlcore/rnn.h"
#include "rnn_kernels.h"

/* the scalar cell backward (the vector loops' tails) */
#define DL_TEMPLATE "rnn_cell_impl.h"
#include "each_dtype.h"

static inline vf vf_one(void) { return vf_set1(1.0f); }
/* relu that keeps NaN: the data goes second (see vf_max). */
static inline vf vf_relu(vf x) { return vf_max(vf_zero(), x); }
static inline float s_relu(float x) { return x > 0.0f ? x : (x != x ? x : 0.0f); }

/* LSTM forward on units [0, W) of one row of H (pointers already offset to the first unit); the
 * gate blocks of xg, bias and gates lie H apart, those of hg sh apart.  The [i f g o]
 * pre-activations are the sum of whichever of xg (the input part), hg (the recurrent part) and
 * bias are given: the time loop's GEMM leaves them in a small hot buffer instead of
 * read-modify-writing a big cold gate buffer.  gates (may be
 * xg itself) receives the activated gates when backward needs them.  c: c_{t-1} in, c_t out;
 * tc (optional) receives tanh(c_t); h and h2 (optional) receive o * tanh(c_t).  The flags are
 * compile-time constants in the instances below, so the vector loop has no branches on them. */
static inline __attribute__((always_inline)) void
lstm_units_fwd(size_t W, size_t H, size_t sh, const float *xg, const float *hg,
               const float *bias, float *gates, float *c, float *tc, float *h, float *h2,
               int has_xg, int has_hg, int has_bias, int keep)
{
    size_t j = 0;
    for (; j + DL_VF_LEN <= W; j += DL_VF_LEN) {
        vf pre[4];
        for (int q = 0; q < 4; q++) {
            vf v = has_xg ? vf_loadu(xg + q * H + j) : vf_zero();
            if (has_hg) {
                vf r = vf_loadu(hg + q * sh + j);
                v = has_xg ? vf_add(v, r) : r;
            }
            if (has_bias) v = vf_add(v, vf_loadu(bias + q * H + j));
            pre[q] = v;
        }
        vf i = vf_sigmoid_fast(pre[0]), f = vf_sigmoid_fast(pre[1]), gc = vf_tanh_fast(pre[2]);
        vf o = vf_sigmoid_fast(pre[3]);
        vf cn = vf_fma(f, vf_loadu(c + j), vf_mul(i, gc));
        vf t = vf_tanh_fast(cn);
        if (keep) {
            vf_storeu(gates + j, i);
            vf_storeu(gates + H + j, f);
            vf_storeu(gates + 2 * H + j, gc);
            vf_storeu(gates + 3 * H + j, o);
        }
        vf_storeu(c + j, cn);
        if (tc) vf_storeu(tc + j, t);
        vf hv = vf_mul(o, t);
        vf_storeu(h + j, hv);
        if (h2) vf_storeu(h2 + j, hv);
    }
    for (; j < W; j++) {
        float pre[4];
        for (int q = 0; q < 4; q++) {
            float v = has_xg ? xg[q * H + j] : 0.0f;
            if (has_hg) v = has_xg ? v + hg[q * sh + j] : hg[q * sh + j];
            if (has_bias) v += bias[q * H + j];
            pre[q] = v;
        }
        float i = s_sigmoid(pre[0]), f = s_sigmoid(pre[1]), gc = s_tanh(pre[2]);
        float o = s_sigmoid(pre[3]);
        float cn = f * c[j] + i * gc;
        float t = s_tanh(cn);
        if (keep) {
            gates[j] = i; gates[H + j] = f; gates[2 * H + j] = gc; gates[3 * H + j] = o;
        }
        c[j] = cn;
        if (tc) tc[j] = t;
        h[j] = o * t;
        if (h2) h2[j] = o * t;
    }
}

static void lstm_row_fwd(size_t H, const float *xg, const float *hg,
                               const float *bias, float *gates, float *c, float *tc,
                               float *h, float *h2)
{
    int x = xg != NULL, r = hg != NULL, b = bias != NULL, k = gates != NULL;
    /* the time loop's cases get their own code; the rest share one with run-time flags */
    if (!x && r && b && !k)
        lstm_units_fwd(H, H, H, NULL, hg, bias, NULL, c, tc, h, h2, 0, 1, 1, 0);
    else if (!x && r && b && k)
        lstm_units_fwd(H, H, H, NULL, hg, bias, gates, c, tc, h, h2, 0, 1, 1, 1);
    else if (!x && r && !b && !k)
        lstm_units_fwd(H, H, H, NULL, hg, NULL, NULL, c, tc, h, h2, 0, 1, 0, 0);
    else if (!x && r && !b && k)
        lstm_units_fwd(H, H, H, NULL, hg, NULL, gates, c, tc, h, h2, 0, 1, 0, 1);
    else lstm_units_fwd(H, H, H, xg, hg, bias, gates, c, tc, h, h2, x, r, b, k);
}

/* Units [0, W) of one row for the multi-thread time loop (rnn.c), where each thread owns a
 * slice of hidden units: hg (gate blocks sh apart) is the product the thread computed itself,
 * bias and gates have their blocks H apart; no input part. */
static void lstm_slice_fwd(size_t W, size_t H, const float *hg, size_t sh,
                           const float *bias, float *gates, float *c, float *tc,
                           float *h, float *h2)
{
    if (bias && !gates) lstm_units_fwd(W, H, sh, NULL, hg, bias, NULL, c, tc, h, h2, 0, 1, 1, 0);
    else if (bias) lstm_units_fwd(W, H, sh, NULL, hg, bias, gates, c, tc, h, h2, 0, 1, 1, 1);
    else if (!gates) lstm_units_fwd(W, H, sh, NULL, hg, NULL, NULL, c, tc, h, h2, 0, 1, 0, 0);
    else lstm_units_fwd(W, H, sh, NULL, hg, NULL, gates, c, tc, h, h2, 0, 1, 0, 1);
}

/* LSTM backward (the formulas: rnn_cell_impl.h). */
static void lstm_row_bwd(size_t H, const float *g, const float *tc, const float *cp,
                         const float *dh, float *dc, float *dg)
{
    const float *gi = g, *gf = g + H, *gg = g + 2 * H, *go = g + 3 * H;
    float *di = dg, *df = dg + H, *dgg = dg + 2 * H, *dO = dg + 3 * H;
    size_t j = 0;
    const vf one = vf_one();
    for (; j + DL_VF_LEN <= H; j += DL_VF_LEN) {
        vf i = vf_loadu(gi + j), f = vf_loadu(gf + j), gc = vf_loadu(gg + j);
        vf o = vf_loadu(go + j), t = vf_loadu(tc + j), d = vf_loadu(dh + j);
        vf dct = vf_fma(vf_mul(d, o), vf_sub(one, vf_mul(t, t)), vf_loadu(dc + j));
        vf_storeu(di + j, vf_mul(vf_mul(dct, gc), vf_mul(i, vf_sub(one, i))));
        vf_storeu(df + j, vf_mul(vf_mul(dct, vf_loadu(cp + j)), vf_mul(f, vf_sub(one, f))));
        vf_storeu(dgg + j, vf_mul(vf_mul(dct, i), vf_sub(one, vf_mul(gc, gc))));
        vf_storeu(dO + j, vf_mul(vf_mul(d, t), vf_mul(o, vf_sub(one, o))));
        vf_storeu(dc + j, vf_mul(dct, f));
    }
    lstm_units_bwd_f32(j, H, g, tc, cp, dh, dc, dg);
}

/* GRU forward (PyTorch's) on units [0, W) of a row whose gate blocks lie H apart in xg and
 * hg: r = s(xr + hr), z = s(xz + hz), n = tanh(xn + r*hn), h' = (1-z)*n + z*h = n + z*(h - n).
 * xg receives r, z, n; hgn keeps hn for backward. */
static inline __attribute__((always_inline)) void
gru_units_fwd(size_t W, size_t H, float *xg, const float *hg, float *h, float *hgn)
{
    float *xr = xg, *xz = xg + H, *xn = xg + 2 * H;
    const float *hr = hg, *hz = hg + H, *hn = hg + 2 * H;
    size_t j = 0;
    for (; j + DL_VF_LEN <= W; j += DL_VF_LEN) {
        vf r = vf_sigmoid(vf_add(vf_loadu(xr + j), vf_loadu(hr + j)));
        vf z = vf_sigmoid(vf_add(vf_loadu(xz + j), vf_loadu(hz + j)));
        vf hnv = vf_loadu(hn + j);
        vf nn = vf_tanh(vf_fma(r, hnv, vf_loadu(xn + j)));
        vf hp = vf_loadu(h + j);
        vf_storeu(xr + j, r);
        vf_storeu(xz + j, z);
        vf_storeu(xn + j, nn);
        if (hgn) vf_storeu(hgn + j, hnv);
        vf_storeu(h + j, vf_fma(z, vf_sub(hp, nn), nn));
    }
    for (; j < W; j++) {
        float r = s_sigmoid(xr[j] + hr[j]), z = s_sigmoid(xz[j] + hz[j]);
        float hnv = hn[j];
        float nn = s_tanh(r * hnv + xn[j]);
        float hp = h[j];
        xr[j] = r; xz[j] = z; xn[j] = nn;
        if (hgn) hgn[j] = hnv;
        h[j] = z * (hp - nn) + nn;
    }
}

static void gru_row_fwd(size_t H, float *xg, const float *hg, float *h, float *hgn)
{
    gru_units_fwd(H, H, xg, hg, h, hgn);
}

/* Units [0, W) of one row for the multi-thread time loop (rnn_packed.c), each thread on a
 * panel of hidden units: h holds h_{t-1} on entry, h_t on return. */
static void gru_slice_fwd(size_t W, size_t H, float *xg, const float *hg, float *h)
{
    gru_units_fwd(W, H, xg, hg, h, NULL);
}

/* GRU backward (the formulas: rnn_cell_impl.h). */
static void gru_row_bwd(size_t H, const float *g, const float *hgn, const float *hp,
                        const float *dh, float *dxg, float *dhg, float *dhp)
{
    const float *gr = g, *gz = g + H, *gn = g + 2 * H;
    const vf one = vf_one();
    size_t j = 0;
    for (; j + DL_VF_LEN <= H; j += DL_VF_LEN) {
        vf r = vf_loadu(gr + j), z = vf_loadu(gz + j), nn = vf_loadu(gn + j);
        vf d = vf_loadu(dh + j), h = vf_loadu(hp + j), hnv = vf_loadu(hgn + j);
        vf dn = vf_mul(vf_mul(d, vf_sub(one, z)), vf_sub(one, vf_mul(nn, nn)));
        vf dr = vf_mul(vf_mul(dn, hnv), vf_mul(r, vf_sub(one, r)));
        vf dz = vf_mul(vf_mul(d, vf_sub(h, nn)), vf_mul(z, vf_sub(one, z)));
        vf_storeu(dxg + j, dr);
        vf_storeu(dxg + H + j, dz);
        vf_storeu(dxg + 2 * H + j, dn);
        vf_storeu(dhg + j, dr);
        vf_storeu(dhg + H + j, dz);
        vf_storeu(dhg + 2 * H + j, vf_mul(dn, r));
        vf_storeu(dhp + j, vf_mul(d, z));
    }
    gru_units_bwd_f32(j, H, g, hgn, hp, dh, dxg, dhg, dhp);
}

/* Elman forward: g = act(g) in place and into h. */
static void elman_row_fwd(size_t H, int relu, float *g, float *h)
{
    size_t j = 0;
    if (relu) {
        for (; j + DL_VF_LEN <= H; j += DL_VF_LEN) {
            vf a = vf_relu(vf_loadu(g + j));
            vf_storeu(g + j, a);
            vf_storeu(h + j, a);
        }
        for (; j < H; j++) h[j] = g[j] = s_relu(g[j]);
    } else {
        for (; j + DL_VF_LEN <= H; j += DL_VF_LEN) {
            vf a = vf_tanh(vf_loadu(g + j));
            vf_storeu(g + j, a);
            vf_storeu(h + j, a);
        }
        for (; j < H; j++) h[j] = g[j] = s_tanh(g[j]);
    }
}

/* Elman backward from the activation's output: tanh' = 1 - y^2, relu' = [y > 0]. */
static void elman_row_bwd(size_t H, int relu, const float *g, const float *dh,
                          float *dg)
{
    size_t j = 0;
    if (relu) {
        for (; j + DL_VF_LEN <= H; j += DL_VF_LEN)
            vf_storeu(dg + j, vf_select_gt(vf_loadu(g + j), vf_zero(), vf_loadu(dh + j),
                                           vf_zero()));
        for (; j < H; j++) dg[j] = g[j] > 0.0f ? dh[j] : 0.0f;
    } else {
        const vf one = vf_one();
        for (; j + DL_VF_LEN <= H; j += DL_VF_LEN) {
            vf y = vf_loadu(g + j);
            vf_storeu(dg + j, vf_mul(vf_loadu(dh + j), vf_sub(one, vf_mul(y, y))));
        }
        for (; j < H; j++) dg[j] = dh[j] * (1.0f - g[j] * g[j]);
    }
}

/* ---- the recurrent matrix product C (M x N) = beta*C + A (M x K) @ B (K x N), with B (a
 * weight matrix reused at every step) packed once into panels of NR columns, k-major, and A (the
 * small state, M = batch rows) read in place in tiles of MR rows.  The MR x NR block of C
 * stays in registers over all of K: MR broadcasts of A and 2 vector loads of B feed 2*MR FMAs. */
enum { RNN_NR = 2 * DL_VF_LEN, RNN_MR = DL_VF_LEN >= 16 ? 8 : (DL_VF_LEN >= 8 ? 6 : 4) };

/* out[p*pstride + k*NR + j] = op(B)[k][p*NR + j], 0 past column N; op(B) = B (K x N) or, with
 * trans, the transpose of B stored N x K.  pstride >= K*NR lets two matrices share panels (the
 * second packed at out + K1*NR): their products then sum in one pass over both. */
static void rnn_pack_b(int trans, size_t K, size_t N, const float *B, ptrdiff_t ldb,
                       float *out, size_t pstride)
{
    size_t panels = (N + RNN_NR - 1) / RNN_NR;
    for (size_t p = 0; p < panels; p++) {
        float *o = out + p * pstride;
        if (trans) {  /* column `col` of op(B) is row `col` of B: read it along its length */
            for (size_t j = 0; j < RNN_NR; j++) {
                size_t col = p * RNN_NR + j;
                if (col < N) {
                    const float *b = B + col * ldb;
                    for (size_t k = 0; k < K; k++) o[k * RNN_NR + j] = b[k];
                } else {
                    for (size_t k = 0; k < K; k++) o[k * RNN_NR + j] = 0.0f;
                }
            }
        } else {
            for (size_t k = 0; k < K; k++)
                for (size_t j = 0; j < RNN_NR; j++) {
                    size_t col = p * RNN_NR + j;
                    o[k * RNN_NR + j] = col < N ? B[k * ldb + col] : 0.0f;
                }
        }
    }
}

/* Panels ahead of the current one whose C lines are prefetched. */
enum { RNN_PF_DIST = 2 };

/* Prefetch the cache lines of columns [col0, col0 + NR) of every row of C (N columns). */
static inline void rnn_prefetch_cols(size_t M, const float *C, ptrdiff_t ldc, size_t col0,
                                     size_t N)
{
    for (size_t r = 0; r < M; r++)
        for (size_t j = col0; j < col0 + RNN_NR && j < N; j += 16)
            __builtin_prefetch(C + r * ldc + j, 1, 3);
}

/* One tile: rows [0, mr) of A/A2/C (already offset) times one packed panel (ncols valid
 * columns).  The MR x NR block of C stays in registers over all of K + K2: mr broadcasts of A
 * and 2 vector loads of B feed 2*mr FMAs.  A (the small state) is read in place: packing it
 * each step cost more than the strided reads.  mr is a constant in every instance. */
static inline __attribute__((always_inline)) void
rnn_tile(const int mr, size_t K, const float *A, ptrdiff_t lda, size_t K2, const float *A2,
         ptrdiff_t lda2, const float *bp, float beta, float *C, ptrdiff_t ldc, size_t ncols)
{
    vf acc0[RNN_MR], acc1[RNN_MR];
    for (int r = 0; r < mr; r++) acc0[r] = acc1[r] = vf_zero();
    for (int part = 0; part < 2; part++) {        /* A's K panel rows, then A2's K2 */
        const float *Ap = part ? A2 : A, *bk = part ? bp + K * RNN_NR : bp;
        const ptrdiff_t ld = part ? lda2 : lda;
        const size_t Kp = part ? K2 : K;
        for (size_t k = 0; k < Kp; k++) {
            vf b0 = vf_loadu(bk + k * RNN_NR), b1 = vf_loadu(bk + k * RNN_NR + DL_VF_LEN);
            for (int r = 0; r < mr; r++) {
                vf av = vf_set1(Ap[r * ld + k]);
                acc0[r] = vf_fma(av, b0, acc0[r]);
                acc1[r] = vf_fma(av, b1, acc1[r]);
            }
        }
    }
    for (int r = 0; r < mr; r++) {
        float *c = C + r * ldc;
        if (ncols == RNN_NR) {
            vf v0 = acc0[r], v1 = acc1[r];
            if (beta != 0.0f) {
                v0 = vf_fma(vf_set1(beta), vf_loadu(c), v0);
                v1 = vf_fma(vf_set1(beta), vf_loadu(c + DL_VF_LEN), v1);
            }
            vf_storeu(c, v0);
            vf_storeu(c + DL_VF_LEN, v1);
        } else {
            float tmp[RNN_NR];
            vf_storeu(tmp, acc0[r]);
            vf_storeu(tmp + DL_VF_LEN, acc1[r]);
            for (size_t j = 0; j < ncols; j++)
                c[j] = beta != 0.0f ? beta * c[j] + tmp[j] : tmp[j];
        }
    }
}

/* One row (a batch of 1) times one panel: every weight is read once, so the row is bound by
 * loads and by the FMA latency of the accumulators it chains.  Four steps of k go to four pairs
 * of accumulators summed at the end (the sum's order differs from rnn_tile's, within rounding),
 * which keeps the FMA units fed where rnn_tile(1) waits a whole latency per k. */
static inline void rnn_row_panel(size_t K, const float *a, const float *bp, vf *s0, vf *s1)
{
    vf p0 = *s0, p1 = *s1, q0 = vf_zero(), q1 = vf_zero();
    vf u0 = vf_zero(), u1 = vf_zero(), w0 = vf_zero(), w1 = vf_zero();
    size_t k = 0;
    for (; k + 4 <= K; k += 4) {
        const float *b = bp + k * RNN_NR;
        vf x0 = vf_set1(a[k]), x1 = vf_set1(a[k + 1]);
        vf x2 = vf_set1(a[k + 2]), x3 = vf_set1(a[k + 3]);
        p0 = vf_fma(x0, vf_loadu(b), p0);
        p1 = vf_fma(x0, vf_loadu(b + DL_VF_LEN), p1);
        q0 = vf_fma(x1, vf_loadu(b + RNN_NR), q0);
        q1 = vf_fma(x1, vf_loadu(b + RNN_NR + DL_VF_LEN), q1);
        u0 = vf_fma(x2, vf_loadu(b + 2 * RNN_NR), u0);
        u1 = vf_fma(x2, vf_loadu(b + 2 * RNN_NR + DL_VF_LEN), u1);
        w0 = vf_fma(x3, vf_loadu(b + 3 * RNN_NR), w0);
        w1 = vf_fma(x3, vf_loadu(b + 3 * RNN_NR + DL_VF_LEN), w1);
    }
    for (; k < K; k++) {
        vf x = vf_set1(a[k]);
        p0 = vf_fma(x, vf_loadu(bp + k * RNN_NR), p0);
        p1 = vf_fma(x, vf_loadu(bp + k * RNN_NR + DL_VF_LEN), p1);
    }
    *s0 = vf_add(vf_add(p0, q0), vf_add(u0, w0));
    *s1 = vf_add(vf_add(p1, q1), vf_add(u1, w1));
}

static void rnn_tile1(size_t K, const float *A, size_t K2, const float *A2, const float *bp,
                      float beta, float *C, size_t ncols)
{
    vf s0 = vf_zero(), s1 = vf_zero(), t0 = vf_zero(), t1 = vf_zero();
    rnn_row_panel(K, A, bp, &s0, &s1);
    if (K2) rnn_row_panel(K2, A2, bp + K * RNN_NR, &t0, &t1);
    s0 = vf_add(s0, t0);
    s1 = vf_add(s1, t1);
    if (ncols == RNN_NR) {
        if (beta != 0.0f) {
            s0 = vf_fma(vf_set1(beta), vf_loadu(C), s0);
            s1 = vf_fma(vf_set1(beta), vf_loadu(C + DL_VF_LEN), s1);
        }
        vf_storeu(C, s0);
        vf_storeu(C + DL_VF_LEN, s1);
        return;
    }
    float tmp[RNN_NR];
    vf_storeu(tmp, s0);
    vf_storeu(tmp + DL_VF_LEN, s1);
    for (size_t j = 0; j < ncols; j++) C[j] = beta != 0.0f ? beta * C[j] + tmp[j] : tmp[j];
}

/* Panels [p0, p1) of C for every row: C = beta*C + [A | A2] @ B from B's packed form, whose
 * panels hold K + K2 rows (A's K, then A2's K2; K2 may be 0 and A2 NULL).  Rows go in tiles
 * of MR, the last few in tiles of 4, 2, 1 (a batch of 1 computes one row, not MR). */
static void rnn_gemm_packed(size_t M, size_t N, size_t K, const float *A,
                            ptrdiff_t lda, size_t K2, const float *A2,
                            ptrdiff_t lda2, const float *Bp, float beta, float *C,
                            ptrdiff_t ldc, size_t p0, size_t p1)
{
    for (size_t p = p0; p < p1; p++) {
        /* With beta != 0, C is a slab of the gate buffer the input GEMM wrote long before (cold,
         * rows far apart): pull the panels a little ahead into cache, or the epilogue stalls. */
        if (beta != 0.0f) {
            for (size_t q = (p == p0 ? p : p + RNN_PF_DIST); q <= p + RNN_PF_DIST && q < p1; q++)
                rnn_prefetch_cols(M, C, ldc, q * RNN_NR, N);
        }
        const float *bp = Bp + p * (K + K2) * RNN_NR;
        size_t col0 = p * RNN_NR;
        size_t ncols = N - col0 < RNN_NR ? N - col0 : RNN_NR;
        size_t row0 = 0;
        while (row0 < M) {
            size_t rem = M - row0;
            const float *a = A + row0 * lda, *a2 = K2 ? A2 + row0 * lda2 : NULL;
            float *c = C + row0 * ldc + col0;
            int mr = rem >= RNN_MR ? RNN_MR : (rem >= 4 ? 4 : (rem >= 2 ? 2 : 1));
            /* 8 or 9 rows left of 6-row tiles: 4 + 4 (+ 1), not 6 + 2 (+ 1), whose 2-row
             * tile chains 4 accumulators, too few to cover the FMA latency */
            if (RNN_MR == 6 && (rem == 8 || rem == 9)) mr = 4;
            if (mr == RNN_MR) rnn_tile(RNN_MR, K, a, lda, K2, a2, lda2, bp, beta, c, ldc, ncols);
            else if (mr == 4) rnn_tile(4, K, a, lda, K2, a2, lda2, bp, beta, c, ldc, ncols);
            else if (mr == 2) rnn_tile(2, K, a, lda, K2, a2, lda2, bp, beta, c, ldc, ncols);
            else rnn_tile1(K, a, K2, a2, bp, beta, c, ncols);
            row0 += (size_t)mr;
        }
    }
}

const rnn_kernels_t DL_ISA_FN(rnn_kernels) = {
    lstm_row_fwd, lstm_slice_fwd, lstm_row_bwd, gru_row_fwd, gru_slice_fwd, gru_row_bwd,
    elman_row_fwd, elman_row_bwd, RNN_NR, rnn_pack_b, rnn_gemm_packed};
