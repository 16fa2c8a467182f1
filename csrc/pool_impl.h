/* Pooling kernels written once for both element types: csrc/pool.c instantiates this file
 * through each_dtype.h (T, SUF). */

/* the larger, or NaN when either is NaN (PyTorch's max pooling propagates NaN) */
static inline T SUF(max_nan)(T a, T b) { return (b > a || b != b) ? b : a; }

/* one output row of 2x2 stride-2 max pooling: the vector kernel when pool.c has one for this
 * type and CPU (SUF(pool2x2_row_simd) returns 1), else this loop */
static void SUF(pool2x2_row)(const T *r0, const T *r1, T *y, int64_t ow)
{
    if (SUF(pool2x2_row_simd)(r0, r1, y, ow)) return;
    for (int64_t j = 0; j < ow; j++)
        y[j] = SUF(max_nan)(SUF(max_nan)(r0[2 * j], r0[2 * j + 1]),
                            SUF(max_nan)(r1[2 * j], r1[2 * j + 1]));
}

/* the same with the flat argmax (base: offset of r0[0] in the plane; r1 = r0 + W): the
 * generic scan's rule, first maximum and a later NaN wins, on the four values */
static void SUF(pool2x2_row_idx)(const T *r0, const T *r1, T *y, int64_t *idx, int64_t ow,
                                 int64_t base, int64_t W)
{
    if (SUF(pool2x2_row_idx_simd)(r0, r1, y, idx, ow, base, W)) return;
    for (int64_t j = 0; j < ow; j++) {
        const T a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
        T best = a;
        int64_t at = 0;
        if (b > best || b != b) { best = b; at = 1; }
        if (c > best || c != c) { best = c; at = W; }
        if (d > best || d != d) { best = d; at = W + 1; }
        y[j] = best;
        idx[j] = base + 2 * j + at;
    }
}

/* Columns [j0, j0 + n) (n <= POOL_CHUNK) of one output row of any max pooling: the window's
 * taps in raster order, each tap over the columns whose tap lies inside the plane (no bounds
 * check or branch in that loop, so it vectorizes; the argmax is kept as int32 there).  Every
 * output meets its taps in the order of the one-window scan (rows, then columns, increasing):
 * the first maximum wins and a later NaN replaces it, and a window with nothing above -inf
 * keeps its first in-plane position. */
static void SUF(maxpool_cols)(const dl_pool_params *p, const T *xp, T *y, int64_t *ip,
                              int64_t oh, int64_t j0, int64_t n)
{
    const int64_t H = p->H, W = p->W, sw = p->sw;
    const int64_t h0 = oh * p->sh - p->ph;
    T best[POOL_CHUNK];
    int32_t at[POOL_CHUNK];
    int64_t hs = h0;
    while (hs < 0) hs += p->dh;
    for (int64_t j = 0; j < n; j++) {
        int64_t ws = (j0 + j) * sw - p->pw;
        while (ws < 0) ws += p->dw;
        best[j] = (T)-INFINITY;
        at[j] = (int32_t)(hs * W + ws);
    }
    for (int64_t r = 0; r < p->kh; r++) {
        const int64_t ih = h0 + r * p->dh;
        if (ih < 0 || ih >= H) continue;
        const T *xr = xp + ih * W;
        for (int64_t s = 0; s < p->kw; s++) {
            /* the columns j with 0 <= off + j*sw < W (off: column j0's tap) */
            const int64_t off = j0 * sw + s * p->dw - p->pw;
            int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
            int64_t hi = W - 1 - off < 0 ? 0 : (W - 1 - off) / sw + 1;
            if (hi > n) hi = n;
            if (lo >= hi) continue;
            const int32_t base = (int32_t)(ih * W + off);
            if (ip) {
                for (int64_t j = lo; j < hi; j++) {
                    const T v = xr[off + j * sw];
                    const int take = v > best[j] || v != v;
                    best[j] = take ? v : best[j];
                    at[j] = take ? base + (int32_t)(j * sw) : at[j];
                }
            } else {
                for (int64_t j = lo; j < hi; j++) best[j] = SUF(max_nan)(best[j], xr[off + j * sw]);
            }
        }
    }
    for (int64_t j = 0; j < n; j++) y[j] = best[j];
    if (ip)
        for (int64_t j = 0; j < n; j++) ip[j] = at[j];
}

