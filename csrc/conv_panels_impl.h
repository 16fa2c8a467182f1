/* The weight gradient over packed tiles of small output maps (several images per product,
 * see pack_images) with the im2col columns copied straight into the GEMM's panels
 * (SUF(panel_gemm), conv_panels.h), already transposed, rather than written out whole by
 * im2col_image and then copied into panels by a transposing pack.  For DCGAN's 4x4 stride-2
 * convolution 32 -> 64 channels, 14x14 -> 7x7 at batch 64 this took the weight gradient from
 * 2.72-2.79 to 2.33-2.43 ms at one thread (CPU time, alternated with the build before, on a
 * loaded Zen 4; AVX2 and generic gain too, see conv_panels.h).  Taken for 4-wide kernel rows
 * at dilation 1 (SUF(have_panels)); the forward's columns copied the same way measured 5%
 * slower than fwd_packed there (AVX-512, Zen 4) and are taken on AVX2 only (fwd_panels_all
 * at the end of this file).  Part of conv_impl.h: written once for
 * float and double (T, SUF, GEMM).
 *
 * The operand's rows are runs over the tile's zero-padded planes (pad_extent; image i's group
 * planes at xp + i*Cg*Hp*Wp; see conv_panels_kernels.h), at offsets
 *   taps    t = (c*R + r)*S + s      c*Hp*Wp + r*dh*Wp + s*dw
 *   pixels  j = i*P + oh*OW + ow     i*Cg*Hp*Wp + oh*sh*Wp + ow*sw
 * The weight gradient's B is the columns transposed: row j starts at pixel j, its runs are
 * the kernel rows (c, r) of S taps at dilation dw. */

/* conv_wgrad_impl.h */
static void SUF(wgrad_publish_reduce)(const dl_conv_params *p, T **parts, int *nparts, T *part,
                                      int tr, T *gw);

/* Whether the panel path takes a packed tiling of kb images: float32 where the copy is fast
 * (SUF(have_panels)), and every offset of a tile's planes fits an int32. */
static int SUF(panels_take)(const dl_conv_params *p, int64_t kb)
{
    int64_t Hp, Wp;
    SUF(pad_extent)(p, &Hp, &Wp);
    return SUF(have_panels)(p) && kb > 1 &&
           kb * (p->C / p->groups) * Hp * Wp < ((int64_t)1 << 30);
}

/* the offset tables, in one block (table_len): pixels (kb*P) and kernel rows (Cg*R:
 * c*Hp*Wp + r*dh*Wp) */
typedef struct {
    int32_t *pix, *krows;
} SUF(panel_tab);

static int64_t SUF(table_len)(const dl_conv_params *p, int64_t kb)
{
    return kb * p->OH * p->OW + p->C / p->groups * p->R;
}

static void SUF(panel_offsets)(const dl_conv_params *p, int64_t kb, int32_t *block,
                               SUF(panel_tab) *tab)
{
    const int64_t Cg = p->C / p->groups, R = p->R, OH = p->OH, OW = p->OW;
    int64_t Hp, Wp;
    SUF(pad_extent)(p, &Hp, &Wp);
    const int64_t img = Cg * Hp * Wp;
    tab->pix = block;
    tab->krows = tab->pix + kb * OH * OW;
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t r = 0; r < R; r++)
            tab->krows[c * R + r] = (int32_t)(c * Hp * Wp + r * p->dh * Wp);
    for (int64_t i = 0; i < kb; i++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++)
                tab->pix[(i * OH + oh) * OW + ow] =
                    (int32_t)(i * img + oh * p->sh * Wp + ow * p->sw);
}

/* group g's planes of images b0 .. b0+nb-1 of x, zero-padded into xp */
static void SUF(pad_tile)(const dl_conv_params *p, const T *x, int64_t b0, int64_t nb,
                          int64_t g, T *xp)
{
    const int64_t Cg = p->C / p->groups, HW = p->H * p->W;
    int64_t Hp, Wp;
    SUF(pad_extent)(p, &Hp, &Wp);
    for (int64_t i = 0; i < nb; i++)
        SUF(pad_planes_panels)(p, x + ((b0 + i) * p->C + g * Cg) * HW, Cg, Hp, Wp,
                               xp + i * Cg * Hp * Wp);
}

