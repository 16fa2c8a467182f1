/* Fused attention, float32, one copy per ISA (see attention.h for the contract).
 *
 * Tiles: BQ query rows x BK keys.  Every tile product goes through one register-blocked
 * micro-kernel, C (+)= A * B with B row-major and its row length a whole number of vectors,
 * so operands are packed with zero padding up to the vector width (head dims 1..128 and any
 * sequence length then need no scalar tails in the hot loops).
 *
 * Forward: each thread packs K^T and V of the head it works on into its own buffers, then per
 * query block walks the key tiles with online softmax (running max with a slack, row sums as
 * vectors, output rows rescaled only when the max moves).  Backward: per (batch, head), key
 * blocks outer, query blocks inner, recomputing each probability tile from lse.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlcore/attention.h"
#include "dlcore/runtime.h"
#include "simd.h"
#include "attention_kernels.h"

/* Backward tiles; the forward's (FQ x FK) are a whole number of 6-row micro tiles in
 * queries.  Key tiles of 128 ran ~8% faster at seq 512 on a quiet AVX2 machine but ~5%
 * slower with other work on the cores (K^T and V tiles twice the size: 32 KiB each). */
enum { BQ = 64, BK = 64, FQ = 48, FK = 64 };

/* Register tile of the micro-kernel: MR rows x NV vectors (macros: #if needs them). */
#if defined(__AVX512F__)
#define MR 6   /* 24 accumulators + 4 B vectors of 32 zmm */
#define NV 4
#elif defined(__AVX2__)
#define MR 6   /* 12 accumulators + 2 B vectors of 16 ymm */
#define NV 2
#else
#define MR 4
#define NV 4
#endif

static inline size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* C[mr x nv*VL] (+)= A[mr x K] * B[K x nv*VL]; A(m, k) = A[m*ars + k*acs].  mr, nv are
 * compile-time constants at every call site, so the accumulators live in registers. */