/* One plane of any max pooling, window by window (planes too large for maxpool_cols'
 * int32 argmax). */
static void SUF(maxpool_plane_scan)(const dl_pool_params *p, const T *xp, T *yp, int64_t *ip)
{
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW;
    for (int64_t oh = 0; oh < OH; oh++) {
        int64_t h0 = oh * p->sh - p->ph;
        const int64_t h1 = min64(h0 + (p->kh - 1) * p->dh + 1, H);
        while (h0 < 0) h0 += p->dh;
        for (int64_t ow = 0; ow < OW; ow++) {
            int64_t w0 = ow * p->sw - p->pw;
            const int64_t w1 = min64(w0 + (p->kw - 1) * p->dw + 1, W);
            while (w0 < 0) w0 += p->dw;
            T best = -INFINITY;
            int64_t at = h0 * W + w0;
            for (int64_t ih = h0; ih < h1; ih += p->dh) {
                const T *xr = xp + ih * W;
                for (int64_t iw = w0; iw < w1; iw += p->dw) {
                    const T v = xr[iw];
                    if (v > best || v != v) {
                        best = v;
                        at = ih * W + iw;
                    }
                }
            }
            yp[oh * OW + ow] = best;
            if (ip) ip[oh * OW + ow] = at;
        }
    }
}

static void SUF(maxpool_plane)(const dl_pool_params *p, const T *x, T *y, int64_t *idx,
                               int64_t pl, int simple)
{
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW, HW = H * W, P = OH * OW;
    const T *xp = x + pl * HW;
    T *yp = y + pl * P;
    int64_t *ip = idx ? idx + pl * P : NULL;
    if (simple) {
        /* 2x2 windows wholly inside the plane: no bounds checks, one row kernel per
         * output row (vectorized for float32, see pool.c) */
        for (int64_t oh = 0; oh < OH; oh++) {
            const T *r0 = xp + 2 * oh * W;
            if (ip)
                SUF(pool2x2_row_idx)(r0, r0 + W, yp + oh * OW, ip + oh * OW, OW, 2 * oh * W,
                                     W);
            else
                SUF(pool2x2_row)(r0, r0 + W, yp + oh * OW, OW);
        }
        return;
    }
    if (HW > INT32_MAX) {   /* argmax past int32 (a plane of over 2^31 values) */
        SUF(maxpool_plane_scan)(p, xp, yp, ip);
        return;
    }
    for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t j0 = 0; j0 < OW; j0 += POOL_CHUNK)
            SUF(maxpool_cols)(p, xp, yp + oh * OW + j0, ip ? ip + oh * OW + j0 : NULL, oh, j0,
                              min64(POOL_CHUNK, OW - j0));
}

void SUF(dl_maxpool2d_fwd)(const dl_pool_params *p, const T *x, T *y, int64_t *idx)
{
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW;
    const int64_t work = p->planes * OH * OW * p->kh * p->kw;
    const int simple = p->kh == 2 && p->kw == 2 && p->sh == 2 && p->sw == 2 && p->dh == 1 &&
                       p->dw == 1 && p->ph == 0 && p->pw == 0 && 2 * OH <= H && 2 * OW <= W;
    const int nt = dl_threads_for((size_t)work, POOL_GRAIN);
    if (nt <= 1) {
        /* no OpenMP region at all: even a team of one costs ~0.5 us, a batch-1 LeNet's
         * pooling step about as much */
        for (int64_t pl = 0; pl < p->planes; pl++) SUF(maxpool_plane)(p, x, y, idx, pl, simple);
        return;
    }
    #pragma omp parallel for num_threads(nt)
    for (int64_t pl = 0; pl < p->planes; pl++) SUF(maxpool_plane)(p, x, y, idx, pl, simple);
}

