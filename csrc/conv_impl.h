/* Convolution kernels written once for both element types: csrc/conv.c includes this file
 * twice, with T = float / double, SUF(name) = name##_f32 / name##_f64, GEMM = dl_sgemm /
 * dl_dgemm, and SUF(dw_rows) / SUF(dw_wgrad) (the depthwise inner loops) and SUF(im2col) /
 * SUF(col2im) (float32: the SIMD copies; float64: the portable loops below) declared. */

void SUF(dl_channel_sum)(int64_t N, int64_t C, int64_t L, const T *x, T *out)
{
    #pragma omp parallel for num_threads(dl_threads_for((size_t)(N * C * L), 1 << 16))
    for (int64_t c = 0; c < C; c++) {
        double s = 0.0;
        for (int64_t n = 0; n < N; n++) {
            const T *row = x + (n * C + c) * L;
            T rs = 0;
            #pragma omp simd reduction(+ : rs)
            for (int64_t l = 0; l < L; l++) rs += row[l];
            s += (double)rs;
        }
        out[c] = (T)s;
    }
}

/* ---------------------------------------------------------------- im2col / col2im ---- */

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

/* ------------------------------------------------------------------ depthwise ---- */

/* buf[a, b] = in[row0 + a, col0 + b], zero outside the IH x IW plane. */
static void SUF(dw_fill)(const T *in, int64_t IH, int64_t IW, int64_t row0, int64_t col0,
                         int64_t nrows, int64_t bw, T *buf)
{
    const int64_t lo = clamp64(-col0, 0, bw);
    const int64_t hi = clamp64(IW - col0, lo, bw);
    for (int64_t a = 0; a < nrows; a++) {
        T *d = buf + a * bw;
        const int64_t ih = row0 + a;
        if (ih < 0 || ih >= IH) {
            memset(d, 0, (size_t)bw * sizeof(T));
            continue;
        }
        memset(d, 0, (size_t)lo * sizeof(T));
        if (hi > lo) memcpy(d + lo, in + ih * IW + col0 + lo, (size_t)(hi - lo) * sizeof(T));
        memset(d + hi, 0, (size_t)(bw - hi) * sizeof(T));
    }
}

/* Plain loops over a band: out[i, j] (+)= sum wk[r,s] * buf[(i*sh + r*dh)*bw + j*sw + s*dw]. */
static void SUF(dw_rows_scalar)(const T *buf, int64_t bw, T *out, int64_t oh, int64_t ow,
                                int64_t ldo, const T *wk, int64_t R, int64_t S, int64_t sh,
                                int64_t sw, int64_t dh, int64_t dw, T init, int accumulate)
{
    for (int64_t i = 0; i < oh; i++) {
        T *orow = out + i * ldo;
        for (int64_t j = 0; j < ow; j++) {
            T acc = init;
            for (int64_t r = 0; r < R; r++) {
                const T *b = buf + (i * sh + r * dh) * bw + j * sw;
                for (int64_t s = 0; s < S; s++) acc += wk[r * S + s] * b[s * dw];
            }
            orow[j] = accumulate ? orow[j] + acc : acc;
        }
    }
}

static void SUF(dw_wgrad_scalar)(const T *buf, int64_t bw, const T *gy, int64_t ldg,
                                 int64_t oh, int64_t ow, int64_t R, int64_t S, int64_t sh,
                                 int64_t sw, int64_t dh, int64_t dw, T *gw)
{
    for (int64_t r = 0; r < R; r++)
        for (int64_t s = 0; s < S; s++) {
            T acc = 0;
            for (int64_t i = 0; i < oh; i++) {
                const T *b = buf + (i * sh + r * dh) * bw + s * dw;
                const T *g = gy + i * ldg;
                for (int64_t j = 0; j < ow; j++) acc += g[j] * b[j * sw];
            }
            gw[r * S + s] += acc;
        }
}

/* Band geometry of a correlation producing an oh x ow plane: the band row width and how many
 * output rows one band covers so that it holds about DW_BAND_ELEMS elements. */
static void SUF(dw_band)(int64_t oh, int64_t ow, int64_t R, int64_t S, int64_t sh, int64_t sw,
                         int64_t dh, int64_t dw, int64_t *bw, int64_t *rows, int64_t *bufrows)
{
    const int64_t owv = roundup16(ow);
    *bw = (owv - 1) * sw + (S - 1) * dw + 1;
    const int64_t fit = DW_BAND_ELEMS / *bw - (R - 1) * dh - 1;
    int64_t r = fit > 0 ? fit / sh + 1 : 1;
    if (r > oh) r = oh;
    if (r < 1) r = 1;
    *rows = r;
    *bufrows = (r - 1) * sh + (R - 1) * dh + 1;
}

/* One output plane: out = init + correlation of `in` with wk (or out += ... when accumulate). */
static void SUF(dw_plane)(const T *in, int64_t IH, int64_t IW, T *out, int64_t oh, int64_t ow,
                          const T *wk, int64_t R, int64_t S, int64_t sh, int64_t sw,
                          int64_t ph, int64_t pw, int64_t dh, int64_t dw, T init,
                          int accumulate, T *buf)
{
    int64_t bw, rows, bufrows;
    SUF(dw_band)(oh, ow, R, S, sh, sw, dh, dw, &bw, &rows, &bufrows);
    for (int64_t i0 = 0; i0 < oh; i0 += rows) {
        const int64_t nb = oh - i0 < rows ? oh - i0 : rows;
        SUF(dw_fill)(in, IH, IW, i0 * sh - ph, -pw, (nb - 1) * sh + (R - 1) * dh + 1, bw, buf);
        SUF(dw_rows)(buf, bw, out + i0 * ow, nb, ow, ow, wk, R, S, sh, sw, dh, dw, init,
                     accumulate);
    }
}

