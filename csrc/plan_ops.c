/* The executor's data-movement and small kernels (portable C): strided copies (Transpose,
 * Slice, Concat, Expand, Pad, Tile are all one), fills, casts, Where, Gather, reductions and
 * the unary math functions. */
#include <math.h>
#include <string.h>

#include "dlcore/plan.h"
#include "dlcore/runtime.h"
#include "plan_kernels.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

#define COPY_GRAIN ((int64_t)1 << 18)   /* bytes per thread worth a fork */

/* rows [r0, r1) of a strided copy: every dim but the last walked by an odometer */
static void copy_rows(int64_t es, int nd, const int64_t *shape, const int64_t *ss,
                      const int64_t *ds, const char *src, char *dst, int64_t r0, int64_t r1)
{
    row_walk w;
    row_walk_at(&w, nd, shape, ss, ds, r0);
    const int64_t n = shape[nd - 1], si = ss[nd - 1], di = ds[nd - 1];
    for (int64_t r = r0; r < r1; r++, row_walk_next(&w, nd, shape, ss, ds)) {
        const char *s = src + w.o0 * es;
        char *t = dst + w.o1 * es;
        if (si == 1 && di == 1) {
            memcpy(t, s, (size_t)(n * es));
        } else if (es == 4) {
            const float *sf = (const float *)s;
            float *tf = (float *)t;
            for (int64_t j = 0; j < n; j++) tf[j * di] = sf[j * si];
        } else if (es == 8) {
            const int64_t *sf = (const int64_t *)s;
            int64_t *tf = (int64_t *)t;
            for (int64_t j = 0; j < n; j++) tf[j * di] = sf[j * si];
        } else {
            for (int64_t j = 0; j < n; j++) memcpy(t + j * di * es, s + j * si * es, (size_t)es);
        }
    }
}

void dl_plan_copy(const dl_plan_step *s, const char *src, char *dst)
{
    const int64_t *i = s->i;
    const int64_t es = i[0];
    const int nd = (int)i[1];
    if (nd == 0) {
        memcpy(dst, src, (size_t)es);
        return;
    }
    const int64_t *shape = i + 2, *ss = i + 10, *ds = i + 18;
    int64_t rows = 1;
    for (int d = 0; d < nd - 1; d++) rows *= shape[d];
    if (rows == 0 || shape[nd - 1] == 0) return;
    int nt = dl_threads_for((size_t)(rows * shape[nd - 1] * es), (size_t)COPY_GRAIN);
    if (nt > rows) nt = (int)rows;
    if (nt <= 1) {  /* no parallel region: even an if(false) one costs a libgomp team */
        copy_rows(es, nd, shape, ss, ds, src, dst, 0, rows);
        return;
    }
#ifdef DL_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (int t = 0; t < nt; t++)
        copy_rows(es, nd, shape, ss, ds, src, dst, rows * t / nt, rows * (t + 1) / nt);
}

void dl_plan_fill(const dl_plan_step *s, char *dst)
{
    const int64_t n = s->i[0], es = s->i[1];
    if (es == 4) {
        const float v = (float)s->f[0];
        float *y = (float *)dst;
        for (int64_t j = 0; j < n; j++) y[j] = v;
    } else if (es == 8) {
        const int64_t v = (int64_t)s->f[0];
        int64_t *y = (int64_t *)dst;
        for (int64_t j = 0; j < n; j++) y[j] = v;
    } else {
        memset(dst, (int)s->f[0], (size_t)(n * es));
    }
}

static double load_as_double(int type, const char *p, int64_t j)
{
    switch (type) {
    case DL_TYPE_F32: return ((const float *)p)[j];
    case DL_TYPE_F64: return ((const double *)p)[j];
    case DL_TYPE_I64: return (double)((const int64_t *)p)[j];
    case DL_TYPE_I32: return ((const int32_t *)p)[j];
    default: return ((const uint8_t *)p)[j];
    }
}