int64_t SUF(dl_index_scatter2d)(int64_t planes, int64_t in_size, int64_t out_size, const T *gy,
                                const int64_t *idx, T *gx)
{
    int64_t bad = 0;
    #pragma omp parallel for reduction(+ : bad) num_threads(dl_threads_for((size_t)(planes * (in_size + out_size)), POOL_GRAIN))
    for (int64_t pl = 0; pl < planes; pl++) {
        T *g = gx + pl * in_size;
        const T *src = gy + pl * out_size;
        const int64_t *ip = idx + pl * out_size;
        memset(g, 0, (size_t)in_size * sizeof(T));
        for (int64_t o = 0; o < out_size; o++) {
            const int64_t i = ip[o];
            if (i < 0 || i >= in_size) {
                bad++;
                continue;
            }
            g[i] += src[o];
        }
    }
    return bad;
}

int64_t SUF(dl_index_gather2d)(int64_t planes, int64_t in_size, int64_t out_size, const T *x,
                               const int64_t *idx, T *y)
{
    int64_t bad = 0;
    #pragma omp parallel for reduction(+ : bad) num_threads(dl_threads_for((size_t)(planes * out_size), POOL_GRAIN))
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *src = x + pl * in_size;
        const int64_t *ip = idx + pl * out_size;
        T *d = y + pl * out_size;
        for (int64_t o = 0; o < out_size; o++) {
            const int64_t i = ip[o];
            if (i < 0 || i >= in_size) {
                bad++;
                d[o] = 0;
                continue;
            }
            d[o] = src[i];
        }
    }
    return bad;
}

/* PyTorch's window: [h0, h1) clipped to the plane; the divisor counts padding when asked. */
static inline T SUF(avg_window)(const dl_pool_params *p, int64_t oh, int64_t ow, int cip,
                                int64_t divisor, int64_t *h0, int64_t *h1, int64_t *w0,
                                int64_t *w1)
{
    int64_t a0 = oh * p->sh - p->ph, b0 = ow * p->sw - p->pw;
    int64_t a1 = min64(a0 + p->kh, p->H + p->ph), b1 = min64(b0 + p->kw, p->W + p->pw);
    const int64_t pool = (a1 - a0) * (b1 - b0);
    a0 = a0 < 0 ? 0 : a0;
    b0 = b0 < 0 ? 0 : b0;
    a1 = min64(a1, p->H);
    b1 = min64(b1, p->W);
    *h0 = a0, *h1 = a1, *w0 = b0, *w1 = b1;
    if (a0 >= a1 || b0 >= b1) return 0;
    const int64_t div = divisor > 0 ? divisor : (cip ? pool : (a1 - a0) * (b1 - b0));
    return (T)1 / (T)div;
}

void SUF(dl_avgpool2d_fwd)(const dl_pool_params *p, const T *x, T *y, int cip, int64_t divisor)
{
    const int64_t HW = p->H * p->W, P = p->OH * p->OW;
    #pragma omp parallel for num_threads(dl_threads_for((size_t)(p->planes * P * p->kh * p->kw), POOL_GRAIN))
    for (int64_t pl = 0; pl < p->planes; pl++) {
        const T *xp = x + pl * HW;
        for (int64_t oh = 0; oh < p->OH; oh++)
            for (int64_t ow = 0; ow < p->OW; ow++) {
                int64_t h0, h1, w0, w1;
                const T inv = SUF(avg_window)(p, oh, ow, cip, divisor, &h0, &h1, &w0, &w1);
                T s = 0;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) s += xp[ih * p->W + iw];
                y[pl * P + oh * p->OW + ow] = (h0 < h1 && w0 < w1) ? s * inv : (T)0;
            }
    }
}

void SUF(dl_avgpool2d_bwd)(const dl_pool_params *p, const T *gy, T *gx, int cip, int64_t divisor)
{
    const int64_t HW = p->H * p->W, P = p->OH * p->OW;
    #pragma omp parallel for num_threads(dl_threads_for((size_t)(p->planes * P * p->kh * p->kw), POOL_GRAIN))
    for (int64_t pl = 0; pl < p->planes; pl++) {
        T *gp = gx + pl * HW;
        memset(gp, 0, (size_t)HW * sizeof(T));
        for (int64_t oh = 0; oh < p->OH; oh++)
            for (int64_t ow = 0; ow < p->OW; ow++) {
                int64_t h0, h1, w0, w1;
                const T inv = SUF(avg_window)(p, oh, ow, cip, divisor, &h0, &h1, &w0, &w1);
                const T g = gy[pl * P + oh * p->OW + ow] * inv;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) gp[ih * p->W + iw] += g;
            }
    }
}