static size_t SUF(dw_buf_elems)(int64_t oh, int64_t ow, int64_t R, int64_t S, int64_t sh,
                                int64_t sw, int64_t dh, int64_t dw)
{
    int64_t bw, rows, bufrows;
    SUF(dw_band)(oh, ow, R, S, sh, sw, dh, dw, &bw, &rows, &bufrows);
    return (size_t)(bw * bufrows);
}

static int SUF(dw_fwd)(const dl_conv_params *p, const T *x, const T *w, const T *bias, T *y)
{
    const int64_t M = p->K / p->C, planes = p->N * p->K, HW = p->H * p->W;
    const int64_t P = p->OH * p->OW, RS = p->R * p->S;
    const size_t need = SUF(dw_buf_elems)(p->OH, p->OW, p->R, p->S, p->sh, p->sw, p->dh, p->dw);
    const int nt = dl_threads_for((size_t)(planes * P * RS), DL_CONV_GRAIN);
    int fail = 0;
    #pragma omp parallel num_threads(nt)
    {
        T *buf = (T *)dl_alloc(need * sizeof(T));
        if (!buf) {
            #pragma omp atomic write
            fail = 1;
        }
        #pragma omp barrier
        if (!fail) {
            #pragma omp for schedule(static)
            for (int64_t t = 0; t < planes; t++) {
                const int64_t n = t / p->K, k = t % p->K;
                SUF(dw_plane)(x + (n * p->C + k / M) * HW, p->H, p->W, y + t * P, p->OH,
                              p->OW, w + k * RS, p->R, p->S, p->sh, p->sw, p->ph, p->pw,
                              p->dh, p->dw, bias ? bias[k] : (T)0, 0, buf);
            }
        }
        dl_free(buf);
    }
    return fail ? -1 : 0;
}

static int SUF(dw_bwd_data)(const dl_conv_params *p, const T *gy, const T *w,
                            const T *bias_init, T *gx)
{
    const int64_t M = p->K / p->C, planes = p->N * p->C, HW = p->H * p->W;
    const int64_t P = p->OH * p->OW, R = p->R, S = p->S, RS = R * S;
    const int unit = p->sh == 1 && p->sw == 1;
    /* stride 1: the input gradient is a correlation of gy with the flipped kernel and the
     * complementary padding; other strides scatter. */
    const int64_t fph = (R - 1) * p->dh - p->ph, fpw = (S - 1) * p->dw - p->pw;
    const size_t need = unit ? SUF(dw_buf_elems)(p->H, p->W, R, S, 1, 1, p->dh, p->dw) : 0;
    const int nt = dl_threads_for((size_t)(p->N * p->K * P * RS), DL_CONV_GRAIN);
    int fail = 0;
    #pragma omp parallel num_threads(nt)
    {
        T *buf = (T *)dl_alloc((need + (size_t)RS) * sizeof(T));
        if (!buf) {
            #pragma omp atomic write
            fail = 1;
        }
        #pragma omp barrier
        if (!fail) {
            T *flip = buf + need;
            #pragma omp for schedule(static)
            for (int64_t t = 0; t < planes; t++) {
                const int64_t n = t / p->C, c = t % p->C;
                T *gxp = gx + t * HW;
                const T b0 = bias_init ? bias_init[c] : (T)0;
                for (int64_t m = 0; m < M; m++) {
                    const int64_t k = c * M + m;
                    const T *gyp = gy + (n * p->K + k) * P;
                    const T *wk = w + k * RS;
                    if (unit) {
                        for (int64_t q = 0; q < RS; q++) flip[q] = wk[RS - 1 - q];
                        SUF(dw_plane)(gyp, p->OH, p->OW, gxp, p->H, p->W, flip, R, S, 1, 1,
                                      fph, fpw, p->dh, p->dw, m == 0 ? b0 : (T)0, m > 0, buf);
                        continue;
                    }
                    if (m == 0)
                        for (int64_t q = 0; q < HW; q++) gxp[q] = b0;
                    for (int64_t oh = 0; oh < p->OH; oh++) {
                        for (int64_t r = 0; r < R; r++) {
                            const int64_t ih = oh * p->sh - p->ph + r * p->dh;
                            if (ih < 0 || ih >= p->H) continue;
                            T *gxr = gxp + ih * p->W;
                            for (int64_t ow = 0; ow < p->OW; ow++) {
                                const T g = gyp[oh * p->OW + ow];
                                for (int64_t s = 0; s < S; s++) {
                                    const int64_t iw = ow * p->sw - p->pw + s * p->dw;
                                    if (iw >= 0 && iw < p->W) gxr[iw] += wk[r * S + s] * g;
                                }
                            }
                        }
                    }
                }
            }
        }
        dl_free(buf);
    }
    return fail ? -1 : 0;
}

