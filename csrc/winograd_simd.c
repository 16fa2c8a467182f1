/* Winograd F(4x4, 3x3) and F(2x2, 3x3) transforms, one copy per ISA (see winograd_kernels.h
 * for the layouts).  Lanes are tiles (input, output) or output channels (filter), so each
 * 1-D transform is a handful of vector adds and FMAs; a 2-D transform is the 1-D one over the
 * columns, then over the rows.
 *
 * The matrices are the usual ones for the interpolation points 0, +-1, +-2 (F4) and 0, +-1
 * (F2), with the point at infinity.  F4's B^T has entries up to 5 and A^T up to 8, which is
 * where its float32 error comes from (tests/test_conv_winograd.py states it).
 */
#include "simd_lanes.h"
#include "winograd_kernels.h"

static inline size_t lanes_of(int64_t n, int64_t l)
{
    return n - l >= DL_VF_LEN ? (size_t)DL_VF_LEN : (size_t)(n - l);
}

static inline void store_lanes(float *p, vf a, size_t k)
{
    if (k == (size_t)DL_VF_LEN) vf_storeu(p, a);
    else vf_store_part(p, a, k);
}

/* ---- F(4x4, 3x3) ------------------------------------------------------------------------ */

/* o = B^T d for one column of 6 */
static inline void bt4(const vf *d, vf *o)
{
    const vf m4 = vf_set1(-4.0f), m5 = vf_set1(-5.0f), four = vf_set1(4.0f);
    const vf t0 = vf_fma(m4, d[2], d[4]);          /* d4 - 4 d2 */
    const vf t1 = vf_fma(m4, d[1], d[3]);          /* d3 - 4 d1 */
    const vf t2 = vf_sub(d[4], d[2]);
    const vf t3 = vf_add(vf_sub(d[3], d[1]), vf_sub(d[3], d[1]));
    o[0] = vf_fma(four, d[0], vf_fma(m5, d[2], d[4]));
    o[1] = vf_add(t0, t1);
    o[2] = vf_sub(t0, t1);
    o[3] = vf_add(t2, t3);
    o[4] = vf_sub(t2, t3);
    o[5] = vf_fma(four, d[1], vf_fma(m5, d[3], d[5]));
}

/* y = A^T m for one column of 6 */
static inline void at4(const vf *m, vf *y)
{
    const vf a = vf_add(m[1], m[2]), b = vf_sub(m[1], m[2]);
    const vf c = vf_add(m[3], m[4]), d = vf_sub(m[3], m[4]);
    y[0] = vf_add(vf_add(m[0], a), c);
    y[1] = vf_fma(vf_set1(2.0f), d, b);
    y[2] = vf_fma(vf_set1(4.0f), c, a);
    y[3] = vf_add(vf_fma(vf_set1(8.0f), d, b), m[5]);
}

/* u = G g for one column of 3 */
static inline void g4(const vf *g, vf *u)
{
    const vf sum = vf_add(g[0], g[2]);
    const vf q = vf_fma(vf_set1(1.0f / 24.0f), g[0], vf_mul(vf_set1(1.0f / 6.0f), g[2]));
    const vf h = vf_mul(vf_set1(1.0f / 12.0f), g[1]);
    u[0] = vf_mul(vf_set1(0.25f), g[0]);
    u[1] = vf_mul(vf_set1(-1.0f / 6.0f), vf_add(sum, g[1]));
    u[2] = vf_mul(vf_set1(-1.0f / 6.0f), vf_sub(sum, g[1]));
    u[3] = vf_add(q, h);
    u[4] = vf_sub(q, h);
    u[5] = g[2];
}

/* One input row of a chunk of tiles (lane l: the tile whose window starts at column cs + 4l)
 * as its 6 columns, a vector each; zero outside the row's W columns. */
static inline void row4(const float *rp, int64_t W, int64_t cs, vf *d)
{
    vf a[4];
    for (int k = 0; k < 4; k++) {
        const int64_t c = cs + (int64_t)k * DL_VF_LEN;
        a[k] = vf_load_range(rp + c, -c, W - c);
    }
    vf_deinterleave4(a, d);
    const int64_t c = cs + 4 * (int64_t)DL_VF_LEN;
    d[4] = vf_shift_in(d[0], c >= 0 && c < W ? rp[c] : 0.0f);
    d[5] = vf_shift_in(d[1], c + 1 >= 0 && c + 1 < W ? rp[c + 1] : 0.0f);
}