/* One adaptive pooling pass: planes in parallel, each output cell (oh, ow) over its input
 * window [h0, h1) x [w0, w1).  AD_AVG_FWD: out = the window's mean of in; AD_AVG_BWD: in is
 * the output gradient, out (the input gradient, zeroed first) gets in / window size over the
 * window; AD_MAX_FWD: out = the window's max of in (NaN wins), idx (if not NULL) its flat
 * index in the plane. */
static void SUF(adaptive_pass)(const dl_pool_params *p, int mode, const T *in, T *out,
                               int64_t *idx)
{
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW;
    #pragma omp parallel for num_threads(dl_threads_for((size_t)(p->planes * H * W), POOL_GRAIN))
    for (int64_t pl = 0; pl < p->planes; pl++) {
        /* the plane of the input (forward) or of the input gradient (backward) */
        const T *xp = mode == AD_AVG_BWD ? NULL : in + pl * H * W;
        T *gp = mode == AD_AVG_BWD ? out + pl * H * W : NULL;
        if (gp) memset(gp, 0, (size_t)(H * W) * sizeof(T));
        for (int64_t oh = 0; oh < OH; oh++) {
            const int64_t h0 = ad_start(oh, OH, H), h1 = ad_end(oh, OH, H);
            for (int64_t ow = 0; ow < OW; ow++) {
                const int64_t w0 = ad_start(ow, OW, W), w1 = ad_end(ow, OW, W);
                const int64_t o = (pl * OH + oh) * OW + ow;
                if (mode == AD_AVG_FWD) {
                    T s = 0;
                    for (int64_t ih = h0; ih < h1; ih++)
                        for (int64_t iw = w0; iw < w1; iw++) s += xp[ih * W + iw];
                    out[o] = s / (T)((h1 - h0) * (w1 - w0));
                } else if (mode == AD_AVG_BWD) {
                    const T g = in[o] / (T)((h1 - h0) * (w1 - w0));
                    for (int64_t ih = h0; ih < h1; ih++)
                        for (int64_t iw = w0; iw < w1; iw++) gp[ih * W + iw] += g;
                } else {
                    T best = -INFINITY;
                    int64_t at = h0 * W + w0;
                    for (int64_t ih = h0; ih < h1; ih++)
                        for (int64_t iw = w0; iw < w1; iw++) {
                            const T v = xp[ih * W + iw];
                            if (v > best || v != v) {
                                best = v;
                                at = ih * W + iw;
                            }
                        }
                    out[o] = best;
                    if (idx) idx[o] = at;
                }
            }
        }
    }
}

void SUF(dl_adaptive_avgpool2d_fwd)(const dl_pool_params *p, const T *x, T *y)
{
    SUF(adaptive_pass)(p, AD_AVG_FWD, x, y, NULL);
}

void SUF(dl_adaptive_avgpool2d_bwd)(const dl_pool_params *p, const T *gy, T *gx)
{
    SUF(adaptive_pass)(p, AD_AVG_BWD, gy, gx, NULL);
}

void SUF(dl_adaptive_maxpool2d_fwd)(const dl_pool_params *p, const T *x, T *y, int64_t *idx)
{
    SUF(adaptive_pass)(p, AD_MAX_FWD, x, y, idx);
}

/* ---- upsampling ---- */

void SUF(dl_upsample_nearest2d_fwd)(const dl_pool_params *p, float scale_h, float scale_w,
                                    const T *x, T *y)
{
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW;
    #pragma omp parallel for num_threads(dl_threads_for((size_t)(p->planes * OH * OW), POOL_GRAIN))
    for (int64_t pl = 0; pl < p->planes; pl++) {
        const T *xp = x + pl * H * W;
        T *yp = y + pl * OH * OW;
        for (int64_t oh = 0; oh < OH; oh++) {
            const T *xr = xp + near_src(oh, scale_h, H) * W;
            for (int64_t ow = 0; ow < OW; ow++) yp[oh * OW + ow] = xr[near_src(ow, scale_w, W)];
        }
    }
}