/* gw[k] = sum over images of the correlation of x[n, k/M] with gy[n, k]; threads split k. */
static int SUF(dw_bwd_weight)(const dl_conv_params *p, const T *x, const T *gy, T *gw)
{
    const int64_t M = p->K / p->C, HW = p->H * p->W, P = p->OH * p->OW;
    const int64_t R = p->R, S = p->S, RS = R * S, OW = p->OW;
    int64_t bw, rows, bufrows;
    SUF(dw_band)(p->OH, OW, R, S, p->sh, p->sw, p->dh, p->dw, &bw, &rows, &bufrows);
    const int64_t ldg = roundup16(OW);
    const size_t need = (size_t)(bw * bufrows + rows * ldg + RS);
    const int nt = dl_threads_for((size_t)(p->N * p->K * P * RS), DL_CONV_GRAIN);
    int fail = 0;
    #pragma omp parallel num_threads(nt)
    {
        T *buf = (T *)dl_alloc(need * sizeof(T));
        double *acc = (double *)dl_alloc((size_t)RS * sizeof(double));
        if (!buf || !acc) {
            #pragma omp atomic write
            fail = 1;
        }
        #pragma omp barrier
        if (!fail) {
            T *gpad = buf + bw * bufrows, *part = gpad + rows * ldg;
            #pragma omp for schedule(static)
            for (int64_t k = 0; k < p->K; k++) {
                for (int64_t q = 0; q < RS; q++) acc[q] = 0.0;
                for (int64_t n = 0; n < p->N; n++) {
                    const T *xp = x + (n * p->C + k / M) * HW;
                    const T *gyp = gy + (n * p->K + k) * P;
                    for (int64_t q = 0; q < RS; q++) part[q] = 0;
                    for (int64_t i0 = 0; i0 < p->OH; i0 += rows) {
                        const int64_t nb = p->OH - i0 < rows ? p->OH - i0 : rows;
                        SUF(dw_fill)(xp, p->H, p->W, i0 * p->sh - p->ph, -p->pw,
                                     (nb - 1) * p->sh + (R - 1) * p->dh + 1, bw, buf);
                        /* gradient rows padded to whole vectors (zeros past OW) */
                        for (int64_t i = 0; i < nb; i++) {
                            memcpy(gpad + i * ldg, gyp + (i0 + i) * OW, (size_t)OW * sizeof(T));
                            memset(gpad + i * ldg + OW, 0, (size_t)(ldg - OW) * sizeof(T));
                        }
                        SUF(dw_wgrad)(buf, bw, gpad, ldg, nb, OW, R, S, p->sh, p->sw, p->dh,
                                      p->dw, part);
                    }
                    for (int64_t q = 0; q < RS; q++) acc[q] += part[q];
                }
                for (int64_t q = 0; q < RS; q++) gw[k * RS + q] = (T)acc[q];
            }
        }
        dl_free(buf);
        dl_free(acc);
    }
    return fail ? -1 : 0;
}

/* --------------------------------------------------------------- im2col + GEMM ---- */

static int SUF(pointwise)(const dl_conv_params *p)
{
    return p->R == 1 && p->S == 1 && p->sh == 1 && p->sw == 1 && p->ph == 0 && p->pw == 0 &&
           p->OH == p->H && p->OW == p->W;
}

/* Output positions per column tile: the tile of Kc rows stays within DL_CONV_COL_BYTES. */
static int64_t SUF(col_tile)(int64_t P, int64_t Kc)
{
    int64_t t = (int64_t)(dl_conv_col_bytes() / ((size_t)Kc * sizeof(T)));
    if (t < 16) t = 16;
    if (t >= P) return P;
    return t / 16 * 16;
}

/* Channels per im2col chunk.  The column tile of a small output map is built and consumed a
 * few hundred rows (one GEMM K block) at a time, so that it stays in L2 between im2col and the
 * GEMM's packing: the whole tile of a 14x14 map with 256 channels (3x3) is 1.8 MB.  Cg (one
 * chunk) when a chunk of at least 128 rows would not fit, or the whole tile does. */
static int64_t SUF(chunk_channels)(const dl_conv_params *p, int64_t Cg, int64_t np)
{
    const int64_t RS = p->R * p->S;
    int64_t rows = (int64_t)(DL_CONV_CHUNK_BYTES / ((size_t)np * sizeof(T)));
    if (rows > 256) rows = 256;
    const int64_t cb = rows / RS;
    if (cb * RS < 128 || cb >= Cg) return Cg;
    const int64_t nch = (Cg + cb - 1) / cb;
    return (Cg + nch - 1) / nch;   /* the same number of chunks, filled evenly */
}

/* The weights as left operands, one per group and chunk of cb channels (L[g * nch + ch]):
 * the chunk's columns of W_g (Kg x rows) for the forward, or with `transa` its rows of W_g^T
 * (rows x Kg) for the input gradient; packed once for all the images (see conv.c's lhs),
 * one group only.  NULL when out of memory. */
static SUF(lhs) *SUF(weights_lhs)(const dl_conv_params *p, const T *w, int transa, int64_t Kc,
                                  int64_t cb)
{
    const int64_t G = p->groups, Kg = p->K / G, Cg = p->C / G, RS = p->R * p->S;
    const int64_t nch = (Cg + cb - 1) / cb;
    SUF(lhs) *L = (SUF(lhs) *)dl_alloc((size_t)(G * nch) * sizeof(SUF(lhs)));
    if (!L) return NULL;
    /* several chunks: threads pack different chunks (one operand packs with threads itself) */
    const int nt = nch > 1 ? dl_threads_for((size_t)(p->K * Kc), (size_t)1 << 16) : 1;
    #pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (int64_t i = 0; i < G * nch; i++) {
        const int64_t g = i / nch, ch = i % nch;
        const int64_t r0 = ch * cb * RS, rows = min64(cb, Cg - ch * cb) * RS;
        SUF(lhs_init)(&L[i], transa, transa ? rows : Kg, transa ? Kg : rows,
                      w + g * Kg * Kc + r0, Kc, G == 1);
    }
    return L;
}