/* elements of one thread's scratch: the padded planes of kb images and a Kg x kb*P block */
static size_t SUF(panel_scratch)(const dl_conv_params *p, int64_t kb)
{
    int64_t Hp, Wp;
    SUF(pad_extent)(p, &Hp, &Wp);
    return (size_t)(kb * (p->C / p->groups) * Hp * Wp + p->K / p->groups * kb * p->OH * p->OW);
}

/* The offset tables, shared by the team (NULL when out of memory; free with dl_free) */
static int32_t *SUF(panel_tables)(const dl_conv_params *p, int64_t kb, SUF(panel_tab) *tab)
{
    int32_t *block = (int32_t *)dl_alloc((size_t)SUF(table_len)(p, kb) * sizeof(int32_t));
    if (block) SUF(panel_offsets)(p, kb, block, tab);
    return block;
}

/* gw = sum over tiles of kb images of gy_g B (B: the tile's columns transposed, pixels by
 * taps); each thread sums its tiles into a private gradient, reduced as bwd_weight_packed_all
 * does (a static split: repeatable bits). */
static int SUF(wgrad_panels_all)(const dl_conv_params *p, const T *x, const T *gy, T *gw,
                                 int64_t kb, int nt)
{
    const int64_t G = p->groups, Cg = p->C / G, Kg = p->K / G, P = p->OH * p->OW;
    const int64_t Kc = Cg * p->R * p->S, wn = p->K * Kc, tiles = (p->N + kb - 1) / kb;
    int64_t Hp, Wp;
    SUF(pad_extent)(p, &Hp, &Wp);
    if (!split_outer(tiles, nt)) nt = 1;
    SUF(panel_tab) tab;
    int32_t *block = SUF(panel_tables)(p, kb, &tab);
    T **parts = (T **)dl_alloc((size_t)nt * sizeof(T *));
    if (!block || !parts) {
        dl_free(block);
        dl_free(parts);
        return -1;
    }
    int fail = 0, nparts = 0;
    #pragma omp parallel num_threads(nt)
    {
        T *part = (T *)dl_alloc(((size_t)wn + SUF(panel_scratch)(p, kb)) * sizeof(T));
        if (team_all_ok(part != NULL, &fail)) {
            T *xp = part + wn, *gyb = xp + kb * Cg * Hp * Wp;
            const conv_panel_src src = {(const float *)xp, tab.pix, tab.krows, p->S, p->dw, 0};
            memset(part, 0, (size_t)wn * sizeof(T));
            #pragma omp for schedule(static)
            for (int64_t t = 0; t < tiles; t++) {
                const int64_t b0 = t * kb, nb = min64(kb, p->N - b0), ld = nb * P;
                for (int64_t g = 0; g < G; g++) {
                    SUF(pad_tile)(p, x, b0, nb, g, xp);
                    for (int64_t i = 0; i < nb; i++)
                        for (int64_t k = 0; k < Kg; k++)
                            memcpy(gyb + k * ld + i * P, gy + ((b0 + i) * p->K + g * Kg + k) * P,
                                   (size_t)P * sizeof(T));
                    if (SUF(panel_gemm)((size_t)Kg, (size_t)Kc, (size_t)ld, gyb, ld, &src, 1,
                                        part + g * Kg * Kc, Kc, NULL, DL_BIAS_NONE)) {
                        #pragma omp atomic write
                        fail = 1;
                    }
                }
            }
            SUF(wgrad_publish_reduce)(p, parts, &nparts, part, 0, gw);
        }
        dl_free(part);
    }
    dl_free(parts);
    dl_free(block);
    return fail ? -1 : 0;
}

