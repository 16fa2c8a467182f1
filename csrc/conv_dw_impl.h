/* Depthwise convolution (groups == C, any channel multiplier): a direct kernel over zero-padded
 * input bands, forward, input and weight gradients; the inner row loops are SUF(dw_rows) and
 * SUF(dw_wgrad) (float32 at stride 1: the SIMD copies; otherwise the plain loops here).  Part of
 * conv_impl.h: written once for float and double (T, SUF, GEMM).
 *
 * float32 with "same" padding and one filter per channel first tries SUF(dw_same_fwd),
 * SUF(dw_same_bwd_data) and SUF(dw_same_wgrad) (conv.c: conv_dw_same_simd.c's kernels, which
 * read the planes in place; float64 has none), and comes here for the other forms. */

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

/* Whether p runs on the depthwise kernel: one input channel per group.  A single-channel
 * input with groups == 1 (a first layer on grey images: LeNet, a GAN's discriminator) has
 * that form too, but its K filters all read the same plane, which im2col + GEMM does in one
 * product; measured at batch 64 on 28x28 (fwd + both gradients): stride 1 with 2 or 6 5x5
 * filters 0.5 / 1.6 ms direct against 1.8 / 2.0 ms im2col, 16 filters 4.5 against 2.6, and
 * stride 2 (the direct kernel's scalar path) 32 4x4 filters 12 ms against 1.1. */
static int SUF(depthwise)(const dl_conv_params *p)
{
    if (p->C / p->groups != 1) return 0;
    return p->groups > 1 || (p->K <= 8 && p->sh == 1 && p->sw == 1);
}

static int SUF(dw_fwd)(const dl_conv_params *p, const T *x, const T *w, const T *bias, T *y)
{
    {
        const int rc = SUF(dw_same_fwd)(p, x, w, bias, y);
        if (rc != 1) return rc;
    }
    const int64_t M = p->K / p->C, planes = p->N * p->K, HW = p->H * p->W;
    const int64_t P = p->OH * p->OW, RS = p->R * p->S;
    const size_t need = SUF(dw_buf_elems)(p->OH, p->OW, p->R, p->S, p->sh, p->sw, p->dh, p->dw);
    const int nt = dl_threads_for((size_t)(planes * P * RS), DL_CONV_GRAIN);
    int fail = 0;
    #pragma omp parallel num_threads(nt)
    {
        T *buf = (T *)dl_alloc(need * sizeof(T));
        if (team_all_ok(buf != NULL, &fail)) {
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
    {
        const int rc = SUF(dw_same_bwd_data)(p, gy, w, bias_init, gx);
        if (rc != 1) return rc;
    }
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
        if (team_all_ok(buf != NULL, &fail)) {
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
        if (team_all_ok(buf && acc, &fail)) {
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