void dl_plan_cast(const dl_plan_step *s, const char *x, char *y)
{
    const int from = (int)s->i[0], to = (int)s->i[1];
    const int64_t n = s->i[2];
    if (from == DL_TYPE_I64 && to == DL_TYPE_I32) {
        for (int64_t j = 0; j < n; j++) ((int32_t *)y)[j] = (int32_t)((const int64_t *)x)[j];
        return;
    }
    if (from == DL_TYPE_I32 && to == DL_TYPE_I64) {
        for (int64_t j = 0; j < n; j++) ((int64_t *)y)[j] = ((const int32_t *)x)[j];
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        double v = load_as_double(from, x, j);
        switch (to) {
        case DL_TYPE_F32: ((float *)y)[j] = (float)v; break;
        case DL_TYPE_F64: ((double *)y)[j] = v; break;
        case DL_TYPE_I64: ((int64_t *)y)[j] = (int64_t)v; break;
        case DL_TYPE_I32: ((int32_t *)y)[j] = (int32_t)v; break;
        default: ((uint8_t *)y)[j] = (uint8_t)(v != 0.0); break;
        }
    }
}

void dl_plan_where(const dl_plan_step *s, const uint8_t *c, const char *a, const char *b,
                   char *y)
{
    const int64_t *i = s->i;
    const int64_t es = i[0];
    const int nd = (int)i[1];
    const int64_t *shape = i + 2, *sc = i + 8, *sa = i + 14, *sb = i + 20;
    int64_t total = 1;
    for (int d = 0; d < nd; d++) total *= shape[d];
    int64_t idx[6] = {0}, oc = 0, oa = 0, ob = 0;
    for (int64_t j = 0; j < total; j++) {
        memcpy(y + j * es, c[oc] ? a + oa * es : b + ob * es, (size_t)es);
        for (int d = nd - 1; d >= 0; d--) {
            oc += sc[d];
            oa += sa[d];
            ob += sb[d];
            if (++idx[d] < shape[d]) break;
            oc -= sc[d] * shape[d];
            oa -= sa[d] * shape[d];
            ob -= sb[d] * shape[d];
            idx[d] = 0;
        }
    }
}

int dl_plan_gather(const dl_plan_step *s, const char *data, const char *idx, char *out,
                   int64_t *bad)
{
    const int64_t outer = s->i[0], axis = s->i[1], inner = s->i[2], n = s->i[3], ies = s->i[4];
    /* every index checked before anything is written */
    for (int64_t j = 0; j < n; j++) {
        int64_t k = ies == 8 ? ((const int64_t *)idx)[j] : ((const int32_t *)idx)[j];
        if (k < -axis || k >= axis) {
            *bad = k;
            return -1;
        }
    }
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < n; j++) {
            int64_t k = ies == 8 ? ((const int64_t *)idx)[j] : ((const int32_t *)idx)[j];
            if (k < 0) k += axis;
            memcpy(out + (o * n + j) * inner, data + (o * axis + k) * inner, (size_t)inner);
        }
    }
    return 0;
}

void dl_plan_reduce(const dl_plan_step *s, const float *x, float *y)
{
    const int op = (int)s->i[0];
    const int64_t outer = s->i[1], red = s->i[2], inner = s->i[3];
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t k = 0; k < inner; k++) {
            const float *p = x + o * red * inner + k;
            double acc = op == DL_RED_SUM || op == DL_RED_MEAN ? 0.0 : p[0];
            for (int64_t r = 0; r < red; r++) {
                float v = p[r * inner];
                if (op == DL_RED_SUM || op == DL_RED_MEAN) acc += v;
                else if (op == DL_RED_MAX) acc = (v > acc || v != v) ? v : acc;
                else acc = (v < acc || v != v) ? v : acc;
            }
            if (op == DL_RED_MEAN) acc /= (double)red;
            y[o * inner + k] = (float)acc;
        }
    }
}

void dl_plan_unary(const dl_plan_step *s, const float *x, float *y)
{
    const int op = (int)s->i[0];
    const int64_t n = s->i[1];
    switch (op) {
    case DL_UN_NEG: for (int64_t j = 0; j < n; j++) y[j] = -x[j]; break;
    case DL_UN_EXP: for (int64_t j = 0; j < n; j++) y[j] = expf(x[j]); break;
    case DL_UN_LOG: for (int64_t j = 0; j < n; j++) y[j] = logf(x[j]); break;
    case DL_UN_LOG1P: for (int64_t j = 0; j < n; j++) y[j] = log1pf(x[j]); break;
    case DL_UN_SQRT: for (int64_t j = 0; j < n; j++) y[j] = sqrtf(x[j]); break;
    case DL_UN_ABS: for (int64_t j = 0; j < n; j++) y[j] = fabsf(x[j]); break;
    case DL_UN_SIN: for (int64_t j = 0; j < n; j++) y[j] = sinf(x[j]); break;
    default: for (int64_t j = 0; j < n; j++) y[j] = cosf(x[j]); break;
    }
}