void SUF(dl_upsample_nearest2d_bwd)(const dl_pool_params *p, float scale_h, float scale_w,
                                    const T *gy, T *gx)
{
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW;
    #pragma omp parallel for num_threads(dl_threads_for((size_t)(p->planes * OH * OW), POOL_GRAIN))
    for (int64_t pl = 0; pl < p->planes; pl++) {
        T *gp = gx + pl * H * W;
        const T *g = gy + pl * OH * OW;
        memset(gp, 0, (size_t)(H * W) * sizeof(T));
        for (int64_t oh = 0; oh < OH; oh++) {
            T *gr = gp + near_src(oh, scale_h, H) * W;
            for (int64_t ow = 0; ow < OW; ow++) gr[near_src(ow, scale_w, W)] += g[oh * OW + ow];
        }
    }
}

/* Source position of output o (PyTorch's area_pixel_compute_source_index, linear mode):
 * i0, i1 the neighbours, l1 the weight of i1. */
static inline void SUF(lin_src)(int64_t o, T scale, int64_t in, int align, int64_t *i0,
                                int64_t *i1, T *l1)
{
    T src = align ? scale * (T)o : scale * ((T)o + (T)0.5) - (T)0.5;
    if (!align && src < 0) src = 0;
    int64_t a = (int64_t)src;
    if (a > in - 1) a = in - 1;
    *i0 = a;
    *i1 = a + (a < in - 1 ? 1 : 0);
    T l = src - (T)a;
    *l1 = l < 0 ? 0 : (l > 1 ? 1 : l);
}

void SUF(dl_upsample_bilinear2d_fwd)(const dl_pool_params *p, int align, double scale_h,
                                     double scale_w, const T *x, T *y)
{
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW;
    #pragma omp parallel for num_threads(dl_threads_for((size_t)(p->planes * OH * OW * 4), POOL_GRAIN))
    for (int64_t pl = 0; pl < p->planes; pl++) {
        const T *xp = x + pl * H * W;
        T *yp = y + pl * OH * OW;
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t h0, h1;
            T lh;
            SUF(lin_src)(oh, (T)scale_h, H, align, &h0, &h1, &lh);
            const T *r0 = xp + h0 * W, *r1 = xp + h1 * W;
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t w0, w1;
                T lw;
                SUF(lin_src)(ow, (T)scale_w, W, align, &w0, &w1, &lw);
                yp[oh * OW + ow] = (1 - lh) * ((1 - lw) * r0[w0] + lw * r0[w1]) +
                                   lh * ((1 - lw) * r1[w0] + lw * r1[w1]);
            }
        }
    }
}

void SUF(dl_upsample_bilinear2d_bwd)(const dl_pool_params *p, int align, double scale_h,
                                     double scale_w, const T *gy, T *gx)
{
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW;
    #pragma omp parallel for num_threads(dl_threads_for((size_t)(p->planes * OH * OW * 4), POOL_GRAIN))
    for (int64_t pl = 0; pl < p->planes; pl++) {
        T *gp = gx + pl * H * W;
        const T *g = gy + pl * OH * OW;
        memset(gp, 0, (size_t)(H * W) * sizeof(T));
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t h0, h1;
            T lh;
            SUF(lin_src)(oh, (T)scale_h, H, align, &h0, &h1, &lh);
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t w0, w1;
                T lw;
                SUF(lin_src)(ow, (T)scale_w, W, align, &w0, &w1, &lw);
                const T v = g[oh * OW + ow];
                gp[h0 * W + w0] += (1 - lh) * (1 - lw) * v;
                gp[h0 * W + w1] += (1 - lh) * lw * v;
                gp[h1 * W + w0] += lh * (1 - lw) * v;
                gp[h1 * W + w1] += lh * lw * v;
            }
        }
    }
}