static void SUF(weights_lhs_free)(const dl_conv_params *p, SUF(lhs) *L, int64_t cb)
{
    if (!L) return;
    const int64_t n = p->groups * ((p->C / p->groups + cb - 1) / cb);
    for (int64_t i = 0; i < n; i++) SUF(lhs_free)(&L[i]);
    dl_free(L);
}

/* One tile of outputs, every group: y_g = W_g col, accumulated over the chunks of cb channels
 * (bias with the last). */
static void SUF(fwd_tile)(const dl_conv_params *p, const T *x, const SUF(lhs) *L, int64_t cb,
                          const T *bias, T *y, int64_t n, int64_t p0, int64_t np, int direct,
                          T *col)
{
    const int64_t G = p->groups, Cg = p->C / G, Kg = p->K / G;
    const int64_t P = p->OH * p->OW, HW = p->H * p->W, nch = (Cg + cb - 1) / cb;
    for (int64_t g = 0; g < G; g++) {
        const T *xg = x + (n * p->C + g * Cg) * HW;
        T *yg = y + (n * p->K + g * Kg) * P + p0;
        const T *bg = bias ? bias + g * Kg : NULL;
        if (direct) {
            SUF(lhs_gemm)(&L[g * nch], 0, np, xg + p0, HW, 0, yg, P, bg,
                          bg ? DL_BIAS_COL : DL_BIAS_NONE);
            continue;
        }
        for (int64_t ch = 0; ch < nch; ch++) {
            const int64_t last = ch == nch - 1;
            SUF(im2col)(p, xg + ch * cb * HW, min64(cb, Cg - ch * cb), p0, np, col, np);
            SUF(lhs_gemm)(&L[g * nch + ch], 0, np, col, np, ch ? 1 : 0, yg, P,
                          last ? bg : NULL, last && bg ? DL_BIAS_COL : DL_BIAS_NONE);
        }
    }
}

/* Images per packed tile.  A small output map makes the per-image GEMM's N (= P) too short
 * to run near peak, so up to kb images put their columns side by side (N = kb*P).  The tile
 * (Kc rows of columns plus Kg rows of outputs) stays within the column budget and threads still
 * get whole tiles each; 1 means the per-image path. */
static int64_t SUF(pack_images)(const dl_conv_params *p, int64_t Kc, int nt)
{
    const int64_t P = p->OH * p->OW, Kg = p->K / p->groups;
    if (P >= DL_CONV_PACK_P || p->N < 2) return 1;
    int64_t kb = (int64_t)(dl_conv_col_bytes() / ((size_t)((Kc + Kg) * P) * sizeof(T)));
    kb = min64(kb, (DL_CONV_PACK_COLS + P - 1) / P);
    kb = min64(kb, (p->N + nt - 1) / nt);
    if (kb < 2) return 1;
    /* the same number of tiles, filled evenly (8 images at up to 6 a tile: 4 + 4, not 6 + 2) */
    const int64_t tiles = (p->N + kb - 1) / kb;
    kb = (p->N + tiles - 1) / tiles;
    return kb < 2 ? 1 : kb;
}

/* Forward of images b0 .. b0+nb-1 in one GEMM per group: col holds their columns side by side
 * (Kc x nb*P), yb receives Kg x nb*P outputs (bias fused), then each image's rows go back to
 * y[b][k][:]. */
static void SUF(fwd_packed)(const dl_conv_params *p, const T *x, const T *w, const T *bias, T *y,
                            int64_t b0, int64_t nb, T *col, T *yb)
{
    const int64_t G = p->groups, Cg = p->C / G, Kg = p->K / G;
    const int64_t P = p->OH * p->OW, HW = p->H * p->W, Kc = Cg * p->R * p->S, ld = nb * P;
    for (int64_t g = 0; g < G; g++) {
        for (int64_t i = 0; i < nb; i++)
            SUF(im2col)(p, x + ((b0 + i) * p->C + g * Cg) * HW, Cg, 0, P, col + i * P, ld);
        GEMM(0, 0, (size_t)Kg, (size_t)ld, (size_t)Kc, 1, w + g * Kg * Kc, Kc, col, ld, 0, yb,
             ld, bias ? bias + g * Kg : NULL, bias ? DL_BIAS_COL : DL_BIAS_NONE, DL_ACT_NONE);
        for (int64_t i = 0; i < nb; i++)
            for (int64_t k = 0; k < Kg; k++)
                memcpy(y + ((b0 + i) * p->K + g * Kg + k) * P, yb + k * ld + i * P,
                       (size_t)P * sizeof(T));
    }
}

/* Runs a packed-tile function (fwd_packed or bwd_data_packed: the same signature) over the
 * batch in tiles of kb images, each thread with its own column and gather buffers. */
typedef void (*SUF(packed_tile_fn))(const dl_conv_params *, const T *, const T *, const T *, T *,
                                    int64_t, int64_t, T *, T *);

static int SUF(packed_tiles_all)(const dl_conv_params *p, SUF(packed_tile_fn) tile, const T *in,
                                 const T *w, const T *bias, T *out, int64_t kb, int nt)
{
    const int64_t P = p->OH * p->OW, Kg = p->K / p->groups;
    const int64_t Kc = p->C / p->groups * p->R * p->S, tiles = (p->N + kb - 1) / kb;
    const size_t need = (size_t)((Kc + Kg) * kb * P);
    int fail = 0;
    if (!split_outer(tiles, nt)) nt = 1;
    #pragma omp parallel num_threads(nt)
    {
        T *col = (T *)dl_alloc(need * sizeof(T));
        if (!col) {
            #pragma omp atomic write
            fail = 1;
        }
        #pragma omp barrier
        if (!fail) {
            #pragma omp for schedule(dynamic, 1)
            for (int64_t t = 0; t < tiles; t++) {
                const int64_t b0 = t * kb;
                tile(p, in, w, bias, out, b0, min64(kb, p->N - b0), col, col + Kc * kb * P);
            }
        }
        dl_free(col);
    }
    return fail ? -1 : 0;
}

