/* Forward (y = W col per tile, bias fused) and input gradient (col = W^T gy per tile, scattered
 * back by col2im: the transposed convolution's forward), each per image or in packed tiles of
 * several small images.  Part of conv_impl.h: written once for float and double (T, SUF, GEMM). */

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

/* Forward of images b0 .. b0+nb-1 in one GEMM per group: col holds their columns side by side
 * (Kc x nb*P in rows of ldc = nb*P + DL_CONV_RUN_SLACK, each image's by im2col_image; xp its
 * scratch), yb receives Kg x nb*P outputs (bias fused), then each image's rows go back to
 * y[b][k][:]. */
static void SUF(fwd_packed)(const dl_conv_params *p, const T *x, const SUF(lhs) *L,
                            const T *bias, T *y, int64_t b0, int64_t nb, T *col, T *yb, T *xp)
{
    const int64_t G = p->groups, Cg = p->C / G, Kg = p->K / G;
    const int64_t P = p->OH * p->OW, HW = p->H * p->W, ld = nb * P;
    const int64_t ldc = ld + DL_CONV_RUN_SLACK;
    for (int64_t g = 0; g < G; g++) {
        for (int64_t i = 0; i < nb; i++) {
            SUF(im2col_image)(p, x + ((b0 + i) * p->C + g * Cg) * HW, Cg, xp, col + i * P, ldc);
        }
        SUF(lhs_gemm)(&L[g], 0, ld, col, ldc, 0, yb, ld, bias ? bias + g * Kg : NULL,
                      bias ? DL_BIAS_COL : DL_BIAS_NONE);
        for (int64_t i = 0; i < nb; i++)
            for (int64_t k = 0; k < Kg; k++)
                memcpy(y + ((b0 + i) * p->K + g * Kg + k) * P, yb + k * ld + i * P,
                       (size_t)P * sizeof(T));
    }
}

/* Runs fn(ctx, u, col) for u < units, each call with a column tile of col_elems elements (or
 * none): the units split over nt threads when that balances (split_outer; each GEMM then on
 * one thread), else in order on this thread with each GEMM using the threads. */
typedef void (*SUF(unit_fn))(void *ctx, int64_t u, T *col);

static int SUF(run_units)(int64_t units, int nt, size_t col_elems, SUF(unit_fn) fn, void *ctx)
{
    int fail = 0;
    #pragma omp parallel num_threads(nt) if (split_outer(units, nt))
    {
        T *col = col_elems ? (T *)dl_alloc(col_elems * sizeof(T)) : NULL;
        if (team_all_ok(!col_elems || col, &fail)) {
            #pragma omp for schedule(dynamic, 1)
            for (int64_t u = 0; u < units; u++) fn(ctx, u, col);
        }
        dl_free(col);
    }
    return fail ? -1 : 0;
}

/* The forward's column tile: col_tile's, but no more than DL_CONV_FWD_TILE_BYTES when its
 * Kc rows fit one GEMM K block (256).  chunk_channels cannot cut so few rows, and a network's
 * stem (3 channels x 7x7 taps) made a whole-image tile of 7 MB that left L2 between im2col and
 * the GEMM: ResNet-18's first layer took 3.45 ms at batch 1 and 27.7 ms at batch 8 (one
 * thread) in 8 MB tiles, 2.95 and 23.5 ms in 1 MB ones; wider rows keep col_tile's (a 3x3
 * stride-2 layer of 64 channels was 5-10% slower in 1 MB tiles). */
static int64_t SUF(fwd_col_tile)(int64_t P, int64_t Kc)
{
    const int64_t t = SUF(col_tile)(P, Kc);
    if (Kc > 256) return t;
    int64_t cap = (int64_t)(DL_CONV_FWD_TILE_BYTES / ((size_t)Kc * sizeof(T))) / 16 * 16;
    if (cap < 16) cap = 16;
    return t > cap ? cap : t;
}

/* The output positions per tile of the forward: tp (whole images, or the column budget's
 * tiles) unless its n*ceil(P/tp) tiles would not split over nt threads (a batch-1 call on
 * a map that fits one tile), then the largest tile, 16 columns a multiple, whose tiles do:
 * the threads then share one team, each running im2col and a one-thread GEMM on its own
 * tiles.  A tile count that does not split left each image's GEMM to take the threads
 * itself, inside run_units' inactive region, where libgomp starts a nested team's threads
 * afresh on every call instead of reusing its pool (a batch-1 3x3 stride-2 layer of
 * ResNet-18 at two threads: 2.5x the one-thread CPU time, its im2col on one thread). */
static int64_t SUF(split_tile)(int64_t n, int64_t P, int64_t tp, int nt)
{
    const int64_t ntp = (P + tp - 1) / tp;
    if (nt < 2 || split_outer(n * ntp, nt)) return tp;
    for (int64_t k = ntp + 1; k <= ntp * nt; k++) {
        const int64_t t = roundup16((P + k - 1) / k);
        if (t < P && split_outer(n * ((P + t - 1) / t), nt)) return t;
    }
    return tp;
}

typedef struct {
    const dl_conv_params *p;
    const T *x;
    const SUF(lhs) *L;
    int64_t cb;
    const T *bias;
    T *y;
    int64_t tp, ntp;
    int direct;
} SUF(fwd_ctx);

/* unit t: image t / ntp, output positions from (t % ntp) * tp */
static void SUF(fwd_unit)(void *ctx_, int64_t t, T *col)
{
    const SUF(fwd_ctx) *c = ctx_;
    const int64_t P = c->p->OH * c->p->OW, p0 = (t % c->ntp) * c->tp;
    SUF(fwd_tile)(c->p, c->x, c->L, c->cb, c->bias, c->y, t / c->ntp, p0, min64(c->tp, P - p0),
                  c->direct, col);
}