static void input4(const float *plane, int64_t H, int64_t W, int64_t row0, int64_t col0,
                   int64_t n, float *v, int64_t ldx)
{
    for (int64_t l = 0; l < n; l += DL_VF_LEN) {
        vf d[6][6], t[6][6];
        for (int i = 0; i < 6; i++) {
            const int64_t row = row0 + i;
            if (row < 0 || row >= H) {
                for (int j = 0; j < 6; j++) d[i][j] = vf_zero();
                continue;
            }
            row4(plane + row * W, W, col0 + 4 * l, d[i]);
        }
        for (int j = 0; j < 6; j++) {
            vf c[6], o[6];
            for (int i = 0; i < 6; i++) c[i] = d[i][j];
            bt4(c, o);
            for (int i = 0; i < 6; i++) t[i][j] = o[i];
        }
        for (int i = 0; i < 6; i++) {
            vf o[6];
            bt4(t[i], o);
            for (int j = 0; j < 6; j++) vf_storeu(v + (i * 6 + j) * ldx + l, o[j]);
        }
    }
}

/* Output columns q0 .. q0 + 4*LEN - 1 of a run's row from its 4 column vectors (a lane per
 * tile), up to column `cols`. */
static inline void store_row(float *orow, int64_t q0, int64_t cols, const vf *y, int m)
{
    vf o[4];
    if (m == 4) vf_interleave4(y, o);
    else vf_interleave2(y, o);
    for (int k = 0; k < m; k++) {
        const int64_t q = q0 + (int64_t)k * DL_VF_LEN;
        if (q >= cols) break;
        store_lanes(orow + q, o[k], lanes_of(cols, q));
    }
}

static void output4(const float *mm, int64_t ldx, int64_t n, float bias, float *out,
                    int64_t ldo, int64_t rows, int64_t cols)
{
    const vf b = vf_set1(bias);
    for (int64_t l = 0; l < n; l += DL_VF_LEN) {
        vf t[4][6];
        for (int j = 0; j < 6; j++) {
            vf m[6], y[4];
            for (int i = 0; i < 6; i++) m[i] = vf_loadu(mm + (i * 6 + j) * ldx + l);
            at4(m, y);
            for (int i = 0; i < 4; i++) t[i][j] = y[i];
        }
        for (int i = 0; i < rows; i++) {
            vf y[4];
            at4(t[i], y);
            for (int j = 0; j < 4; j++) y[j] = vf_add(y[j], b);
            store_row(out + i * ldo, 4 * l, cols, y, 4);
        }
    }
}

static void filter4(const float *g, int64_t ldg, int64_t n, float *u, int64_t ldx)
{
    for (int64_t l = 0; l < n; l += DL_VF_LEN) {
        const size_t k = lanes_of(n, l);
        vf t[6][3];
        for (int s = 0; s < 3; s++) {
            vf c[3], o[6];
            for (int r = 0; r < 3; r++) c[r] = vf_loadu(g + (r * 3 + s) * ldg + l);
            g4(c, o);
            for (int i = 0; i < 6; i++) t[i][s] = o[i];
        }
        for (int i = 0; i < 6; i++) {
            vf o[6];
            g4(t[i], o);
            for (int j = 0; j < 6; j++) store_lanes(u + (i * 6 + j) * ldx + l, o[j], k);
        }
    }
}

/* ---- F(2x2, 3x3) ------------------------------------------------------------------------ */

static inline void bt2(const vf *d, vf *o)
{
    o[0] = vf_sub(d[0], d[2]);
    o[1] = vf_add(d[1], d[2]);
    o[2] = vf_sub(d[2], d[1]);
    o[3] = vf_sub(d[1], d[3]);
}

static inline void at2(const vf *m, vf *y)
{
    y[0] = vf_add(vf_add(m[0], m[1]), m[2]);
    y[1] = vf_sub(vf_sub(m[1], m[2]), m[3]);
}

static inline void g2(const vf *g, vf *u)
{
    const vf half = vf_set1(0.5f), sum = vf_add(g[0], g[2]);
    u[0] = g[0];
    u[1] = vf_mul(half, vf_add(sum, g[1]));
    u[2] = vf_mul(half, vf_sub(sum, g[1]));
    u[3] = g[2];
}

static void input2(const float *plane, int64_t H, int64_t W, int64_t row0, int64_t col0,
                   int64_t n, float *v, int64_t ldx)
{
    for (int64_t l = 0; l < n; l += DL_VF_LEN) {
        vf d[4][4], t[4][4];
        for (int i = 0; i < 4; i++) {
            const int64_t row = row0 + i;
            if (row < 0 || row >= H) {
                for (int j = 0; j < 4; j++) d[i][j] = vf_zero();
                continue;
            }
            const float *rp = plane + row * W;
            const int64_t cs = col0 + 2 * l;
            vf a[2];
            for (int q = 0; q < 2; q++) {
                const int64_t c = cs + (int64_t)q * DL_VF_LEN;
                a[q] = vf_load_range(rp + c, -c, W - c);
            }
            vf_deinterleave2(a, d[i]);
            const int64_t c = cs + 2 * (int64_t)DL_VF_LEN;
            d[i][2] = vf_shift_in(d[i][0], c >= 0 && c < W ? rp[c] : 0.0f);
            d[i][3] = vf_shift_in(d[i][1], c + 1 >= 0 && c + 1 < W ? rp[c + 1] : 0.0f);
        }
        for (int j = 0; j < 4; j++) {
            vf c[4], o[4];
            for (int i = 0; i < 4; i++) c[i] = d[i][j];
            bt2(c, o);
            for (int i = 0; i < 4; i++) t[i][j] = o[i];
        }
        for (int i = 0; i < 4; i++) {
            vf o[4];
            bt2(t[i], o);
            for (int j = 0; j < 4; j++) vf_storeu(v + (i * 4 + j) * ldx + l, o[j]);
        }
    }
}