int SUF(dl_conv2d_fwd)(const dl_conv_params *p, const T *x, const T *w, const T *bias, T *y)
{
    if (p->C / p->groups == 1) return SUF(dw_fwd)(p, x, w, bias, y);
    const int64_t P = p->OH * p->OW, Kc = p->C / p->groups * p->R * p->S;
    {
        const int ntp = dl_threads_for((size_t)(p->N * p->K * P * Kc), DL_CONV_GRAIN);
        const int64_t kb = SUF(pack_images)(p, Kc, ntp);
        if (kb > 1) return SUF(packed_tiles_all)(p, SUF(fwd_packed), x, w, bias, y, kb, ntp);
    }
    const int direct = SUF(pointwise)(p);
    const int64_t tp = direct ? P : SUF(col_tile)(P, Kc);
    const int64_t ntp = (P + tp - 1) / tp, tiles = p->N * ntp;
    const size_t col_elems = direct ? 0 : (size_t)(Kc * tp);
    const int nt = dl_threads_for((size_t)(p->N * p->K * P * Kc), DL_CONV_GRAIN);
    int fail = 0;
    const int64_t cb = direct ? p->C / p->groups : SUF(chunk_channels)(p, p->C / p->groups, tp);
    SUF(lhs) *L = SUF(weights_lhs)(p, w, 0, Kc, cb);
    if (!L) return -1;
    if (split_outer(tiles, nt)) {
        #pragma omp parallel num_threads(nt)
        {
            T *col = direct ? NULL : (T *)dl_alloc(col_elems * sizeof(T));
            if (!direct && !col) {
                #pragma omp atomic write
                fail = 1;
            }
            #pragma omp barrier
            if (!fail) {
                #pragma omp for schedule(dynamic, 1)
                for (int64_t t = 0; t < tiles; t++) {
                    const int64_t p0 = (t % ntp) * tp;
                    SUF(fwd_tile)(p, x, L, cb, bias, y, t / ntp, p0, min64(tp, P - p0), direct,
                                  col);
                }
            }
            dl_free(col);
        }
        SUF(weights_lhs_free)(p, L, cb);
        return fail ? -1 : 0;
    }
    T *col = direct ? NULL : (T *)dl_alloc(col_elems * sizeof(T));
    if (!direct && !col) {
        SUF(weights_lhs_free)(p, L, cb);
        return -1;
    }
    for (int64_t t = 0; t < tiles; t++) {
        const int64_t p0 = (t % ntp) * tp;
        SUF(fwd_tile)(p, x, L, cb, bias, y, t / ntp, p0, min64(tp, P - p0), direct, col);
    }
    dl_free(col);
    SUF(weights_lhs_free)(p, L, cb);
    return 0;
}

/* The input gradient of one image: col = W_g^T gy_g per tile, scattered back by col2im. */
static void SUF(bwd_data_image)(const dl_conv_params *p, const T *gy, const SUF(lhs) *L,
                                const T *bias_init, T *gx, int64_t n, int64_t tp, int direct,
                                T *col)
{
    const int64_t G = p->groups, Cg = p->C / G, Kg = p->K / G;
    const int64_t P = p->OH * p->OW, HW = p->H * p->W;
    T *gxn = gx + n * p->C * HW;
    if (bias_init) {
        for (int64_t c = 0; c < p->C; c++)
            for (int64_t q = 0; q < HW; q++) gxn[c * HW + q] = bias_init[c];
    } else if (!direct) {
        memset(gxn, 0, (size_t)(p->C * HW) * sizeof(T));
    }
    for (int64_t p0 = 0; p0 < P; p0 += tp) {
        const int64_t np = min64(tp, P - p0);
        for (int64_t g = 0; g < G; g++) {
            const T *gyg = gy + (n * p->K + g * Kg) * P + p0;
            if (direct) {
                SUF(lhs_gemm)(&L[g], 0, np, gyg, P, bias_init ? 1 : 0, gxn + g * Cg * HW + p0,
                              HW, NULL, DL_BIAS_NONE);
                continue;
            }
            SUF(lhs_gemm)(&L[g], 0, np, gyg, P, 0, col, np, NULL, DL_BIAS_NONE);
            SUF(col2im)(p, col, Cg, p0, np, gxn + g * Cg * HW, np);
        }
    }
}

/* Input gradient of images b0 .. b0+nb-1 (see fwd_packed): gyb gathers their output
 * gradients (Kg x nb*P), one GEMM per group gives col = W_g^T gyb, col2im scatters each image's
 * columns.  Tiles hold whole images, so threads never write the same gx. */