/* The forward over packed tiles of kb images with the columns copied straight into the GEMM's
 * panels: B's rows are the taps (row k = (c*R + r)*S + s starts at c*Hp*Wp + r*dh*Wp + s*dw
 * of a tile's padded planes), its columns the pixels in runs of one output row (run u =
 * i*OH + oh at i*Cg*Hp*Wp + oh*sh*Wp, OW values at stride sw).  On AVX2 the column tile this
 * replaces (Kc x kb*P, 2 MB for the 4x4 stride-2 layer 32 -> 64 channels at 7x7 and 21
 * images) was written out by im2col_image and read back by the GEMM's packing, each pass
 * waiting on L3; a panel block stays in L2.  Threads take whole tiles (no reduction). */
static int SUF(fwd_panels_take)(const dl_conv_params *p, int64_t kb)
{
    int64_t Hp, Wp;
    SUF(pad_extent)(p, &Hp, &Wp);
    return SUF(have_fwd_panels)(p) && kb > 1 &&
           kb * (p->C / p->groups) * Hp * Wp < ((int64_t)1 << 30);
}

static int SUF(fwd_panels_all)(const dl_conv_params *p, const T *x, const T *w, const T *bias,
                               T *y, int64_t kb, int nt)
{
    const int64_t G = p->groups, Cg = p->C / G, Kg = p->K / G, P = p->OH * p->OW;
    const int64_t R = p->R, S = p->S, OH = p->OH, Kc = Cg * R * S;
    const int64_t tiles = (p->N + kb - 1) / kb;
    int64_t Hp, Wp;
    SUF(pad_extent)(p, &Hp, &Wp);
    if (!split_outer(tiles, nt)) nt = 1;
    /* the offset tables: taps (Kc) and runs (kb*OH) */
    int32_t *taps = (int32_t *)dl_alloc((size_t)(Kc + kb * OH) * sizeof(int32_t));
    if (!taps) return -1;
    int32_t *runs = taps + Kc;
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t r = 0; r < R; r++)
            for (int64_t s = 0; s < S; s++)
                taps[(c * R + r) * S + s] = (int32_t)(c * Hp * Wp + r * p->dh * Wp + s * p->dw);
    for (int64_t i = 0; i < kb; i++)
        for (int64_t oh = 0; oh < OH; oh++)
            runs[i * OH + oh] = (int32_t)(i * Cg * Hp * Wp + oh * p->sh * Wp);
    int fail = 0;
    /* the padded planes, with room for a whole-vector read past the last run, and the outputs */
    const size_t need = (size_t)(kb * Cg * Hp * Wp + 2 * DL_CONV_RUN_SLACK + Kg * kb * P);
    #pragma omp parallel num_threads(nt)
    {
        T *xp = (T *)dl_alloc(need * sizeof(T));
        if (team_all_ok(xp != NULL, &fail)) {
            T *yb = xp + kb * Cg * Hp * Wp + 2 * DL_CONV_RUN_SLACK;
            memset(yb - 2 * DL_CONV_RUN_SLACK, 0, 2 * DL_CONV_RUN_SLACK * sizeof(T));
            const conv_panel_src src = {(const float *)xp, taps, runs, p->OW, p->sw, 1};
            #pragma omp for schedule(dynamic, 1)
            for (int64_t t = 0; t < tiles; t++) {
                const int64_t b0 = t * kb, nb = min64(kb, p->N - b0), ld = nb * P;
                for (int64_t g = 0; g < G; g++) {
                    const T *bg = bias ? bias + g * Kg : NULL;
                    SUF(pad_tile)(p, x, b0, nb, g, xp);
                    if (SUF(panel_gemm)((size_t)Kg, (size_t)ld, (size_t)Kc, w + g * Kg * Kc, Kc,
                                        &src, 0, yb, ld, bg,
                                        bg ? DL_BIAS_COL : DL_BIAS_NONE)) {
                        #pragma omp atomic write
                        fail = 1;
                        continue;
                    }
                    for (int64_t i = 0; i < nb; i++)
                        for (int64_t k = 0; k < Kg; k++)
                            memcpy(y + ((b0 + i) * p->K + g * Kg + k) * P, yb + k * ld + i * P,
                                   (size_t)P * sizeof(T));
                }
            }
        }
        dl_free(xp);
    }
    dl_free(taps);
    return fail ? -1 : 0;
}
