/* Max/average/adaptive pooling, index scatter/gather (max-pool backward, max-unpool) and
 * nearest/bilinear upsampling (see dlcore/pool.h).  Written once in pool_impl.h. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "dlcore/pool.h"
#include "dlcore/runtime.h"
#include "pool_kernels.h"

/* window reads below which a call stays on one thread */
#define POOL_GRAIN ((size_t)1 << 16)
/* output columns per pass of the general max pooling (its stack buffers) */
#define POOL_CHUNK ((int64_t)64)

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* the passes of pool_impl.h's adaptive_pass */
enum { AD_AVG_FWD, AD_AVG_BWD, AD_MAX_FWD };
static inline int64_t ad_start(int64_t o, int64_t out, int64_t in) { return (o * in) / out; }
static inline int64_t ad_end(int64_t o, int64_t out, int64_t in)
{
    return ((o + 1) * in + out - 1) / out;
}

static inline int64_t near_src(int64_t o, float scale, int64_t in)
{
    const int64_t i = (int64_t)floorf((float)o * scale);
    return i < in - 1 ? i : in - 1;
}

/* the generic path has no vector 2x2 kernels */
const pool_kernels_t pool_kernels_generic = {NULL, NULL};

/* float32 2x2 rows go to the ISA's vector kernel when it has one (pool2x2_avx512.c,
 * pool2x2_avx2.c) */
static inline int pool2x2_row_simd_f32(const float *r0, const float *r1, float *y, int64_t ow)
{
    void (*const row)(const float *, const float *, float *, int64_t) =
        pool_kernels()->maxpool2x2_row;
    if (!row) return 0;
    row(r0, r1, y, ow);
    return 1;
}

static inline int pool2x2_row_idx_simd_f32(const float *r0, const float *r1, float *y,
                                           int64_t *idx, int64_t ow, int64_t base, int64_t W)
{
    void (*const row)(const float *, const float *, float *, int64_t *, int64_t, int64_t,
                      int64_t) = pool_kernels()->maxpool2x2_row_idx;
    if (!row) return 0;
    row(r0, r1, y, idx, ow, base, W);
    return 1;
}

/* no vector kernels for float64 */
static inline int pool2x2_row_simd_f64(const double *r0, const double *r1, double *y,
                                       int64_t ow)
{
    (void)r0, (void)r1, (void)y, (void)ow;
    return 0;
}

static inline int pool2x2_row_idx_simd_f64(const double *r0, const double *r1, double *y,
                                           int64_t *idx, int64_t ow, int64_t base, int64_t W)
{
    (void)r0, (void)r1, (void)y, (void)idx, (void)ow, (void)base, (void)W;
    return 0;
}

#define DL_TEMPLATE "pool_impl.h"
#include "each_dtype.h"