int SUF(dl_conv2d_fwd)(const dl_conv_params *p, const T *x, const T *w, const T *bias, T *y)
{
    if (SUF(depthwise)(p)) return SUF(dw_fwd)(p, x, w, bias, y);
    {
        int rc;
        if (SUF(try_fwd_routes)(p, x, w, bias, y, &rc)) return rc;
    }
    const int64_t P = p->OH * p->OW, Kc = p->C / p->groups * p->R * p->S;
    {
        const int ntp = dl_threads_for((size_t)(p->N * p->K * P * Kc), DL_CONV_GRAIN);
        const int64_t kb = SUF(pack_images)(p, Kc, ntp);
        if (SUF(fwd_panels_take)(p, kb)) return SUF(fwd_panels_all)(p, x, w, bias, y, kb, ntp);
        if (kb > 1) return SUF(packed_tiles_all)(p, SUF(fwd_packed), x, w, 0, bias, y, kb, ntp);
    }
    const int direct = SUF(pointwise)(p);
    const int nt = dl_threads_for((size_t)(p->N * p->K * P * Kc), DL_CONV_GRAIN);
    const int64_t tp = SUF(split_tile)(p->N, P, direct ? P : SUF(fwd_col_tile)(P, Kc), nt);
    const int64_t ntp = (P + tp - 1) / tp, tiles = p->N * ntp;
    const size_t col_elems = direct ? 0 : (size_t)(Kc * tp);
    const int64_t cb = direct ? p->C / p->groups : SUF(chunk_channels)(p, p->C / p->groups, tp);
    SUF(lhs) *L = SUF(weights_lhs)(p, w, 0, Kc, cb);
    if (!L) return -1;
    SUF(fwd_ctx) ctx = {p, x, L, cb, bias, y, tp, ntp, direct};
    const int rc = SUF(run_units)(tiles, nt, col_elems, SUF(fwd_unit), &ctx);
    SUF(weights_lhs_free)(p, L, cb);
    return rc;
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
 * gradients (Kg x nb*P), one GEMM per group gives col = W_g^T gyb, col2im_image adds each
 * image's columns to gx (xp: its scratch).  Tiles hold whole images, so threads never write
 * the same gx. */
static void SUF(bwd_data_packed)(const dl_conv_params *p, const T *gy, const SUF(lhs) *L,
                                 const T *bias_init, T *gx, int64_t b0, int64_t nb, T *col,
                                 T *gyb, T *xp)
{
    const int64_t G = p->groups, Cg = p->C / G, Kg = p->K / G;
    const int64_t P = p->OH * p->OW, HW = p->H * p->W, ld = nb * P;
    const int64_t ldc = ld + DL_CONV_RUN_SLACK;   /* col's rows, as fwd_packed's */
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
        SUF(lhs_gemm)(&L[g], 0, ld, gyb, ld, 0, col, ldc, NULL, DL_BIAS_NONE);
        for (int64_t i = 0; i < nb; i++) {
            SUF(col2im_image)(p, col + i * P, Cg, xp, gxb + (i * p->C + g * Cg) * HW, ldc);
        }
    }
}

typedef struct {
    const dl_conv_params *p;
    const T *gy;
    const SUF(lhs) *L;
    const T *bias_init;
    T *gx;
    int64_t tp;
    int direct;
} SUF(bwd_data_ctx);

static void SUF(bwd_data_unit)(void *ctx_, int64_t n, T *col)
{
    const SUF(bwd_data_ctx) *c = ctx_;
    SUF(bwd_data_image)(c->p, c->gy, c->L, c->bias_init, c->gx, n, c->tp, c->direct, col);
}

int SUF(dl_conv2d_bwd_data)(const dl_conv_params *p, const T *gy, const T *w,
                            const T *bias_init, T *gx)
{
    if (SUF(depthwise)(p)) return SUF(dw_bwd_data)(p, gy, w, bias_init, gx);
    {
        int rc;
        if (SUF(try_winograd)(p, 1, gy, w, bias_init, gx, &rc)) return rc;
    }
    const int64_t P = p->OH * p->OW, Kc = p->C / p->groups * p->R * p->S;
    {
        const int ntp = dl_threads_for((size_t)(p->N * p->K * P * Kc), DL_CONV_GRAIN);
        const int64_t kb = SUF(pack_images)(p, Kc, ntp);
        if (kb > 1)
            return SUF(packed_tiles_all)(p, SUF(bwd_data_packed), gy, w, 1, bias_init, gx, kb,
                                         ntp);
    }
    const int direct = SUF(pointwise)(p);
    const int64_t tp = direct ? P : SUF(col_tile)(P, Kc);
    const size_t col_elems = direct ? 0 : (size_t)(Kc * tp);
    const int nt = dl_threads_for((size_t)(p->N * p->K * P * Kc), DL_CONV_GRAIN);
    const int64_t cb = p->C / p->groups;
    SUF(lhs) *L = SUF(weights_lhs)(p, w, 1, Kc, cb);
    if (!L) return -1;
    /* col2im of two tiles of one image would race: the units are whole images */
    SUF(bwd_data_ctx) ctx = {p, gy, L, bias_init, gx, tp, direct};
    const int rc = SUF(run_units)(p->N, nt, col_elems, SUF(bwd_data_unit), &ctx);
    SUF(weights_lhs_free)(p, L, cb);
    return rc;
}