static void SUF(bwd_data_packed)(const dl_conv_params *p, const T *gy, const T *w,
                                 const T *bias_init, T *gx, int64_t b0, int64_t nb, T *col,
                                 T *gyb)
{
    const int64_t G = p->groups, Cg = p->C / G, Kg = p->K / G;
    const int64_t P = p->OH * p->OW, HW = p->H * p->W, Kc = Cg * p->R * p->S, ld = nb * P;
    T *gxb = gx + b0 * p->C * HW;
    for (int64_t i = 0; i < nb; i++)
        for (int64_t c = 0; c < p->C; c++) {
            T *d = gxb + (i * p->C + c) * HW;
            const T v = bias_init ? bias_init[c] : (T)0;
            for (int64_t q = 0; q < HW; q++) d[q] = v;
        }
    for (int64_t g = 0; g < G; g++) {
        for (int64_t i = 0; i < nb; i++)
            for (int64_t k = 0; k < Kg; k++)
                memcpy(gyb + k * ld + i * P, gy + ((b0 + i) * p->K + g * Kg + k) * P,
                       (size_t)P * sizeof(T));
        GEMM(1, 0, (size_t)Kc, (size_t)ld, (size_t)Kg, 1, w + g * Kg * Kc, Kc, gyb, ld, 0, col,
             ld, NULL, DL_BIAS_NONE, DL_ACT_NONE);
        for (int64_t i = 0; i < nb; i++)
            SUF(col2im)(p, col + i * P, Cg, 0, P, gxb + (i * p->C + g * Cg) * HW, ld);
    }
}

int SUF(dl_conv2d_bwd_data)(const dl_conv_params *p, const T *gy, const T *w,
                            const T *bias_init, T *gx)
{
    if (p->C / p->groups == 1) return SUF(dw_bwd_data)(p, gy, w, bias_init, gx);
    const int64_t P = p->OH * p->OW, Kc = p->C / p->groups * p->R * p->S;
    {
        const int ntp = dl_threads_for((size_t)(p->N * p->K * P * Kc), DL_CONV_GRAIN);
        const int64_t kb = SUF(pack_images)(p, Kc, ntp);
        if (kb > 1)
            return SUF(packed_tiles_all)(p, SUF(bwd_data_packed), gy, w, bias_init, gx, kb,
                                         ntp);
    }
    const int direct = SUF(pointwise)(p);
    const int64_t tp = direct ? P : SUF(col_tile)(P, Kc);
    const size_t col_elems = direct ? 0 : (size_t)(Kc * tp);
    const int nt = dl_threads_for((size_t)(p->N * p->K * P * Kc), DL_CONV_GRAIN);
    int fail = 0;
    const int64_t cb = p->C / p->groups;
    SUF(lhs) *L = SUF(weights_lhs)(p, w, 1, Kc, cb);
    if (!L) return -1;
    /* col2im of two tiles of one image would race: threads split whole images */
    if (split_outer(p->N, nt)) {
        #pragma omp parallel num_threads(nt)
        {
            T *col = direct ? NULL : (T *)dl_alloc(col_elems * sizeof(T));
            if (!direct && !col) {
                #pragma omp atomic write
                fail = 1;
            }
            #pragma omp barrier
            if (!fail) {
                #pragma omp for schedule(dynamic, 1)
                for (int64_t n = 0; n < p->N; n++)
                    SUF(bwd_data_image)(p, gy, L, bias_init, gx, n, tp, direct, col);
            }
            dl_free(col);
        }
        SUF(weights_lhs_free)(p, L, cb);
        return fail ? -1 : 0;
    }
    T *col = direct ? NULL : (T *)dl_alloc(col_elems * sizeof(T));
    if (!direct && !col) {
        SUF(weights_lhs_free)(p, L, cb);
        return -1;
    }
    for (int64_t n = 0; n < p->N; n++)
        SUF(bwd_data_image)(p, gy, L, bias_init, gx, n, tp, direct, col);
    dl_free(col);
    SUF(weights_lhs_free)(p, L, cb);
    return 0;
}

/* The weight gradient of one tile, every group, accumulated into acc: either
 * gw_g += gy_g (Kg x np) @ col^T (np x Kc), or, with `tr`, its transpose
 * gw_g^T += col (Kc x np) @ gy_g^T (np x Kg) (acc then holds Kc x Kg per group): the GEMM runs
 * faster with the long side as M when Kg is the smaller one. */
static void SUF(bwd_weight_tile)(const dl_conv_params *p, const T *x, const T *gy, T *acc,
                                 int64_t n, int64_t p0, int64_t np, int direct, int tr,
                                 int64_t cb, T *col)
{
    const int64_t G = p->groups, Cg = p->C / G, Kg = p->K / G;
    const int64_t P = p->OH * p->OW, HW = p->H * p->W, Kc = Cg * p->R * p->S;
    const int64_t RS = p->R * p->S, nch = (Cg + cb - 1) / cb;
    for (int64_t g = 0; g < G; g++) {
        const T *xg = x + (n * p->C + g * Cg) * HW;
        const T *gyt = gy + (n * p->K + g * Kg) * P + p0;
        if (!tr && !direct) {
            /* gw_g[:, chunk] += gy_g col_chunk^T, chunk after chunk of cb channels, with gy_g
             * packed once when there are several */
            SUF(lhs) A;
            SUF(lhs_init)(&A, 0, Kg, np, gyt, P, nch > 1);
            for (int64_t ch = 0; ch < nch; ch++) {
                const int64_t cn = min64(cb, Cg - ch * cb);
                SUF(im2col)(p, xg + ch * cb * HW, cn, p0, np, col, np);
                SUF(lhs_gemm)(&A, 1, cn * RS, col, np, 1, acc + g * Kg * Kc + ch * cb * RS, Kc,
                              NULL, DL_BIAS_NONE);
            }
            SUF(lhs_free)(&A);
            continue;
        }
        const T *B = xg + p0;
        ptrdiff_t ldb = HW;
        if (!direct) {
            SUF(im2col)(p, xg, Cg, p0, np, col, np);
            B = col;
            ldb = np;
        }
        if (tr)
            GEMM(0, 1, (size_t)Kc, (size_t)Kg, (size_t)np, 1, B, ldb, gyt, P, 1,
                 acc + g * Kg * Kc, Kg, NULL, DL_BIAS_NONE, DL_ACT_NONE);
        else
            GEMM(0, 1, (size_t)Kg, (size_t)Kc, (size_t)np, 1, gyt, P, B, ldb, 1,
                 acc + g * Kg * Kc, Kc, NULL, DL_BIAS_NONE, DL_ACT_NONE);
    }
}

