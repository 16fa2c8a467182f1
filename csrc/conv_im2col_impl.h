/* im2col / col2im, the portable loops (float64 runs them; float32 runs the SIMD copies of
 * conv_simd.c, which match them element for element).  Part of conv_impl.h: written once for
 * float and double (T, SUF, GEMM). */

/* col[((c*R + r)*S + s) * ldc + q] = x[c, ih, iw] for the np output positions
 * p0 .. p0+np-1 (zero outside x); x points at the group's first channel of one image.  ldc >= np
 * lets several images sit side by side in one tile. */
static inline void SUF(im2col_scalar)(const dl_conv_params *p, const T *x, int64_t Cg, int64_t p0,
                               int64_t np, T *col, int64_t ldc)
{
    const int64_t H = p->H, W = p->W, R = p->R, S = p->S, OW = p->OW;
    for (int64_t c = 0; c < Cg; c++) {
        const T *xc = x + c * H * W;
        for (int64_t r = 0; r < R; r++) {
            for (int64_t s = 0; s < S; s++) {
                T *dst = col + ((c * R + r) * S + s) * ldc;
                int64_t q = 0, pos = p0;
                while (q < np) {
                    const int64_t oh = pos / OW, ow = pos % OW;
                    const int64_t run = clamp64(OW - ow, 0, np - q);
                    const int64_t ih = oh * p->sh - p->ph + r * p->dh;
                    const int64_t iw0 = ow * p->sw - p->pw + s * p->dw;
                    T *d = dst + q;
                    if (ih < 0 || ih >= H) {
                        memset(d, 0, (size_t)run * sizeof(T));
                    } else if (p->sw == 1) {
                        const T *xr = xc + ih * W;
                        const int64_t lo = clamp64(-iw0, 0, run);
                        const int64_t hi = clamp64(W - iw0, lo, run);
                        memset(d, 0, (size_t)lo * sizeof(T));
                        if (hi > lo) memcpy(d + lo, xr + iw0 + lo, (size_t)(hi - lo) * sizeof(T));
                        memset(d + hi, 0, (size_t)(run - hi) * sizeof(T));
                    } else {
                        const T *xr = xc + ih * W;
                        for (int64_t j = 0; j < run; j++) {
                            const int64_t iw = iw0 + j * p->sw;
                            d[j] = (iw >= 0 && iw < W) ? xr[iw] : (T)0;
                        }
                    }
                    q += run;
                    pos += run;
                }
            }
        }
    }
}

/* The adjoint of im2col: x[c, ih, iw] += col[...] for the same positions. */
static inline void SUF(col2im_scalar)(const dl_conv_params *p, const T *col, int64_t Cg, int64_t p0,
                               int64_t np, T *x, int64_t ldc)
{
    const int64_t H = p->H, W = p->W, R = p->R, S = p->S, OW = p->OW;
    for (int64_t c = 0; c < Cg; c++) {
        T *xc = x + c * H * W;
        for (int64_t r = 0; r < R; r++) {
            for (int64_t s = 0; s < S; s++) {
                const T *src = col + ((c * R + r) * S + s) * ldc;
                int64_t q = 0, pos = p0;
                while (q < np) {
                    const int64_t oh = pos / OW, ow = pos % OW;
                    const int64_t run = clamp64(OW - ow, 0, np - q);
                    const int64_t ih = oh * p->sh - p->ph + r * p->dh;
                    const int64_t iw0 = ow * p->sw - p->pw + s * p->dw;
                    const T *d = src + q;
                    if (ih >= 0 && ih < H) {
                        T *xr = xc + ih * W;
                        if (p->sw == 1) {
                            const int64_t lo = clamp64(-iw0, 0, run);
                            const int64_t hi = clamp64(W - iw0, lo, run);
                            T *xo = xr + iw0;
                            for (int64_t j = lo; j < hi; j++) xo[j] += d[j];
                        } else {
                            for (int64_t j = 0; j < run; j++) {
                                const int64_t iw = iw0 + j * p->sw;
                                if (iw >= 0 && iw < W) xr[iw] += d[j];
                            }
                        }
                    }
                    q += run;
                    pos += run;
                }
            }
        }
    }
}
