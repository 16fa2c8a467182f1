/* The executor's elementwise float32 kernels, compiled once per ISA (setup.py): broadcast
 * binary arithmetic over up to 6 dims, and the row sum of the fused residual LayerNorm.
 * Plain loops the compiler vectorizes for each ISA's flags. */
#include <math.h>
#include <stdint.h>
#include <stddef.h>

#include "dlcore/plan.h"
#include "simd.h"
#include "plan_kernels.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

#define BIN_GRAIN ((int64_t)1 << 16)

#define BIN_LOOP(EXPR)                                                                        \
    if (sa == 1 && sb == 1) {                                                                 \
        for (int64_t j = 0; j < n; j++) { float x = a[j], z = b[j]; y[j] = (EXPR); }          \
    } else if (sa == 1 && sb == 0) {                                                          \
        const float z = b[0];                                                                 \
        for (int64_t j = 0; j < n; j++) { float x = a[j]; y[j] = (EXPR); }                    \
    } else if (sa == 0 && sb == 1) {                                                          \
        const float x = a[0];                                                                 \
        for (int64_t j = 0; j < n; j++) { float z = b[j]; y[j] = (EXPR); }                    \
    } else {                                                                                  \
        for (int64_t j = 0; j < n; j++) { float x = a[j * sa], z = b[j * sb]; y[j] = (EXPR); } \
    }

/* y[0..n) = a op b along one row (strides sa, sb in elements) */
static void bin_row(int op, int64_t n, const float *a, int64_t sa, const float *b, int64_t sb,
                    float *y, int relu)
{
    switch (op) {
    case DL_BIN_ADD: BIN_LOOP(x + z) break;
    case DL_BIN_SUB: BIN_LOOP(x - z) break;
    case DL_BIN_MUL: BIN_LOOP(x * z) break;
    case DL_BIN_DIV: BIN_LOOP(x / z) break;
    case DL_BIN_MAX: BIN_LOOP((x > z || x != x) ? x : z) break;
    case DL_BIN_MIN: BIN_LOOP((x < z || x != x) ? x : z) break;
    default: BIN_LOOP(powf(x, z)) break;
    }
    if (relu)
        for (int64_t j = 0; j < n; j++) y[j] = y[j] > 0.0f ? y[j] : (y[j] != y[j] ? y[j] : 0.0f);
}

/* rows [r0, r1) of the (outer = prod(shape[:-1]), shape[-1]) view; when ndim is 1 the "rows"
 * are pieces of the one dim */
static void bin_rows(int op, int ndim, const int64_t *shape, const int64_t *sa,
                     const int64_t *sb, const float *a, const float *b, float *y, int relu,
                     int64_t r0, int64_t r1)
{
    const int64_t n = shape[ndim - 1];
    row_walk w;
    row_walk_at(&w, ndim, shape, sa, sb, r0);
    for (int64_t r = r0; r < r1; r++, row_walk_next(&w, ndim, shape, sa, sb))
        bin_row(op, n, a + w.o0, sa[ndim - 1], b + w.o1, sb[ndim - 1], y + r * n, relu);
}

static void binary_f32(int op, int ndim, const int64_t *shape, const int64_t *sa,
                       const int64_t *sb, const float *a, const float *b, float *y, int relu,
                       int nthreads)
{
    int64_t total = 1;
    for (int d = 0; d < ndim; d++) total *= shape[d];
    if (total == 0) return;
    int nt = (int)(total / BIN_GRAIN);
    if (nt > nthreads) nt = nthreads;
    if (nt < 1) nt = 1;
    if (ndim == 1) {
        const int64_t n = shape[0], s0 = sa[0], s1 = sb[0];
        const int64_t piece = (n + nt - 1) / nt;
        if (nt == 1) {  /* no parallel region (see below) */
            bin_row(op, n, a, s0, b, s1, y, relu);
            return;
        }
#ifdef DL_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
        for (int t = 0; t < nt; t++) {
            int64_t j0 = t * piece, j1 = j0 + piece < n ? j0 + piece : n;
            if (j0 < j1)
                bin_row(op, j1 - j0, a + j0 * s0, s0, b + j0 * s1, s1, y + j0, relu);
        }
        return;
    }
    const int64_t rows = total / shape[ndim - 1];
    if (rows < nt) nt = (int)rows;
    /* One thread calls the rows directly: even an if(false) parallel region costs a team
     * start and end in libgomp, ~0.8 us with a futex wake on a Zen 3 VM (a plan of one-element
     * Adds spent most of its ~0.9 us per step there). */
    if (nt <= 1) {
        bin_rows(op, ndim, shape, sa, sb, a, b, y, relu, 0, rows);
        return;
    }
#ifdef DL_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (int t = 0; t < nt; t++) {
        int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
        if (r0 < r1) bin_rows(op, ndim, shape, sa, sb, a, b, y, relu, r0, r1);
    }
}

static void add_rows_f32(size_t n, const float *a, const float *b, float *y)
{
    size_t i = 0;
    for (; i + DL_VF_LEN <= n; i += DL_VF_LEN)
        vf_storeu(y + i, vf_add(vf_loadu(a + i), vf_loadu(b + i)));
    for (; i < n; i++) y[i] = a[i] + b[i];
}

/* y[p] = mean of plane p's n values (global average pooling): whole vectors, a masked tail,
 * one horizontal sum per plane.  MobileNetV2's 1280 planes of 49 took 40 us through the pool
 * family's general adaptive windows, a scalar loop per output. */
static void plane_means_f32(size_t planes, size_t n, const float *x, float *y)
{
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * n;
        vf s0 = vf_zero(), s1 = vf_zero();
        size_t j = 0;
        for (; j + 2 * DL_VF_LEN <= n; j += 2 * DL_VF_LEN) {
            s0 = vf_add(s0, vf_loadu(xp + j));
            s1 = vf_add(s1, vf_loadu(xp + j + DL_VF_LEN));
        }
        for (; j + DL_VF_LEN <= n; j += DL_VF_LEN) s0 = vf_add(s0, vf_loadu(xp + j));
        if (j < n) s1 = vf_add(s1, vf_load_part(xp + j, n - j, 0.0f));
        y[p] = vf_reduce_add(vf_add(s0, s1)) / (float)n;
    }
}

const plan_kernels_t DL_ISA_FN(plan_kernels) = {binary_f32, add_rows_f32, plane_means_f32};
