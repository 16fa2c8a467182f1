/* Winograd convolution (float32), the conv family's third algorithm beside im2col + GEMM and
 * the depthwise kernel; conv.c calls it for stride-1, dilation-1, 3x3, groups == 1
 * convolutions (forward, and the input gradient, which is such a convolution of gy with the
 * flipped, transposed filter) when dl_winograd_pick says it pays.
 *
 * One description covers both directions: a 3x3 correlation
 *     out[n, k, i, j] = bias[k] + sum_{c, r, s} f(k, c, r, s) * in[n, c, i - ph + r, j - pw + s]
 * (reads outside `in` are zero; ph, pw may be any integers, negative too), with the filter
 * element f(k, c, r, s) at w[k*wk + c*wc + (flip ? 8 - 3r - s : 3r + s)].
 */
#ifndef DLCORE_WINOGRAD_H
#define DLCORE_WINOGRAD_H

#include <stddef.h>
#include <stdint.h>
#include "dlcore/conv.h"   /* dl_wino_cache_clear, dl_wino_cache_stats */

typedef struct {
    int64_t N, C, H, W;     /* input: batch, channels, rows, columns */
    int64_t K, OH, OW;      /* output channels, rows, columns */
    int64_t ph, pw;         /* output (0, 0) reads input (-ph, -pw) */
    const float *w;
    int64_t wk, wc;         /* filter strides of the output and input channel */
    int flip;               /* taps in reverse order (the input gradient) */
    int cache;              /* 1: the filter transform may come from / go to the cache */
    uint64_t token;         /* with cache: the weights' seal token, 0 for none */
} dl_wino_conv;

/* The output tile size Winograd would use for c: 4 (F(4x4, 3x3)), 2 (F(2x2, 3x3)), or 0 when
 * im2col + GEMM is expected to be faster (the cost model in winograd.c).  `isa` is a dl_isa_t. */
int dl_winograd_pick(const dl_wino_conv *c, int isa);

/* The cheaper of F(4x4) and F(2x2) for c, ignoring im2col (for a forced Winograd). */
int dl_winograd_tile_size(const dl_wino_conv *c, int isa);

/* out = the correlation above, computed with F(m x m, 3 x 3), m = 2 or 4; bias may be NULL.
 * Returns 0; -1 when scratch memory could not be allocated; -2, with out untouched, when a
 * filter value is NaN or infinite (the caller then runs im2col, see conv.c). */
int dl_winograd_conv_f32(const dl_wino_conv *c, int m, const float *in, const float *bias,
                         float *out);

/* Filters transformed once for many calls (the inference plan, csrc/plan_winograd.c): U of
 * dl_winograd_packed_floats(c, m, isa) floats gets c->w's transform for tile size m and ISA
 * isa (0; -2 when a weight is NaN or infinite: then run im2col); the convolution on it runs
 * that ISA's kernels, as dl_winograd_conv_f32 does on the current one (c->cache unused). */
size_t dl_winograd_packed_floats(const dl_wino_conv *c, int m, int isa);
int dl_winograd_pack(const dl_wino_conv *c, int m, int isa, float *U);
int dl_winograd_conv_packed_f32(const dl_wino_conv *c, int m, int isa, const float *U,
                                const float *in, const float *bias, float *out);

/* The forward of p as a Winograd correlation (conv.c), with the tile size the current
 * setting and ISA give a call whose filter transform is already made (the cost model's
 * filter term left out, as for an inference call that finds it cached); 0 when Winograd
 * does not apply or im2col is expected to be faster. */
int dl_conv2d_wino_fwd_cached(const dl_conv_params *p, const float *w, dl_wino_conv *c);

/* The cache of filter transforms (winograd_cache.c), for calls with c->cache set (inference:
 * the same weights call after call).  An entry is found by the weights' address, shape,
 * direction, m and ISA and used when c->token is the nonzero seal token the entry was
 * last made or checked under, else only when the weights still equal, byte for byte, a copy
 * taken when it was made.  find returns the packed U (marked in use until release) or NULL;
 * offer hands a freshly packed U over to the cache (1: taken, the cache frees it later; 0:
 * the caller keeps it).  wlen = K*C*9 floats of weights, ulen the floats of U. */
float *dl_wino_cache_find(const dl_wino_conv *c, int m, int isa, size_t wlen, size_t ulen);
void dl_wino_cache_release(const float *U);
int dl_wino_cache_offer(const dl_wino_conv *c, int m, int isa, size_t wlen, float *U,
                        size_t ulen);

/* The weight gradient of the correlation above (winograd_wgrad.c): c's w, wk, wc and flip
 * are unused, and gw (K x C x 3 x 3) gets
 *     gw[k, c, r, s] = sum_{n, i, j} out_grad[n, k, i, j] * in[n, c, i - ph + r, j - pw + s]
 * computed with F(m x m, 3 x 3)'s transforms, m = 2 or 4.  dl_winograd_wgrad_pick gives the
 * tile size when that is expected to beat im2col (0 otherwise), dl_winograd_wgrad_tile_size
 * the cheaper one regardless.  Returns 0, or -1 when scratch memory could not be allocated
 * (gw is then undefined).  Operands must be finite (the caller checks: the transforms would
 * turn an infinity into NaN where im2col gives +-inf). */
int dl_winograd_wgrad_pick(const dl_wino_conv *c, int isa);
int dl_winograd_wgrad_tile_size(const dl_wino_conv *c, int isa);
int dl_winograd_wgrad_f32(const dl_wino_conv *c, int m, const float *in, const float *out_grad,
                          float *gw);

#endif
