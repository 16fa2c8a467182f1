/* im2col / col2im, the portable loops (float64 runs them; float32 runs the SIMD copies of
 * conv_simd.c, which match them element for element).  Part of conv_impl.h: written once for
 * float and double (T, SUF, GEMM). */

/* The taps of the np output positions p0 .. p0+np-1 in im2col's order:
 * col[((c*R + r)*S + s) * ldc + q] <-> x[c, ih, iw]; x points at the group's first channel of
 * one image, and ldc >= np lets several images sit side by side in one tile.  adjoint = 0
 * copies x into col, zero outside x (im2col); adjoint = 1 adds col into x (col2im); a constant
 * at each call site. */
static inline void SUF(tap_runs_scalar)(const dl_conv_params *p, T *x, int64_t Cg, int64_t p0,
                                        int64_t np, T *col, int64_t ldc, int adjoint)
{
    const int64_t H = p->H, W = p->W, R = p->R, S = p->S, OW = p->OW;
    for (int64_t c = 0; c < Cg; c++) {
        T *xc = x + c * H * W;
        for (int64_t r = 0; r < R; r++) {
            for (int64_t s = 0; s < S; s++) {
                T *tap = col + ((c * R + r) * S + s) * ldc;
                int64_t q = 0, pos = p0;
                while (q < np) {
                    const int64_t oh = pos / OW, ow = pos % OW;
                    const int64_t run = clamp64(OW - ow, 0, np - q);
                    const int64_t ih = oh * p->sh - p->ph + r * p->dh;
                    const int64_t iw0 = ow * p->sw - p->pw + s * p->dw;
                    T *d = tap + q;
                    if (ih < 0 || ih >= H) {
                        if (!adjoint) memset(d, 0, (size_t)run * sizeof(T));
                    } else if (p->sw == 1) {
                        T *xr = xc + ih * W;
                        const int64_t lo = clamp64(-iw0, 0, run);
                        const int64_t hi = clamp64(W - iw0, lo, run);
                        if (adjoint) {
                            for (int64_t j = lo; j < hi; j++) xr[iw0 + j] += d[j];
                        } else {
                            memset(d, 0, (size_t)lo * sizeof(T));
                            if (hi > lo)
                                memcpy(d + lo, xr + iw0 + lo, (size_t)(hi - lo) * sizeof(T));
                            memset(d + hi, 0, (size_t)(run - hi) * sizeof(T));
                        }
                    } else {
                        T *xr = xc + ih * W;
                        for (int64_t j = 0; j < run; j++) {
                            const int64_t iw = iw0 + j * p->sw;
                            const int in = iw >= 0 && iw < W;
                            if (adjoint) {
                                if (in) xr[iw] += d[j];
                            } else {
                                d[j] = in ? xr[iw] : (T)0;
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

static inline void SUF(im2col_scalar)(const dl_conv_params *p, const T *x, int64_t Cg, int64_t p0,
                                      int64_t np, T *col, int64_t ldc)
{
    SUF(tap_runs_scalar)(p, (T *)x, Cg, p0, np, col, ldc, 0);   /* x only read */
}

static inline void SUF(col2im_scalar)(const dl_conv_params *p, const T *col, int64_t Cg, int64_t p0,
                                      int64_t np, T *x, int64_t ldc)
{
    SUF(tap_runs_scalar)(p, x, Cg, p0, np, (T *)col, ldc, 1);   /* col only read */
}

/* ---- the small-map forms: from (and into) zero-padded planes ----
 * The packed-tile path (output maps under DL_CONV_PACK_P pixels) copies each image once into
 * planes of Hp x Wp with the padding as zeros (pad_extent), so that im2col's and col2im's runs
 * need no bounds checks: on a 7x7 map every run is one output row of 7 values, and the checks
 * cost more than the copy.  xp plane c starts at xp + c*Hp*Wp; xp[i, j] = x[i - ph, j - pw]
 * inside x, zero outside.  Hp x Wp is exactly what the convolution reads. */
static inline void SUF(pad_extent)(const dl_conv_params *p, int64_t *Hp, int64_t *Wp)
{
    *Hp = (p->OH - 1) * p->sh + (p->R - 1) * p->dh + 1;
    *Wp = (p->OW - 1) * p->sw + (p->S - 1) * p->dw + 1;
}

/* xp = x (Cg planes of H x W) zero-padded into Cg planes of Hp x Wp */
static inline void SUF(pad_planes_scalar)(const dl_conv_params *p, const T *x, int64_t Cg,
                                          int64_t Hp, int64_t Wp, T *xp)
{
    const int64_t H = p->H, W = p->W;
    const int64_t j0 = p->pw < Wp ? p->pw : Wp, j1 = clamp64(p->pw + W, j0, Wp);
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t i = 0; i < Hp; i++) {
            T *d = xp + (c * Hp + i) * Wp;
            const int64_t ih = i - p->ph;
            if (ih < 0 || ih >= H) {
                for (int64_t j = 0; j < Wp; j++) d[j] = 0;
                continue;
            }
            const T *s = x + (c * H + ih) * W - p->pw;
            for (int64_t j = 0; j < j0; j++) d[j] = 0;
            for (int64_t j = j0; j < j1; j++) d[j] = s[j];
            for (int64_t j = j1; j < Wp; j++) d[j] = 0;
        }
}

/* x[c, i, j] += xp[c, i + ph, j + pw] wherever that is inside xp (the adjoint of pad_planes,
 * added to x's contents) */
static inline void SUF(unpad_add_scalar)(const dl_conv_params *p, const T *xp, int64_t Cg,
                                         int64_t Hp, int64_t Wp, T *x)
{
    const int64_t H = p->H, W = p->W;
    const int64_t j0 = p->pw < Wp ? p->pw : Wp, j1 = clamp64(p->pw + W, j0, Wp);
    const int64_t i0 = p->ph < Hp ? p->ph : Hp, i1 = clamp64(p->ph + H, i0, Hp);
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t i = i0; i < i1; i++) {
            const T *s = xp + (c * Hp + i) * Wp;
            T *d = x + (c * H + i - p->ph) * W - p->pw;
            for (int64_t j = j0; j < j1; j++) d[j] += s[j];
        }
}

/* The taps of padded planes in im2col's order: the whole map of one image (np = OH*OW),
 * col[((c*R + r)*S + s) * ldc + oh*OW + ow] <-> xp[c, oh*sh + r*dh, ow*sw + s*dw].
 * adjoint = 0 copies xp into col (im2col); adjoint = 1 adds col into xp (col2im); a constant
 * at each call site. */
static inline void SUF(padded_taps_scalar)(const dl_conv_params *p, T *xp, int64_t Cg,
                                           int64_t Hp, int64_t Wp, T *col, int64_t ldc,
                                           int adjoint)
{
    const int64_t R = p->R, S = p->S, OH = p->OH, OW = p->OW, sw = p->sw;
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t r = 0; r < R; r++)
            for (int64_t s = 0; s < S; s++) {
                T *x = xp + (c * Hp + r * p->dh) * Wp + s * p->dw;
                T *d = col + ((c * R + r) * S + s) * ldc;
                for (int64_t oh = 0; oh < OH; oh++, d += OW) {
                    T *xr = x + oh * p->sh * Wp;
                    if (adjoint)
                        for (int64_t ow = 0; ow < OW; ow++) xr[ow * sw] += d[ow];
                    else
                        for (int64_t ow = 0; ow < OW; ow++) d[ow] = xr[ow * sw];
                }
            }
}

/* The whole map of one image (Cg planes of x) as columns, through the padded planes xp
 * (scratch of Cg*Hp*Wp elements) */
static inline void SUF(im2col_image_scalar)(const dl_conv_params *p, const T *x, int64_t Cg,
                                            T *xp, T *col, int64_t ldc)
{
    int64_t Hp, Wp;
    SUF(pad_extent)(p, &Hp, &Wp);
    SUF(pad_planes_scalar)(p, x, Cg, Hp, Wp, xp);
    SUF(padded_taps_scalar)(p, xp, Cg, Hp, Wp, col, ldc, 0);
}

/* x += the adjoint of im2col_image applied to col */
static inline void SUF(col2im_image_scalar)(const dl_conv_params *p, const T *col, int64_t Cg,
                                            T *xp, T *x, int64_t ldc)
{
    int64_t Hp, Wp;
    SUF(pad_extent)(p, &Hp, &Wp);
    memset(xp, 0, (size_t)(Cg * Hp * Wp) * sizeof(T));
    /* col is only read in this direction */
    SUF(padded_taps_scalar)(p, xp, Cg, Hp, Wp, (T *)col, ldc, 1);
    SUF(unpad_add_scalar)(p, xp, Cg, Hp, Wp, x);
}
