/* im2col and col2im for float32, one copy per ISA (conv.c dispatches; float64 uses the
 * portable loops in conv_impl.h, which these match element for element).
 *
 * The rows are short (an output row of a 14x14 map is 14 floats), so a memcpy/memset call per
 * run cost more than the copy itself: these move each run with a few (masked, on AVX-512)
 * vector loads and stores inline.  Every source index touched is inside the input row.
 */
#include <string.h>
#include "simd.h"
#include "dlcore/conv.h"

#if defined(__AVX512F__)
#include <immintrin.h>

static inline __mmask16 col_lanes(int64_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* d[j] = 0 for j < n */
static inline void row_zero(float *d, int64_t n)
{
    const __m512 z = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) _mm512_mask_storeu_ps(d + j, col_lanes(n - j), z);
}

/* d[j] = src[j] for lo <= j < hi (src + j is in range only there) */
static inline void row_copy(float *d, const float *xr, int64_t off, int64_t lo, int64_t hi)
{
    for (int64_t j = lo; j < hi; j += 16) {
        const __mmask16 m = col_lanes(hi - j);
        _mm512_mask_storeu_ps(d + j, m, _mm512_maskz_loadu_ps(m, xr + (off + j)));
    }
}

/* xr[off + j] += s[j] for lo <= j < hi */
static inline void row_add(float *xr, int64_t off, const float *s, int64_t lo, int64_t hi)
{
    for (int64_t j = lo; j < hi; j += 16) {
        const __mmask16 m = col_lanes(hi - j);
        float *o = xr + (off + j);
        _mm512_mask_storeu_ps(o, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, o),
                                                  _mm512_maskz_loadu_ps(m, s + j)));
    }
}
#else
static inline void row_zero(float *d, int64_t n)
{
    for (int64_t j = 0; j < n; j++) d[j] = 0.0f;
}

static inline void row_copy(float *d, const float *xr, int64_t off, int64_t lo, int64_t hi)
{
    for (int64_t j = lo; j < hi; j++) d[j] = xr[off + j];
}

static inline void row_add(float *xr, int64_t off, const float *s, int64_t lo, int64_t hi)
{
    for (int64_t j = lo; j < hi; j++) xr[off + j] += s[j];
}
#endif

static inline int64_t col_clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* col[((c*R + r)*S + s) * ldc + q] = x[c, ih, iw] for the np output positions p0 .. p0+np-1
 * (zero outside x); see conv_impl.h. */
void DL_ISA_FN(dl_conv_im2col_f32)(const dl_conv_params *p, const float *x, int64_t Cg,
                                   int64_t p0, int64_t np, float *col, int64_t ldc)
{
    const int64_t H = p->H, W = p->W, R = p->R, S = p->S, OW = p->OW;
    /* the first run's output row and column; every later run starts a row (no division per
     * run: the runs are only a row long) */
    const int64_t oh0 = p0 / OW, ow0 = p0 % OW;
    for (int64_t c = 0; c < Cg; c++) {
        const float *xc = x + c * H * W;
        for (int64_t r = 0; r < R; r++) {
            for (int64_t s = 0; s < S; s++) {
                float *dst = col + ((c * R + r) * S + s) * ldc;
                int64_t q = 0, oh = oh0, ow = ow0;
                while (q < np) {
                    const int64_t run = col_clamp(OW - ow, 0, np - q);
                    const int64_t ih = oh * p->sh - p->ph + r * p->dh;
                    const int64_t iw0 = ow * p->sw - p->pw + s * p->dw;
                    float *d = dst + q;
                    if (ih < 0 || ih >= H) {
                        row_zero(d, run);
                    } else if (p->sw == 1) {
                        const int64_t lo = col_clamp(-iw0, 0, run);
                        const int64_t hi = col_clamp(W - iw0, lo, run);
                        row_zero(d, lo);
                        row_copy(d, xc + ih * W, iw0, lo, hi);
                        row_zero(d + hi, run - hi);
                    } else {
                        const float *xr = xc + ih * W;
                        for (int64_t j = 0; j < run; j++) {
                            const int64_t iw = iw0 + j * p->sw;
                            d[j] = (iw >= 0 && iw < W) ? xr[iw] : 0.0f;
                        }
                    }
                    q += run;
                    oh++;
                    ow = 0;
                }
            }
        }
    }
}

/* The adjoint: x[c, ih, iw] += col[...] for the same positions. */
void DL_ISA_FN(dl_conv_col2im_f32)(const dl_conv_params *p, const float *col, int64_t Cg,
                                   int64_t p0, int64_t np, float *x, int64_t ldc)
{
    const int64_t H = p->H, W = p->W, R = p->R, S = p->S, OW = p->OW;
    /* the first run's output row and column; every later run starts a row (no division per
     * run: the runs are only a row long) */
    const int64_t oh0 = p0 / OW, ow0 = p0 % OW;
    for (int64_t c = 0; c < Cg; c++) {
        float *xc = x + c * H * W;
        for (int64_t r = 0; r < R; r++) {
            for (int64_t s = 0; s < S; s++) {
                const float *src = col + ((c * R + r) * S + s) * ldc;
                int64_t q = 0, oh = oh0, ow = ow0;
                while (q < np) {
                    const int64_t run = col_clamp(OW - ow, 0, np - q);
                    const int64_t ih = oh * p->sh - p->ph + r * p->dh;
                    const int64_t iw0 = ow * p->sw - p->pw + s * p->dw;
                    const float *d = src + q;
                    if (ih >= 0 && ih < H) {
                        float *xr = xc + ih * W;
                        if (p->sw == 1) {
                            const int64_t lo = col_clamp(-iw0, 0, run);
                            const int64_t hi = col_clamp(W - iw0, lo, run);
                            row_add(xr, iw0, d, lo, hi);
                        } else {
                            for (int64_t j = 0; j < run; j++) {
                                const int64_t iw = iw0 + j * p->sw;
                                if (iw >= 0 && iw < W) xr[iw] += d[j];
                            }
                        }
                    }
                    q += run;
                    oh++;
                    ow = 0;
                }
            }
        }
    }
}