/* gw += acc, acc in bwd_weight_tile's layout (transposed per group when tr). */
static void SUF(wgrad_add)(const dl_conv_params *p, const T *acc, int tr, T *gw)
{
    const int64_t G = p->groups, Kg = p->K / G, Kc = p->C / G * p->R * p->S;
    if (!tr) {
        for (int64_t q = 0; q < p->K * Kc; q++) gw[q] += acc[q];
        return;
    }
    /* a transposing add, in 16 x 16 blocks so that neither side walks a column of a large
     * matrix (one cache line per element) */
    for (int64_t g = 0; g < G; g++) {
        const T *a = acc + g * Kg * Kc;
        T *d = gw + g * Kg * Kc;
        for (int64_t j0 = 0; j0 < Kc; j0 += 16) {
            const int64_t j1 = min64(Kc, j0 + 16);
            for (int64_t k0 = 0; k0 < Kg; k0 += 16) {
                const int64_t k1 = min64(Kg, k0 + 16);
                for (int64_t k = k0; k < k1; k++)
                    for (int64_t j = j0; j < j1; j++) d[k * Kc + j] += a[j * Kg + k];
            }
        }
    }
}

/* gw rows k0 .. k1-1 (output channels; k1 - k0 <= 16) = the sum of the threads' private
 * gradients, each in bwd_weight_tile's layout (transposed per group when tr).  Threads take
 * different rows, so the reduction runs in parallel and gw needs no zeroing. */
static void SUF(wgrad_reduce)(const dl_conv_params *p, T *const *parts, int nparts, int tr,
                              T *gw, int64_t k0, int64_t k1)
{
    const int64_t Kg = p->K / p->groups, Kc = p->C / p->groups * p->R * p->S;
    if (!tr) {
        const int64_t off = k0 * Kc, n = (k1 - k0) * Kc;
        T *d = gw + off;
        for (int64_t q = 0; q < n; q++) d[q] = parts[0][off + q];
        for (int t = 1; t < nparts; t++) {
            const T *a = parts[t] + off;
            for (int64_t q = 0; q < n; q++) d[q] += a[q];
        }
        return;
    }
    for (int64_t j0 = 0; j0 < Kc; j0 += 16) {
        const int64_t j1 = min64(Kc, j0 + 16);
        for (int64_t k = k0; k < k1; k++) {
            const int64_t g = k / Kg, kk = k % Kg;
            for (int64_t j = j0; j < j1; j++) {
                const int64_t src = g * Kg * Kc + j * Kg + kk;
                T v = parts[0][src];
                for (int t = 1; t < nparts; t++) v += parts[t][src];
                gw[k * Kc + j] = v;
            }
        }
    }
}

/* Weight gradient of images b0 .. b0+nb-1 in one GEMM per group (see fwd_packed): col holds
 * their columns side by side, gyb their output gradients (Kg x nb*P); accumulates into acc in
 * bwd_weight_tile's layout. */
static void SUF(bwd_weight_packed)(const dl_conv_params *p, const T *x, const T *gy, T *acc,
                                   int64_t b0, int64_t nb, int tr, T *col, T *gyb)
{
    const int64_t G = p->groups, Cg = p->C / G, Kg = p->K / G;
    const int64_t P = p->OH * p->OW, HW = p->H * p->W, Kc = Cg * p->R * p->S, ld = nb * P;
    for (int64_t g = 0; g < G; g++) {
        for (int64_t i = 0; i < nb; i++) {
            SUF(im2col)(p, x + ((b0 + i) * p->C + g * Cg) * HW, Cg, 0, P, col + i * P, ld);
            for (int64_t k = 0; k < Kg; k++)
                memcpy(gyb + k * ld + i * P, gy + ((b0 + i) * p->K + g * Kg + k) * P,
                       (size_t)P * sizeof(T));
        }
        if (tr)
            GEMM(0, 1, (size_t)Kc, (size_t)Kg, (size_t)ld, 1, col, ld, gyb, ld, 1,
                 acc + g * Kg * Kc, Kg, NULL, DL_BIAS_NONE, DL_ACT_NONE);
        else
            GEMM(0, 1, (size_t)Kg, (size_t)Kc, (size_t)ld, 1, gyb, ld, col, ld, 1,
                 acc + g * Kg * Kc, Kc, NULL, DL_BIAS_NONE, DL_ACT_NONE);
    }
}

/* gw = sum over packed tiles; each thread sums into a private copy, then the copies are
 * reduced into gw (wgrad_reduce). */