static inline __attribute__((always_inline)) void
micro(const int mr, const int nv, size_t K, const float *A, ptrdiff_t ars, ptrdiff_t acs,
      const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate)
{
    vf c[MR][NV];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++)
            c[r][v] = accumulate ? vf_loadu(C + r * ldc + v * DL_VF_LEN) : vf_zero();
    for (size_t k = 0; k < K; k++) {
        vf b[NV];
        const float *bk = B + (ptrdiff_t)k * ldb;
        for (int v = 0; v < nv; v++) b[v] = vf_loadu(bk + v * DL_VF_LEN);
        const float *ak = A + (ptrdiff_t)k * acs;
        for (int r = 0; r < mr; r++) {
            vf a = vf_set1(ak[r * ars]);
            for (int v = 0; v < nv; v++) c[r][v] = vf_fma(a, b[v], c[r][v]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) vf_storeu(C + r * ldc + v * DL_VF_LEN, c[r][v]);
}

/* One row group of the micro-kernel across N columns. */
static inline __attribute__((always_inline)) void
row_group(const int mr, size_t N, size_t K, const float *a, ptrdiff_t ars, ptrdiff_t acs,
          const float *B, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate)
{
    const size_t NW = (size_t)NV * DL_VF_LEN;
    size_t n = 0;
    for (; n + NW <= N; n += NW)
        micro(mr, NV, K, a, ars, acs, B + n, ldb, c + n, ldc, accumulate);
    for (; n < N; n += DL_VF_LEN)
        micro(mr, 1, K, a, ars, acs, B + n, ldb, c + n, ldc, accumulate);
}

/* tile_gemm's `tri` when no causal limit applies. */
#define NO_TRI PTRDIFF_MAX

/* min(cap, max(0, tri + m + r)): how far the causal triangle reaches for the row group
 * [m, m + r) of a tile whose first column is tri columns left of its first row's diagonal. */
static inline size_t tri_lim(ptrdiff_t tri, size_t m, size_t r, size_t cap)
{
    if (tri == NO_TRI) return cap;
    ptrdiff_t l = tri + (ptrdiff_t)(m + r);
    return l <= 0 ? 0 : (size_t)l < cap ? (size_t)l : cap;
}

/* C[M x N] (+)= A * B over tiles of the micro-kernel; N is a multiple of DL_VF_LEN.
 * A causal tile (tri != NO_TRI) skips what lies right of the diagonal for each row group
 * [m, m + r): with tri_on_n the columns from round_up(tri + m + r, DL_VF_LEN) on (left
 * unwritten), else the products' terms from k = tri + m + r on. */
static void tile_gemm(size_t M, size_t N, size_t K, const float *A, ptrdiff_t ars,
                      ptrdiff_t acs, const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc,
                      int accumulate, ptrdiff_t tri, int tri_on_n)
{
    size_t m = 0;
    for (; m + MR <= M; m += MR) {
        size_t n = N, k = K;
        if (tri_on_n) n = round_up(tri_lim(tri, m, MR, N), DL_VF_LEN);
        else k = tri_lim(tri, m, MR, K);
        row_group(MR, n, k, A + (ptrdiff_t)m * ars, ars, acs, B, ldb, C + (ptrdiff_t)m * ldc,
                  ldc, accumulate);
    }
    if (m == M) return;
    /* leftover rows, still with the row count a constant */
    const float *a = A + (ptrdiff_t)m * ars;
    float *c = C + (ptrdiff_t)m * ldc;
    size_t n = N, k = K;
    if (tri_on_n) n = round_up(tri_lim(tri, m, M - m, N), DL_VF_LEN);
    else k = tri_lim(tri, m, M - m, K);
    switch (M - m) {
#define DL_ATTN_ROWS(R)                                                                       \
    case R:                                                                                   \
        row_group(R, n, k, a, ars, acs, B, ldb, c, ldc, accumulate);                         \
        break;
    DL_ATTN_ROWS(1)
    DL_ATTN_ROWS(2)
    DL_ATTN_ROWS(3)
#if MR > 4
    DL_ATTN_ROWS(4)
    DL_ATTN_ROWS(5)
#endif
#undef DL_ATTN_ROWS
    default: break;
    }
}

/* Masks one score tile in place: padding columns (>= nk), the user's mask, the causal
 * triangle.  Row r of the tile is query i0 + r, column c is key j0 + c. */
static void mask_tile(const dl_attn_desc *d, size_t b, size_t h, size_t i0, size_t mq,
                      size_t j0, size_t nk, size_t nkp, float *Sc)
{
    const int diag = d->causal && j0 + nk - 1 > i0;   /* some key in the tile is after row i0 */
    for (size_t r = 0; r < mq; r++) {
        float *s = Sc + r * nkp;
        for (size_t c = nk; c < nkp; c++) s[c] = -INFINITY;
        if (d->mask_kind != DL_ATTN_MASK_NONE) {
            ptrdiff_t off = (ptrdiff_t)b * d->m_s[0] + (ptrdiff_t)h * d->m_s[1]
                            + (ptrdiff_t)(i0 + r) * d->m_s[2] + (ptrdiff_t)j0 * d->m_s[3];
            ptrdiff_t ms = d->m_s[3];
            if (d->mask_kind == DL_ATTN_MASK_BOOL) {
                const uint8_t *mk = (const uint8_t *)d->mask + off;
                for (size_t c = 0; c < nk; c++)
                    if (!mk[(ptrdiff_t)c * ms]) s[c] = -INFINITY;
            } else {
                const float *mk = (const float *)d->mask + off;
                if (ms == 1) {
                    size_t c = 0;
                    for (; c + DL_VF_LEN <= nk; c += DL_VF_LEN)
                        vf_storeu(s + c, vf_add(vf_loadu(s + c), vf_loadu(mk + c)));
                    for (; c < nk; c++) s[c] += mk[c];
                } else {
                    for (size_t c = 0; c < nk; c++) s[c] += mk[(ptrdiff_t)c * ms];
                }
            }
        }
        if (diag) {
            size_t i = i0 + r;
            size_t first = i + 1 > j0 ? i + 1 - j0 : 0;   /* first masked column */
            for (size_t c = first; c < nk; c++) s[c] = -INFINITY;
        }
    }
}

/* Keys a causal query block [i0, i0 + mq) can see: [0, min(S, i0 + mq)). */
static inline size_t key_end(const dl_attn_desc *d, size_t i0, size_t mq)
{
    if (!d->causal) return d->S;
    return i0 + mq < d->S ? i0 + mq : d->S;
}

/* A NaN score need not survive the max when a finite one does: exp(NaN - m) makes the row
 * sum, and so the output row, NaN anyway.  But the max instructions can drop it, and a row
 * whose other scores are all -inf must not pass for a fully masked (zero) row: NaN then. */
static float row_max(const float *s, size_t n)
{
    vf m = vf_set1(-INFINITY);
    for (size_t c = 0; c < n; c += DL_VF_LEN) m = vf_max(m, vf_loadu(s + c));
    float r = vf_reduce_max(m);
    if (r == -INFINITY)
        for (size_t c = 0; c < n; c++)
            if (s[c] != s[c]) return s[c];
    return r;
}

static void scale_row(float *x, size_t n, float a)
{
    vf va = vf_set1(a);
    for (size_t c = 0; c < n; c += DL_VF_LEN) vf_storeu(x + c, vf_mul(vf_loadu(x + c), va));
}

/* Packs key block jb of head (b, h) into Kt (K^T: D rows of FK) and Vp (FK rows of Dvp),
 * zero-padded (the forward's). */
static void pack_kv_block(const dl_attn_desc *d, const float *kh, const float *vh, size_t jb,
                          float *Kt, float *Vp)
{
    const size_t S = d->S, D = d->D, Dv = d->Dv, Dvp = round_up(Dv, DL_VF_LEN);
    const size_t j0 = jb * FK, nk = S - j0 < FK ? S - j0 : FK;
    const float *kb = kh + (ptrdiff_t)j0 * d->k_s[2];
    if (nk < FK) memset(Kt, 0, sizeof(float) * D * FK);
    size_t e0 = 0;
#ifdef DL_VF_TRANSPOSE16
    if (nk == FK)
        for (; e0 + 16 <= D; e0 += 16)
            for (size_t c = 0; c < FK; c += 16)
                vf_transpose16(kb + (ptrdiff_t)c * d->k_s[2] + e0, d->k_s[2], Kt + e0 * FK + c,
                               FK);
#elif defined(DL_VF_TRANSPOSE8)
    /* 8 x 8 blocks of whole columns (the scalar loop was ~5% of MiniLM's attention on AVX2);
     * the last nk % 8 keys of a short block go by the scalar loop */
    const size_t nk8 = nk / 8 * 8;
    if (nk8)
        for (; e0 + 8 <= D; e0 += 8) {
            for (size_t c = 0; c < nk8; c += 8)
                vf_transpose8(kb + (ptrdiff_t)c * d->k_s[2] + e0, d->k_s[2], Kt + e0 * FK + c,
                              FK);
            for (size_t e = e0; e < e0 + 8; e++)
                for (size_t c = nk8; c < nk; c++)
                    Kt[e * FK + c] = kb[(ptrdiff_t)c * d->k_s[2] + e];
        }
#endif
    /* transpose with contiguous stores: the strided loads stay in L1 */
    for (size_t e = e0; e < D; e++)
        for (size_t c = 0; c < nk; c++) Kt[e * FK + c] = kb[(ptrdiff_t)c * d->k_s[2] + e];
    for (size_t c = 0; c < nk; c++) {
        float *vr = Vp + c * Dvp;
        memcpy(vr, vh + (ptrdiff_t)(j0 + c) * d->v_s[2], sizeof(float) * Dv);
        for (size_t e = Dv; e < Dvp; e++) vr[e] = 0.0f;
    }
}

/* Whether x[0, n) (n a whole number of vectors) holds no NaN or inf: x - x is 0 for a finite
 * x and NaN otherwise, and a NaN survives the sums.  Run over the packed copies of q, k and
 * v, which are in L1 then: a few percent of the packing, against a separate pass over the
 * operands in memory. */
static int finite_buf(const float *x, size_t n)
{
    vf a0 = vf_zero(), a1 = vf_zero();
    size_t i = 0;
    for (; i + 2 * DL_VF_LEN <= n; i += 2 * DL_VF_LEN) {
        vf x0 = vf_loadu(x + i), x1 = vf_loadu(x + i + DL_VF_LEN);
        a0 = vf_add(a0, vf_sub(x0, x0));
        a1 = vf_add(a1, vf_sub(x1, x1));
    }
    for (; i < n; i += DL_VF_LEN) {
        vf x0 = vf_loadu(x + i);
        a0 = vf_add(a0, vf_sub(x0, x0));
    }
    float t = vf_reduce_add(vf_add(a0, a1));
    return t == t;
}

/* Whether the keys and values the causal forward never reaches (rows L.. of S > L) are
 * finite: the composed path the caller falls back to reads them. */
static int unreached_finite(const dl_attn_desc *d, const float *k, const float *v)
{
    float acc = 0.0f;
    for (size_t bh = 0; bh < d->B * d->H; bh++) {
        size_t b = bh / d->H, h = bh % d->H;
        for (size_t j = d->L; j < d->S; j++) {
            const float *kr = k + (ptrdiff_t)b * d->k_s[0] + (ptrdiff_t)h * d->k_s[1]
                              + (ptrdiff_t)j * d->k_s[2];
            const float *vr = v + (ptrdiff_t)b * d->v_s[0] + (ptrdiff_t)h * d->v_s[1]
                              + (ptrdiff_t)j * d->v_s[2];
            for (size_t e = 0; e < d->D; e++) acc += kr[e] - kr[e];
            for (size_t e = 0; e < d->Dv; e++) acc += vr[e] - vr[e];
        }
    }
    return acc == acc;
}

/* The running max moves only when a tile's max passes it by more than this (natural-log
 * units): exp(s - m) then stays <= e^8, far inside float range, and most tiles after the
 * first need no rescale of the output rows. */
static const float ATTN_MAX_SLACK = 8.0f;

/* e^x for the forward's weights, x = s - m <= ATTN_MAX_SLACK, NaN or -inf.  With AVX-512's
 * scalef, vf_exp_fast; elsewhere vf_exp_nonpos, which for such x gives vf_exp's (so
 * vf_exp_fast's) result bit for bit: 2^n with n <= 12 needs neither the split scale nor the
 * overflow select, ~6 of vf_exp's ~24 instructions per vector. */
static inline vf attn_exp(vf x)
{
#ifdef DL_VF_SCALEF
    return vf_exp_fast(x);
#else
    return vf_exp_nonpos(x);
#endif
}

/* nonfinite: NULL, or set to whether q, k or v holds a NaN or inf (then out and lse are
 * the kernel's, not the composed ops' that the Python caller runs instead). */
static int attn_fwd(const dl_attn_desc *d, const float *q, const float *k,
                    const float *v, float *out, float *lse, int *nonfinite)
{
    const size_t L = d->L, S = d->S, D = d->D, Dv = d->Dv;
    const size_t Dp = round_up(D, DL_VF_LEN), Dvp = round_up(Dv, DL_VF_LEN);
    const size_t nqb = (L + FQ - 1) / FQ, nkb = (S + FK - 1) / FK, BH = d->B * d->H;
    const size_t items = BH * nqb;
    const float scale = (float)d->scale;
    int failed = 0, bad = 0;
    ptrdiff_t os[3];
    dl_attn_out_strides(d, os);
    const size_t kt_blk = D * FK, v_blk = FK * Dvp;
    if (nonfinite && d->causal && S > L) bad = !unreached_finite(d, k, v);
    /* one item = FQ rows against every key: ~2 * FQ * S * (D + Dv) flops */
    size_t grain_items = (size_t)1 + (size_t)(1 << 20) / (2 * FQ * (S + 1) * (D + Dv) + 1);
    int nt = dl_threads_for(items, grain_items);
    /* Each thread packs K^T and V of the head it is on, once, into its own buffers (a
     * whole-call packing of every head would fault in fresh pages on every call).  With
     * many heads a thread takes whole heads; with few, query blocks of a head are shared
     * out (dynamically: causal blocks differ in work) and each thread packs the key blocks
     * it reaches. */
    const size_t chunk = BH >= (size_t)4 * (size_t)nt && nqb > 0 ? nqb : 1;
#pragma omp parallel num_threads(nt) reduction(| : bad)
    {
        float *Kt = dl_alloc(sizeof(float) * (nkb * kt_blk + 1));
        float *Vp = dl_alloc(sizeof(float) * (nkb * v_blk + 1));
        float *Qs = dl_alloc(sizeof(float) * FQ * Dp);
        float *Sc = dl_alloc(sizeof(float) * FQ * FK);
        float *O = dl_alloc(sizeof(float) * FQ * Dvp);
        float *mrow = dl_alloc(sizeof(float) * FQ);
        vf *lvec = dl_alloc(sizeof(vf) * FQ);
        int ok = Kt && Vp && Qs && Sc && O && mrow && lvec;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
        if (Qs) memset(Qs, 0, sizeof(float) * FQ * Dp);   /* the padding columns stay 0 */
        size_t packed_bh = (size_t)-1, packed_nb = 0;
#pragma omp for schedule(dynamic, chunk)
        for (ptrdiff_t it = 0; it < (ptrdiff_t)items; it++) {
            if (!ok) continue;
            size_t bh = (size_t)it / nqb, qb = (size_t)it % nqb;
            size_t b = bh / d->H, h = bh % d->H;
            size_t i0 = qb * FQ, mq = L - i0 < FQ ? L - i0 : FQ;
            size_t jend = key_end(d, i0, mq);
            if (bh != packed_bh) {
                packed_bh = bh;
                packed_nb = 0;
            }
            const float *kh = k + (ptrdiff_t)b * d->k_s[0] + (ptrdiff_t)h * d->k_s[1];
            const float *vh = v + (ptrdiff_t)b * d->v_s[0] + (ptrdiff_t)h * d->v_s[1];
            for (; packed_nb * FK < jend; packed_nb++) {
                float *Ktb = Kt + packed_nb * kt_blk, *Vpb = Vp + packed_nb * v_blk;
                pack_kv_block(d, kh, vh, packed_nb, Ktb, Vpb);
                if (nonfinite) {
                    size_t nk = S - packed_nb * FK < FK ? S - packed_nb * FK : FK;
                    bad |= !finite_buf(Ktb, kt_blk) || !finite_buf(Vpb, nk * Dvp);
                }
            }
            const float *qh = q + (ptrdiff_t)b * d->q_s[0] + (ptrdiff_t)h * d->q_s[1];
            for (size_t r = 0; r < mq; r++) {
                const float *src = qh + (ptrdiff_t)(i0 + r) * d->q_s[2];
                for (size_t c = 0; c < D; c++) Qs[r * Dp + c] = src[c] * scale;
                mrow[r] = -INFINITY;
                lvec[r] = vf_zero();
            }
            if (nonfinite) bad |= !finite_buf(Qs, mq * Dp);
            memset(O, 0, sizeof(float) * mq * Dvp);
            for (size_t j0 = 0; j0 < jend; j0 += FK) {
                size_t nk = jend - j0 < FK ? jend - j0 : FK;
                size_t nkp = round_up(nk, DL_VF_LEN);
                const float *Ktb = Kt + (j0 / FK) * kt_blk;
                const float *Vpb = Vp + (j0 / FK) * v_blk;
                /* a tile the causal diagonal crosses: each row group computes only up to
                 * its last row's diagonal (tile_gemm), and so does its softmax */
                ptrdiff_t tri = d->causal && j0 + nk > i0 + 1 ? (ptrdiff_t)i0 - (ptrdiff_t)j0
                                                              : NO_TRI;
                tile_gemm(mq, nkp, D, Qs, (ptrdiff_t)Dp, 1, Ktb, FK, Sc, (ptrdiff_t)nkp, 0,
                          tri, 1);
                mask_tile(d, b, h, i0, mq, j0, nk, nkp, Sc);
                for (size_t r = 0; r < mq; r++) {
                    float *s = Sc + r * nkp;
                    size_t g = r - r % MR, gs = mq - g < MR ? mq - g : MR;
                    size_t cend = round_up(tri_lim(tri, g, gs, nkp), DL_VF_LEN);
                    if (!cend) continue;   /* no key of this tile is visible to the row */
                    float mx = row_max(s, cend);
                    float mold = mrow[r];
                    if (mx > mold + ATTN_MAX_SLACK || mx != mx) {
                        if (mold != -INFINITY) {   /* else O and l are still 0 */
                            float alpha = expf(mold - mx);
                            scale_row(O + r * Dvp, Dvp, alpha);
                            lvec[r] = vf_mul(lvec[r], vf_set1(alpha));
                        }
                        mrow[r] = mold = mx;
                    } else if (mold == -INFINITY) {  /* nothing visible in this row yet */
                        memset(s, 0, sizeof(float) * cend);
                        continue;
                    }
                    vf vm = vf_set1(mold), acc = lvec[r];
                    for (size_t c = 0; c < cend; c += DL_VF_LEN) {
                        vf e = attn_exp(vf_sub(vf_loadu(s + c), vm));
                        vf_storeu(s + c, e);
                        acc = vf_add(acc, e);
                    }
                    lvec[r] = acc;
                }
                tile_gemm(mq, Dvp, nk, Sc, (ptrdiff_t)nkp, 1, Vpb, (ptrdiff_t)Dvp, O,
                          (ptrdiff_t)Dvp, 1, tri, 0);
            }
            float *oh = out + (ptrdiff_t)b * os[0] + (ptrdiff_t)h * os[1] + (ptrdiff_t)i0 * os[2];
            float *lh = lse + bh * L + i0;
            for (size_t r = 0; r < mq; r++) {
                float l = vf_reduce_add(lvec[r]);
                float inv = l > 0.0f ? 1.0f / l : 0.0f;
                if (l != l) inv = l;
                vf vi = vf_set1(inv);
                const float *o = O + r * Dvp;
                float *dst = oh + (ptrdiff_t)r * os[2];
                size_t e = 0;
                for (; e + DL_VF_LEN <= Dv; e += DL_VF_LEN)
                    vf_storeu(dst + e, vf_mul(vf_loadu(o + e), vi));
                for (; e < Dv; e++) dst[e] = o[e] * inv;
                lh[r] = l > 0.0f ? mrow[r] + logf(l) : (l != l ? l : -INFINITY);
            }
        }
        dl_free(Kt); dl_free(Vp); dl_free(Qs); dl_free(Sc); dl_free(O); dl_free(mrow);
        dl_free(lvec);
    }
    if (nonfinite) *nonfinite = bad;
    return failed ? -1 : 0;
}

static int attn_bwd(const dl_attn_desc *d, const float *q, const float *k,
                    const float *v, const float *out, const float *lse,
                    const float *dout, float *dq, float *dk, float *dv)
{
    const size_t L = d->L, S = d->S, D = d->D, Dv = d->Dv;
    const size_t Dp = round_up(D, DL_VF_LEN), Dvp = round_up(Dv, DL_VF_LEN);
    const size_t BH = d->B * d->H;
    const float scale = (float)d->scale;
    int failed = 0;
    size_t grain = (size_t)1 + (size_t)(1 << 20) / (10 * (L + 1) * (S + 1) * (D + Dv) + 1);
#pragma omp parallel num_threads(dl_threads_for(BH, grain))
    {
        float *Qs = dl_alloc(sizeof(float) * (L ? L : 1) * Dp);
        float *dO = dl_alloc(sizeof(float) * (L ? L : 1) * Dvp);
        float *Dr = dl_alloc(sizeof(float) * (L ? L : 1));
        float *dQ = dl_alloc(sizeof(float) * (L ? L : 1) * Dp);
        float *Kt = dl_alloc(sizeof(float) * Dp * BK);
        float *Kr = dl_alloc(sizeof(float) * BK * Dp);
        float *Vt = dl_alloc(sizeof(float) * Dvp * BK);
        float *dK = dl_alloc(sizeof(float) * BK * Dp);
        float *dV = dl_alloc(sizeof(float) * BK * Dvp);
        float *P = dl_alloc(sizeof(float) * BQ * BK);
        float *dP = dl_alloc(sizeof(float) * BQ * BK);
        int ok = Qs && dO && Dr && dQ && Kt && Kr && Vt && dK && dV && P && dP;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (ptrdiff_t bhi = 0; bhi < (ptrdiff_t)BH; bhi++) {
            if (!ok) continue;
            size_t bh = (size_t)bhi, b = bh / d->H, h = bh % d->H;
            const float *qh = q + (ptrdiff_t)b * d->q_s[0] + (ptrdiff_t)h * d->q_s[1];
            const float *kh = k + (ptrdiff_t)b * d->k_s[0] + (ptrdiff_t)h * d->k_s[1];
            const float *vh = v + (ptrdiff_t)b * d->v_s[0] + (ptrdiff_t)h * d->v_s[1];
            const float *oh = out + bh * L * Dv, *doh = dout + bh * L * Dv;
            const float *lh = lse + bh * L;
            for (size_t i = 0; i < L; i++) {
                const float *src = qh + (ptrdiff_t)i * d->q_s[2];
                float *qd = Qs + i * Dp;
                for (size_t c = 0; c < D; c++) qd[c] = src[c] * scale;
                for (size_t c = D; c < Dp; c++) qd[c] = 0.0f;
                float *gd = dO + i * Dvp;
                float acc = 0.0f;
                for (size_t c = 0; c < Dv; c++) {
                    gd[c] = doh[i * Dv + c];
                    acc += gd[c] * oh[i * Dv + c];
                }
                for (size_t c = Dv; c < Dvp; c++) gd[c] = 0.0f;
                Dr[i] = acc;
            }
            memset(dQ, 0, sizeof(float) * L * Dp);
            for (size_t j0 = 0; j0 < S; j0 += BK) {
                size_t nk = S - j0 < BK ? S - j0 : BK;
                size_t nkp = round_up(nk, DL_VF_LEN);
                const float *kb = kh + (ptrdiff_t)j0 * d->k_s[2];
                const float *vb = vh + (ptrdiff_t)j0 * d->v_s[2];
                for (size_t c = 0; c < nk; c++) {
                    float *kr = Kr + c * Dp;
                    memcpy(kr, kb + (ptrdiff_t)c * d->k_s[2], sizeof(float) * D);
                    for (size_t e = D; e < Dp; e++) kr[e] = 0.0f;
                }
                size_t ek = 0, ev = 0;
#ifdef DL_VF_TRANSPOSE_SQ
                if (nk == BK) {
                    const size_t L = DL_VF_LEN;
                    for (; ek + L <= D; ek += L)
                        for (size_t c = 0; c < BK; c += L)
                            vf_transpose_sq(kb + (ptrdiff_t)c * d->k_s[2] + ek, d->k_s[2],
                                            Kt + ek * BK + c, BK);
                    for (; ev + L <= Dv; ev += L)
                        for (size_t c = 0; c < BK; c += L)
                            vf_transpose_sq(vb + (ptrdiff_t)c * d->v_s[2] + ev, d->v_s[2],
                                            Vt + ev * BK + c, BK);
                }
#endif
                /* transposes with contiguous stores: the strided loads stay in L1 */
                for (size_t e = ek; e < D; e++)
                    for (size_t c = 0; c < nk; c++)
                        Kt[e * nkp + c] = kb[(ptrdiff_t)c * d->k_s[2] + e];
                for (size_t e = ev; e < Dv; e++)
                    for (size_t c = 0; c < nk; c++)
                        Vt[e * nkp + c] = vb[(ptrdiff_t)c * d->v_s[2] + e];
                for (size_t c = nk; c < nkp; c++) {
                    for (size_t e = 0; e < D; e++) Kt[e * nkp + c] = 0.0f;
                    for (size_t e = 0; e < Dv; e++) Vt[e * nkp + c] = 0.0f;
                }
                memset(dK, 0, sizeof(float) * nk * Dp);
                memset(dV, 0, sizeof(float) * nk * Dvp);
                /* causal: rows before j0 see none of these keys */
                size_t istart = d->causal ? j0 / BQ * BQ : 0;
                for (size_t i0 = istart; i0 < L; i0 += BQ) {
                    size_t mq = L - i0 < BQ ? L - i0 : BQ;
                    tile_gemm(mq, nkp, D, Qs + i0 * Dp, (ptrdiff_t)Dp, 1, Kt, (ptrdiff_t)nkp,
                              P, (ptrdiff_t)nkp, 0, NO_TRI, 0);
                    mask_tile(d, b, h, i0, mq, j0, nk, nkp, P);
                    for (size_t r = 0; r < mq; r++) {
                        float *s = P + r * nkp;
                        float l = lh[i0 + r];
                        if (l == -INFINITY) { memset(s, 0, sizeof(float) * nkp); continue; }
                        vf vl = vf_set1(l);
                        for (size_t c = 0; c < nkp; c += DL_VF_LEN)
                            vf_storeu(s + c, vf_exp_fast(vf_sub(vf_loadu(s + c), vl)));
                    }
                    /* dV += P^T dO */
                    tile_gemm(nk, Dvp, mq, P, 1, (ptrdiff_t)nkp, dO + i0 * Dvp, (ptrdiff_t)Dvp,
                              dV, (ptrdiff_t)Dvp, 1, NO_TRI, 0);
                    /* dP = dO V^T, then dS = P * (dP - D) in dP */
                    tile_gemm(mq, nkp, Dv, dO + i0 * Dvp, (ptrdiff_t)Dvp, 1, Vt, (ptrdiff_t)nkp,
                              dP, (ptrdiff_t)nkp, 0, NO_TRI, 0);
                    for (size_t r = 0; r < mq; r++) {
                        float *g = dP + r * nkp;
                        const float *p = P + r * nkp;
                        vf dr = vf_set1(Dr[i0 + r]);
                        for (size_t c = 0; c < nkp; c += DL_VF_LEN)
                            vf_storeu(g + c, vf_mul(vf_loadu(p + c),
                                                    vf_sub(vf_loadu(g + c), dr)));
                    }
                    /* dQ += dS K (scaled at the end); dK += dS^T (scale Q) */
                    tile_gemm(mq, Dp, nk, dP, (ptrdiff_t)nkp, 1, Kr, (ptrdiff_t)Dp,
                              dQ + i0 * Dp, (ptrdiff_t)Dp, 1, NO_TRI, 0);
                    tile_gemm(nk, Dp, mq, dP, 1, (ptrdiff_t)nkp, Qs + i0 * Dp, (ptrdiff_t)Dp,
                              dK, (ptrdiff_t)Dp, 1, NO_TRI, 0);
                }
                float *dkh = dk + (ptrdiff_t)b * d->dk_s[0] + (ptrdiff_t)h * d->dk_s[1]
                             + (ptrdiff_t)j0 * d->dk_s[2];
                float *dvh = dv + (ptrdiff_t)b * d->dv_s[0] + (ptrdiff_t)h * d->dv_s[1]
                             + (ptrdiff_t)j0 * d->dv_s[2];
                for (size_t c = 0; c < nk; c++) {
                    memcpy(dkh + (ptrdiff_t)c * d->dk_s[2], dK + c * Dp, sizeof(float) * D);
                    memcpy(dvh + (ptrdiff_t)c * d->dv_s[2], dV + c * Dvp, sizeof(float) * Dv);
                }
            }
            float *dqh = dq + (ptrdiff_t)b * d->dq_s[0] + (ptrdiff_t)h * d->dq_s[1];
            for (size_t i = 0; i < L; i++)
                for (size_t c = 0; c < D; c++)
                    dqh[(ptrdiff_t)i * d->dq_s[2] + c] = dQ[i * Dp + c] * scale;
        }
        dl_free(Qs); dl_free(dO); dl_free(Dr); dl_free(dQ); dl_free(Kt); dl_free(Kr);
        dl_free(Vt); dl_free(dK); dl_free(dV); dl_free(P); dl_free(dP);
    }
    return failed ? -1 : 0;
}

const attention_kernels_t DL_ISA_FN(attention_kernels) = {attn_fwd, attn_bwd};
