/* 2-D convolution on NCHW tensors: forward, input gradient, weight and bias gradients.
 *
 * One parameter block describes a convolution
 *     y[n, k, oh, ow] = bias[k] + sum_{c in group(k), r, s}
 *                        w[k, c - g*Cg, r, s] * x[n, c, oh*sh - ph + r*dh, ow*sw - pw + s*dw]
 * with x (N, C, H, W), w (K, C/groups, R, S), y (N, K, OH, OW); reads outside x are zero.
 * The caller (the Python layer) has checked the shapes: C and K divisible by groups, every size
 * positive, OH/OW consistent with the rest (conv_transpose2d passes a larger OH than the formula
 * gives when it has output_padding; the kernels only need each read to be range-checked).
 *
 * conv_transpose2d is the adjoint of conv2d: its forward is dl_conv2d_bwd_data with the
 * transposed convolution's output as "x", its backward is dl_conv2d_fwd plus
 * dl_conv2d_bwd_weight.  `bias_init` in bwd_data (length C, or NULL for zeros) is the
 * transposed convolution's bias.
 *
 * Algorithms: im2col + GEMM (dl_sgemm/dl_dgemm, bias fused as DL_BIAS_COL) tiled over
 * (image, block of output positions); 1x1 stride-1 unpadded convolutions hand x straight to
 * the GEMM; groups == C (depthwise, any channel multiplier) runs a direct SIMD kernel;
 * float32 3x3 stride-1 dilation-1 groups-1 forward and input gradient may run Winograd
 * F(4x4, 3x3) or F(2x2, 3x3) (csrc/winograd.c) where its cost model says it is faster.
 * Workspace: the im2col column tile of each thread holds at most DL_CONV_COL_BYTES (8 MiB)
 * unless a single block of 16 output positions needs more (C/groups*R*S*16 elements); the
 * weight gradient adds one private copy of w per thread when threads split the batch, and
 * float32 packs w once per call for the GEMM (about the size of w), shared by the threads.
 * A large batch therefore never allocates a batch-sized buffer.  For small output maps the
 * column tile is built and consumed in chunks of channels (about 256 KB, one GEMM K block)
 * so that it stays in L2 between im2col and the GEMM.  Output maps under 128 pixels put
 * several images side by side in one GEMM tile; their im2col / col2im run per whole image
 * through one image's zero-padded input planes (C/groups * Hp * Wp elements more per thread,
 * Hp x Wp the padded extent the convolution reads), so that no run needs a bounds check.
 *
 * Threads: when there are enough tiles the images (or tiles) are split over threads and each
 * GEMM runs on one thread; otherwise the tiles run in order and each GEMM is threaded.
 * Every function returns 0, or -1 when scratch memory could not be allocated.
 */
#ifndef DLCORE_CONV_H
#define DLCORE_CONV_H

#include <stddef.h>
#include <stdint.h>

#define DL_CONV_COL_BYTES ((size_t)8 << 20)

/* The column-tile budget in bytes (DL_CONV_COL_BYTES unless set; 0 restores it).  Tests lower
 * it to exercise the tiling on small shapes. */
size_t dl_conv_col_bytes(void);
void dl_conv_set_col_bytes(size_t bytes);

/* Which algorithm float32 convolutions use: AUTO (the cost model in winograd.c picks per
 * shape), IM2COL (never Winograd), WINOGRAD (wherever it applies, the cheaper tile size), or
 * WINOGRAD2 / WINOGRAD4 (wherever it applies, that tile size).  Starts from the environment
 * variable DLCORE_CONV_ALGO = auto | im2col | winograd | winograd2x2 | winograd4x4 (default
 * auto).  AUTO and WINOGRAD* both run im2col when the input or the weights hold a NaN or an
 * infinity: Winograd's transforms would spread it to outputs that never read it. */
typedef enum {
    DL_CONV_ALGO_AUTO = 0, DL_CONV_ALGO_IM2COL = 1, DL_CONV_ALGO_WINOGRAD = 2,
    DL_CONV_ALGO_WINOGRAD2 = 3, DL_CONV_ALGO_WINOGRAD4 = 4
} dl_conv_algo_t;
void dl_conv_set_algo(int algo);
int dl_conv_get_algo(void);

/* Whether the calling thread's float32 forward / input-gradient calls may keep and reuse
 * Winograd filter transforms (winograd_cache.c: trusted under the weights' seal token, else
 * checked against their bytes, so a changed weight is never served stale); off by default, the Python layer turns it
 * on for calls that record no gradient.  Returns the previous setting. */
int dl_conv_cache_weights(int on);
/* The seal token of the weights of the calling thread's next cached calls (0: none; see
 * dlcore/autograd/sealed.py): an entry made or checked under a nonzero token is trusted
 * without comparing the weights while calls bring that same token.  The caller promises the
 * weights' bytes do not change while it hands out a token.  Returns the previous one. */
uint64_t dl_conv_weight_token(uint64_t token);
/* Cache hits that were trusted by their token (no compare) so far. */
size_t dl_wino_cache_trusted(void);
/* Empties that cache (entries in use stay) and zeroes its counts; its entries, bytes held,
 * hits and misses so far. */
void dl_wino_cache_clear(void);
void dl_wino_cache_stats(size_t *entries, size_t *bytes, size_t *hits, size_t *misses);

typedef struct {
    int64_t N, C, H, W;   /* input batch, channels, rows, columns */
    int64_t K, R, S;      /* output channels, kernel rows, kernel columns */
    int64_t OH, OW;       /* output rows, columns */
    int64_t sh, sw;       /* strides */
    int64_t ph, pw;       /* zero padding (top/left; bottom/right follow from OH, OW) */
    int64_t dh, dw;       /* dilation */
    int64_t groups;
} dl_conv_params;

/* What the float32 forward (pass = 0), input gradient (1) or weight gradient (2) of p runs
 * under the current setting and ISA: 0 im2col + GEMM (or the pointwise / depthwise path),
 * 2 Winograd F(2x2, 3x3), 4 Winograd F(4x4, 3x3). */
int dl_conv2d_algo_f32(const dl_conv_params *p, int pass);
/* The forward's choice (0, 2 or 4) when the filter transform is already made (an inference
 * plan transforms its weights once; eager inference finds them in its cache). */
int dl_conv2d_algo_cached_f32(const dl_conv_params *p);

int dl_conv2d_fwd_f32(const dl_conv_params *p, const float *x, const float *w,
                      const float *bias, float *y);
int dl_conv2d_fwd_f64(const dl_conv_params *p, const double *x, const double *w,
                      const double *bias, double *y);

/* gx = conv2d's input gradient for gy (overwritten; starts from bias_init when not NULL) */
int dl_conv2d_bwd_data_f32(const dl_conv_params *p, const float *gy, const float *w,
                           const float *bias_init, float *gx);
int dl_conv2d_bwd_data_f64(const dl_conv_params *p, const double *gy, const double *w,
                           const double *bias_init, double *gx);

/* gw (K, C/groups, R, S) overwritten with the weight gradient; gb (K) too unless NULL. */
int dl_conv2d_bwd_weight_f32(const dl_conv_params *p, const float *x, const float *gy,
                             float *gw, float *gb);
int dl_conv2d_bwd_weight_f64(const dl_conv_params *p, const double *x, const double *gy,
                             double *gw, double *gb);

/* out[c] = sum over n, l of x[n, c, l] for x (N, C, L): bias gradients. */
void dl_channel_sum_f32(int64_t N, int64_t C, int64_t L, const float *x, float *out);
void dl_channel_sum_f64(int64_t N, int64_t C, int64_t L, const double *x, double *out);

#endif