static void output2(const float *mm, int64_t ldx, int64_t n, float bias, float *out,
                    int64_t ldo, int64_t rows, int64_t cols)
{
    const vf b = vf_set1(bias);
    for (int64_t l = 0; l < n; l += DL_VF_LEN) {
        vf t[2][4];
        for (int j = 0; j < 4; j++) {
            vf m[4], y[2];
            for (int i = 0; i < 4; i++) m[i] = vf_loadu(mm + (i * 4 + j) * ldx + l);
            at2(m, y);
            t[0][j] = y[0];
            t[1][j] = y[1];
        }
        for (int i = 0; i < rows; i++) {
            vf y[2];
            at2(t[i], y);
            y[0] = vf_add(y[0], b);
            y[1] = vf_add(y[1], b);
            store_row(out + i * ldo, 2 * l, cols, y, 2);
        }
    }
}

static void filter2(const float *g, int64_t ldg, int64_t n, float *u, int64_t ldx)
{
    for (int64_t l = 0; l < n; l += DL_VF_LEN) {
        const size_t k = lanes_of(n, l);
        vf t[4][3];
        for (int s = 0; s < 3; s++) {
            vf c[3], o[4];
            for (int r = 0; r < 3; r++) c[r] = vf_loadu(g + (r * 3 + s) * ldg + l);
            g2(c, o);
            for (int i = 0; i < 4; i++) t[i][s] = o[i];
        }
        for (int i = 0; i < 4; i++) {
            vf o[4];
            g2(t[i], o);
            for (int j = 0; j < 4; j++) store_lanes(u + (i * 4 + j) * ldx + l, o[j], k);
        }
    }
}

/* ---- the weight gradient's transforms (adjoints of the output and filter transforms) ----- */

/* One output-gradient row of a chunk of tiles (lane l: the tile whose window starts at column
 * cs + m*l) as its m columns, a vector each; zero outside the row's OW columns. */
static inline void grad_row(const float *rp, int64_t OW, int64_t cs, int m, vf *e)
{
    vf a[4];
    for (int k = 0; k < m; k++) {
        const int64_t c = cs + (int64_t)k * DL_VF_LEN;
        a[k] = vf_load_range(rp + c, -c, OW - c);
    }
    if (m == 4) vf_deinterleave4(a, e);
    else vf_deinterleave2(a, e);
}

/* o = A e for one column of 4 (A^T's rows as in at4) */
static inline void a4(const vf *e, vf *o)
{
    const vf s02 = vf_add(e[0], e[2]), s13 = vf_add(e[1], e[3]);
    const vf p = vf_fma(vf_set1(4.0f), e[2], e[0]);
    const vf q = vf_mul(vf_set1(2.0f), vf_fma(vf_set1(4.0f), e[3], e[1]));
    o[0] = e[0];
    o[1] = vf_add(s02, s13);
    o[2] = vf_sub(s02, s13);
    o[3] = vf_add(p, q);
    o[4] = vf_sub(p, q);
    o[5] = e[3];
}

/* o = A e for one column of 2 (A^T's rows as in at2) */
static inline void a2(const vf *e, vf *o)
{
    o[0] = e[0];
    o[1] = vf_add(e[0], e[1]);
    o[2] = vf_sub(e[0], e[1]);
    o[3] = vf_sub(vf_zero(), e[1]);
}

/* z = G^T m for one column of 6 (G's rows as in g4) */
static inline void gt4(const vf *m, vf *z)
{
    const vf s12 = vf_add(m[1], m[2]), s34 = vf_add(m[3], m[4]);
    const vf d21 = vf_sub(m[2], m[1]), d34 = vf_sub(m[3], m[4]);
    z[0] = vf_fma(vf_set1(0.25f), m[0],
                  vf_fma(vf_set1(-1.0f / 6.0f), s12, vf_mul(vf_set1(1.0f / 24.0f), s34)));
    z[1] = vf_fma(vf_set1(1.0f / 6.0f), d21, vf_mul(vf_set1(1.0f / 12.0f), d34));
    z[2] = vf_fma(vf_set1(1.0f / 6.0f), vf_sub(s34, s12), m[5]);
}

