/* The im2col + GEMM path's tiling, shared by the forward and both gradients: the tile and chunk
 * sizes, the weights as packed left operands, and the driver that runs packed tiles of several
 * images over the threads.  Part of conv_impl.h: written once for float and double (T, SUF,
 * GEMM). */

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

/* Runs a packed-tile function (fwd_packed or bwd_data_packed: the same signature) over the
 * batch in tiles of kb images, each thread with its own column, gather and padded-plane
 * buffers; L: the weights as left operands, packed once (weights_lhs, with `transa` for the
 * input gradient). */
typedef void (*SUF(packed_tile_fn))(const dl_conv_params *, const T *, const SUF(lhs) *,
                                    const T *, T *, int64_t, int64_t, T *, T *, T *);

/* elements of one image's scratch for im2col_image / col2im_image (one group) */
static int64_t SUF(padded_elems)(const dl_conv_params *p)
{
    return conv_image_scratch(p);
}

static int SUF(packed_tiles_all)(const dl_conv_params *p, SUF(packed_tile_fn) tile, const T *in,
                                 const T *w, int transa, const T *bias, T *out, int64_t kb,
                                 int nt)
{
    const int64_t P = p->OH * p->OW, Kg = p->K / p->groups;
    const int64_t Kc = p->C / p->groups * p->R * p->S, tiles = (p->N + kb - 1) / kb;
    SUF(lhs) *L = SUF(weights_lhs)(p, w, transa, Kc, p->C / p->groups);
    if (!L) return -1;
    /* DL_CONV_RUN_SLACK before the columns, their rows of kb*P + DL_CONV_RUN_SLACK (see
     * conv_kernels.h), outputs, scratch */
    const size_t need = (size_t)(Kc * (kb * P + DL_CONV_RUN_SLACK) + Kg * kb * P +
                                 SUF(padded_elems)(p) + DL_CONV_RUN_SLACK);
    int fail = 0;
    if (!split_outer(tiles, nt)) nt = 1;
    #pragma omp parallel num_threads(nt)
    {
        T *buf = (T *)dl_alloc(need * sizeof(T));
        T *col = buf + DL_CONV_RUN_SLACK;
        if (team_all_ok(buf != NULL, &fail)) {
            memset(buf, 0, DL_CONV_RUN_SLACK * sizeof(T));
            #pragma omp for schedule(dynamic, 1)
            for (int64_t t = 0; t < tiles; t++) {
                const int64_t b0 = t * kb;
                T *yb = col + Kc * (kb * P + DL_CONV_RUN_SLACK);
                tile(p, in, L, bias, out, b0, min64(kb, p->N - b0), col, yb, yb + Kg * kb * P);
            }
        }
        dl_free(buf);
    }
    SUF(weights_lhs_free)(p, L, p->C / p->groups);
    return fail ? -1 : 0;
}