static int SUF(bwd_weight_packed_all)(const dl_conv_params *p, const T *x, const T *gy, T *gw,
                                      int64_t kb, int tr, int nt)
{
    const int64_t P = p->OH * p->OW, Kg = p->K / p->groups;
    const int64_t Kc = p->C / p->groups * p->R * p->S, wn = p->K * Kc;
    const int64_t tiles = (p->N + kb - 1) / kb, kblocks = (p->K + 15) / 16;
    const size_t need = (size_t)((Kc + Kg) * kb * P + wn);
    int fail = 0, nparts = 0;
    if (!split_outer(tiles, nt)) nt = 1;
    T **parts = (T **)dl_alloc((size_t)nt * sizeof(T *));
    if (!parts) return -1;
    #pragma omp parallel num_threads(nt)
    {
        T *part = (T *)dl_alloc(need * sizeof(T));
        if (!part) {
            #pragma omp atomic write
            fail = 1;
        }
        #pragma omp barrier
        if (!fail) {
            T *col = part + wn, *gyb = col + Kc * kb * P;
            memset(part, 0, (size_t)wn * sizeof(T));
            /* a static split and one slot per thread number: the same tiles meet in the same
             * partial sums every call, so the gradient is bit-for-bit repeatable */
            #pragma omp for schedule(static)
            for (int64_t t = 0; t < tiles; t++) {
                const int64_t b0 = t * kb;
                SUF(bwd_weight_packed)(p, x, gy, part, b0, min64(kb, p->N - b0), tr, col, gyb);
            }
            parts[dl_thread_id()] = part;
            #pragma omp atomic update
            nparts++;
            #pragma omp barrier
            #pragma omp for schedule(static)
            for (int64_t kbk = 0; kbk < kblocks; kbk++)
                SUF(wgrad_reduce)(p, parts, nparts, tr, gw, kbk * 16, min64(p->K, kbk * 16 + 16));
        }
        dl_free(part);
    }
    dl_free(parts);
    return fail ? -1 : 0;
}

int SUF(dl_conv2d_bwd_weight)(const dl_conv_params *p, const T *x, const T *gy, T *gw, T *gb)
{
    const int64_t P = p->OH * p->OW;
    if (gb) SUF(dl_channel_sum)(p->N, p->K, P, gy, gb);
    if (!gw) return 0;
    if (p->C / p->groups == 1) return SUF(dw_bwd_weight)(p, x, gy, gw);
    const int64_t Kc = p->C / p->groups * p->R * p->S, wn = p->K * Kc;
    const int direct = SUF(pointwise)(p);
    /* the transposed product (and a transposing add at the end) only for few output
     * channels per group: with Kg >= 128 the direct one runs as fast and accumulates in place */
    const int tr = p->K / p->groups < Kc && p->K / p->groups < 128;
    {
        const int ntp = dl_threads_for((size_t)(p->N * p->K * P * Kc), DL_CONV_GRAIN);
        const int64_t kb = SUF(pack_images)(p, Kc, ntp);
        if (kb > 1) return SUF(bwd_weight_packed_all)(p, x, gy, gw, kb, tr, ntp);
    }
    const int64_t tp = direct ? P : SUF(col_tile)(P, Kc);
    const int64_t ntp = (P + tp - 1) / tp, tiles = p->N * ntp;
    const size_t col_elems = direct ? 0 : (size_t)(Kc * tp);
    const int nt = dl_threads_for((size_t)(p->N * p->K * P * Kc), DL_CONV_GRAIN);
    const int64_t Cg = p->C / p->groups;
    const int64_t cb = direct || tr ? Cg : SUF(chunk_channels)(p, Cg, tp);
    int fail = 0, nparts = 0;
    if (split_outer(tiles, nt)) {
        /* each thread sums its tiles into a private gradient; the threads then reduce the
         * copies into gw, each a share of its rows */
        const int64_t kblocks = (p->K + 15) / 16;
        T **parts = (T **)dl_alloc((size_t)nt * sizeof(T *));
        if (!parts) return -1;
        #pragma omp parallel num_threads(nt)
        {
            T *part = (T *)dl_alloc((col_elems + (size_t)wn) * sizeof(T));
            if (!part) {
                #pragma omp atomic write
                fail = 1;
            }
            #pragma omp barrier
            if (!fail) {
                T *col = part + wn;
                memset(part, 0, (size_t)wn * sizeof(T));
                /* static split, slot by thread number: repeatable sums (see above) */
                #pragma omp for schedule(static)
                for (int64_t t = 0; t < tiles; t++) {
                    const int64_t p0 = (t % ntp) * tp;
                    SUF(bwd_weight_tile)(p, x, gy, part, t / ntp, p0, min64(tp, P - p0),
                                         direct, tr, cb, col);
                }
                parts[dl_thread_id()] = part;
                #pragma omp atomic update
                nparts++;
                #pragma omp barrier
                #pragma omp for schedule(static)
                for (int64_t kbk = 0; kbk < kblocks; kbk++)
                    SUF(wgrad_reduce)(p, parts, nparts, tr, gw, kbk * 16,
                                      min64(p->K, kbk * 16 + 16));
            }
            dl_free(part);
        }
        dl_free(parts);
        return fail ? -1 : 0;
    }
    memset(gw, 0, (size_t)wn * sizeof(T));
    T *acc = (T *)dl_alloc((col_elems + (size_t)(tr ? wn : 0)) * sizeof(T));
    if (!acc) return -1;
    T *col = tr ? acc + wn : acc;
    if (tr) memset(acc, 0, (size_t)wn * sizeof(T));
    for (int64_t t = 0; t < tiles; t++) {
        const int64_t p0 = (t % ntp) * tp;
        SUF(bwd_weight_tile)(p, x, gy, tr ? acc : gw, t / ntp, p0, min64(tp, P - p0), direct,
                             tr, cb, col);
    }
    if (tr) SUF(wgrad_add)(p, acc, tr, gw);
    dl_free(acc);
    return 0;
}