/* z = G^T m for one column of 4 (G's rows as in g2) */
static inline void gt2(const vf *m, vf *z)
{
    const vf half = vf_set1(0.5f), s12 = vf_add(m[1], m[2]);
    z[0] = vf_fma(half, s12, m[0]);
    z[1] = vf_mul(half, vf_sub(m[1], m[2]));
    z[2] = vf_fma(half, s12, m[3]);
}

/* E = A e A^T for the n tiles of a run, m = 4 (a = 6) or 2 (a = 4) */
#define GRAD_OUT(NAME, M, A, AT)                                                              \
    static void NAME(const float *plane, int64_t OH, int64_t OW, int64_t row0, int64_t col0,  \
                     int64_t n, float *e, int64_t ldx)                                        \
    {                                                                                         \
        for (int64_t l = 0; l < n; l += DL_VF_LEN) {                                          \
            vf d[M][M], t[A][M];                                                              \
            for (int i = 0; i < M; i++) {                                                     \
                const int64_t row = row0 + i;                                                 \
                if (row >= OH) {                                                              \
                    for (int j = 0; j < M; j++) d[i][j] = vf_zero();                          \
                    continue;                                                                 \
                }                                                                             \
                grad_row(plane + row * OW, OW, col0 + M * l, M, d[i]);                        \
            }                                                                                 \
            for (int j = 0; j < M; j++) {                                                     \
                vf c[M], o[A];                                                                \
                for (int i = 0; i < M; i++) c[i] = d[i][j];                                   \
                AT(c, o);                                                                     \
                for (int i = 0; i < A; i++) t[i][j] = o[i];                                   \
            }                                                                                 \
            for (int i = 0; i < A; i++) {                                                     \
                vf o[A];                                                                      \
                AT(t[i], o);                                                                  \
                for (int j = 0; j < A; j++) vf_storeu(e + (i * A + j) * ldx + l, o[j]);       \
            }                                                                                 \
        }                                                                                     \
    }

/* the 3 x 3 taps G^T M G of n lanes, a = 6 or 4 */
#define FILTER_GRAD(NAME, A, GT)                                                              \
    static void NAME(const float *mm, int64_t ldx, int64_t n, float *g, int64_t ldg)          \
    {                                                                                         \
        for (int64_t l = 0; l < n; l += DL_VF_LEN) {                                          \
            const size_t k = lanes_of(n, l);                                                  \
            vf t[A][3];                                                                       \
            for (int i = 0; i < A; i++) {                                                     \
                vf r[A], z[3];                                                                \
                for (int j = 0; j < A; j++) r[j] = vf_loadu(mm + (i * A + j) * ldx + l);      \
                GT(r, z);                                                                     \
                for (int s = 0; s < 3; s++) t[i][s] = z[s];                                   \
            }                                                                                 \
            for (int s = 0; s < 3; s++) {                                                     \
                vf c[A], z[3];                                                                \
                for (int i = 0; i < A; i++) c[i] = t[i][s];                                   \
                GT(c, z);                                                                     \
                for (int r = 0; r < 3; r++) store_lanes(g + (r * 3 + s) * ldg + l, z[r], k);  \
            }                                                                                 \
        }                                                                                     \
    }

GRAD_OUT(grad_out4, 4, 6, a4)
GRAD_OUT(grad_out2, 2, 4, a2)
FILTER_GRAD(filter_grad4, 6, gt4)
FILTER_GRAD(filter_grad2, 4, gt2)

/* x - x is 0 for every finite x and NaN for NaN and +-inf, and a sum of zeros stays 0 */
static int all_finite(const float *x, size_t n)
{
    vf a0 = vf_zero(), a1 = vf_zero();
    size_t i = 0;
    for (; i + 2 * DL_VF_LEN <= n; i += 2 * DL_VF_LEN) {
        const vf u = vf_loadu(x + i), w = vf_loadu(x + i + DL_VF_LEN);
        a0 = vf_add(a0, vf_sub(u, u));
        a1 = vf_add(a1, vf_sub(w, w));
    }
    for (; i < n; i += DL_VF_LEN) {
        const vf u = vf_load_part(x + i, lanes_of((int64_t)n, (int64_t)i), 0.0f);
        a0 = vf_add(a0, vf_sub(u, u));
    }
    return vf_reduce_add(vf_add(a0, a1)) == 0.0f;
}

const winograd_kernels_t DL_ISA_FN(winograd_kernels) = {
    {input2, output2, filter2, grad_out2, filter_grad2},
    {input4, output4, filter4, grad_out4, filter_grad4},
    all_finite,
};
