/* Per-ISA kernel of the cached attention (see dlcore/kvcache.h): one query row over S cached
 * positions, reading the cache in place (no packing: a decoding step touches each cached key
 * and value once, so there is nothing to amortise a copy over).  Three passes over short
 * rows: scores and their max, exponentials and their sum, the weighted sum of the values. */
#include <math.h>

#include "dlcore/kvcache.h"
#include "simd.h"
#include "kvcache_kernels.h"

static float dot_f32(size_t n, const float *a, const float *b)
{
    vf a0 = vf_zero(), a1 = vf_zero();
    size_t i = 0;
    for (; i + 2 * DL_VF_LEN <= n; i += 2 * DL_VF_LEN) {
        a0 = vf_fma(vf_loadu(a + i), vf_loadu(b + i), a0);
        a1 = vf_fma(vf_loadu(a + i + DL_VF_LEN), vf_loadu(b + i + DL_VF_LEN), a1);
    }
    for (; i + DL_VF_LEN <= n; i += DL_VF_LEN) a0 = vf_fma(vf_loadu(a + i), vf_loadu(b + i), a0);
    float s = vf_reduce_add(vf_add(a0, a1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* o[0..n) += p * v[0..n) */
static void axpy_f32(size_t n, float p, const float *v, float *o)
{
    vf vp = vf_set1(p);
    size_t i = 0;
    for (; i + DL_VF_LEN <= n; i += DL_VF_LEN)
        vf_storeu(o + i, vf_fma(vp, vf_loadu(v + i), vf_loadu(o + i)));
    for (; i < n; i++) o[i] += p * v[i];
}

/* s[j] = dot(q, key j) for j < S: four keys at a time with one shared horizontal sum where
 * D is whole vectors (a prompt's rows attend to tens of keys: the per-dot reduction was most
 * of their cost) */
static void scores(size_t S, size_t D, const float *q, const float *k, float *s)
{
    size_t j = 0;
    if (D % DL_VF_LEN == 0) {
        for (; j + 4 <= S; j += 4) {
            const float *k0 = k + j * D;
            vf a0 = vf_zero(), a1 = vf_zero(), a2 = vf_zero(), a3 = vf_zero();
            for (size_t i = 0; i < D; i += DL_VF_LEN) {
                vf qv = vf_loadu(q + i);
                a0 = vf_fma(qv, vf_loadu(k0 + i), a0);
                a1 = vf_fma(qv, vf_loadu(k0 + D + i), a1);
                a2 = vf_fma(qv, vf_loadu(k0 + 2 * D + i), a2);
                a3 = vf_fma(qv, vf_loadu(k0 + 3 * D + i), a3);
            }
            vf_reduce_add4(a0, a1, a2, a3, s + j);
        }
    }
    for (; j < S; j++) s[j] = dot_f32(D, q, k + j * D);
}

static void attend_row(size_t S, size_t D, const float *q, const float *k, const float *v,
                       float scale, float *s, float *out)
{
    float m = -INFINITY;
    scores(S, D, q, k, s);
    for (size_t j = 0; j < S; j++) {
        float x = scale * s[j];
        s[j] = x;
        if (x > m || x != x) m = x;          /* a NaN score makes the row NaN */
    }
    if (m != m) {
        for (size_t i = 0; i < D; i++) out[i] = m;
        return;
    }
    /* every score is finite or -inf here; all -inf (overflowed) leaves m = -inf: NaN row,
     * as softmax over -inf scores gives */
    vf vm = vf_set1(m), acc = vf_zero();
    size_t j = 0;
    for (; j + DL_VF_LEN <= S; j += DL_VF_LEN) {
        vf e = vf_exp_nonpos(vf_sub(vf_loadu(s + j), vm));
        vf_storeu(s + j, e);
        acc = vf_add(acc, e);
    }
    float l = vf_reduce_add(acc);
    for (; j < S; j++) {
        float e = expf(s[j] - m);
        s[j] = e;
        l += e;
    }
    const float inv = 1.0f / l;
    if (D % DL_VF_LEN == 0) {
        /* a vector of out in registers over all keys (two chains), instead of a load and
         * store of out per key */
        for (size_t i = 0; i < D; i += DL_VF_LEN) {
            vf o0 = vf_zero(), o1 = vf_zero();
            for (j = 0; j + 2 <= S; j += 2) {
                o0 = vf_fma(vf_set1(s[j]), vf_loadu(v + j * D + i), o0);
                o1 = vf_fma(vf_set1(s[j + 1]), vf_loadu(v + (j + 1) * D + i), o1);
            }
            if (j < S) o0 = vf_fma(vf_set1(s[j]), vf_loadu(v + j * D + i), o0);
            vf_storeu(out + i, vf_mul(vf_add(o0, o1), vf_set1(inv)));
        }
        return;
    }
    for (size_t i = 0; i < D; i++) out[i] = 0.0f;
    for (j = 0; j < S; j++) axpy_f32(D, s[j], v + j * D, out);
    for (size_t i = 0; i < D; i++) out[i] *= inv;
}

const kvcache_kernels_t DL_ISA_FN(kvcache_kernels) = {attend_row};
