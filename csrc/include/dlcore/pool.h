/* 2-D pooling and resampling on NCHW planes, forward and backward, float and double.
 *
 * Every function works plane by plane (N*C planes of H x W in, OH x OW out), threads split
 * the planes.  Output sizes, padding limits and ceil_mode are settled by the caller; the
 * kernels range-check every read.  Max-pool indices are flat offsets into the input plane
 * (ih * W + iw), as PyTorch returns them; NaN wins a max (the last NaN seen), ties keep
 * the first position.  Backward functions overwrite gx.
 */
#ifndef DLCORE_POOL_H
#define DLCORE_POOL_H

#include <stdint.h>

typedef struct {
    int64_t planes, H, W, OH, OW;
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
} dl_pool_params;

/* idx may be NULL (inference: no indices kept) */
void dl_maxpool2d_fwd_f32(const dl_pool_params *p, const float *x, float *y, int64_t *idx);
void dl_maxpool2d_fwd_f64(const dl_pool_params *p, const double *x, double *y, int64_t *idx);
/* float32 max pooling without indices on the inference plan's kernels (pool_routes.c): 0
 * when p is not a form they take (nothing written), else 1 with *rc the result (0, or -1
 * when scratch memory could not be allocated). */
int dl_maxpool2d_route_f32(const dl_pool_params *p, const float *x, float *y, int *rc);

/* gx[plane, idx[plane, o]] += gy[plane, o], gx zeroed first; indices outside the H*W plane
 * are skipped and counted: returns how many (0 for indices this library produced). */
int64_t dl_index_scatter2d_f32(int64_t planes, int64_t in_size, int64_t out_size,
                               const float *gy, const int64_t *idx, float *gx);
int64_t dl_index_scatter2d_f64(int64_t planes, int64_t in_size, int64_t out_size,
                               const double *gy, const int64_t *idx, double *gx);
/* y[plane, o] = x[plane, idx[plane, o]] (the adjoint); bad indices give 0 and are counted */
int64_t dl_index_gather2d_f32(int64_t planes, int64_t in_size, int64_t out_size,
                              const float *x, const int64_t *idx, float *y);
int64_t dl_index_gather2d_f64(int64_t planes, int64_t in_size, int64_t out_size,
                              const double *x, const int64_t *idx, double *y);

/* divisor > 0 overrides the window size (divisor_override) */
void dl_avgpool2d_fwd_f32(const dl_pool_params *p, const float *x, float *y,
                          int count_include_pad, int64_t divisor);
void dl_avgpool2d_fwd_f64(const dl_pool_params *p, const double *x, double *y,
                          int count_include_pad, int64_t divisor);
void dl_avgpool2d_bwd_f32(const dl_pool_params *p, const float *gy, float *gx,
                          int count_include_pad, int64_t divisor);
void dl_avgpool2d_bwd_f64(const dl_pool_params *p, const double *gy, double *gx,
                          int count_include_pad, int64_t divisor);

/* adaptive pooling: window o covers [floor(o*In/Out), ceil((o+1)*In/Out)) per axis; only
 * planes, H, W, OH, OW of the parameter block are read */
void dl_adaptive_avgpool2d_fwd_f32(const dl_pool_params *p, const float *x, float *y);
void dl_adaptive_avgpool2d_fwd_f64(const dl_pool_params *p, const double *x, double *y);
void dl_adaptive_avgpool2d_bwd_f32(const dl_pool_params *p, const float *gy, float *gx);
void dl_adaptive_avgpool2d_bwd_f64(const dl_pool_params *p, const double *gy, double *gx);
void dl_adaptive_maxpool2d_fwd_f32(const dl_pool_params *p, const float *x, float *y,
                                   int64_t *idx);
void dl_adaptive_maxpool2d_fwd_f64(const dl_pool_params *p, const double *x, double *y,
                                   int64_t *idx);

/* Upsampling.  scale_h/scale_w are the source-per-destination steps PyTorch computes
 * (in/out, or 1/scale_factor when one was given; (in-1)/(out-1) for align_corners). */
void dl_upsample_nearest2d_fwd_f32(const dl_pool_params *p, float scale_h, float scale_w,
                                   const float *x, float *y);
void dl_upsample_nearest2d_fwd_f64(const dl_pool_params *p, float scale_h, float scale_w,
                                   const double *x, double *y);
void dl_upsample_nearest2d_bwd_f32(const dl_pool_params *p, float scale_h, float scale_w,
                                   const float *gy, float *gx);
void dl_upsample_nearest2d_bwd_f64(const dl_pool_params *p, float scale_h, float scale_w,
                                   const double *gy, double *gx);
void dl_upsample_bilinear2d_fwd_f32(const dl_pool_params *p, int align_corners, double scale_h,
                                    double scale_w, const float *x, float *y);
void dl_upsample_bilinear2d_fwd_f64(const dl_pool_params *p, int align_corners, double scale_h,
                                    double scale_w, const double *x, double *y);
void dl_upsample_bilinear2d_bwd_f32(const dl_pool_params *p, int align_corners, double scale_h,
                                    double scale_w, const float *gy, float *gx);
void dl_upsample_bilinear2d_bwd_f64(const dl_pool_params *p, int align_corners, double scale_h,
                                    double scale_w, const double *gy, double *gx);

#endif
