/* Weight gradient (gw = sum over tiles of gy col^T; threads sum private copies that are reduced
 * at the end, bit-for-bit repeatable) and the bias gradient (channel sums).  Part of
 * conv_impl.h: written once for float and double (T, SUF, GEMM). */

#include "channel_total_impl.h"

void SUF(dl_channel_sum)(int64_t N, int64_t C, int64_t L, const T *x, T *out)
{
    #pragma omp parallel for num_threads(dl_threads_for((size_t)(N * C * L), 1 << 16))
    for (int64_t c = 0; c < C; c++) out[c] = (T)SUF(channel_total)(N, C, L, x, c);
}

/* acc_g += one group's weight gradient from columns B (Kc x n, row stride ldb) and output
 * gradients gy_g (Kg x n, row stride ldg): gy_g B^T, or with `tr` its transpose B gy_g^T
 * (acc_g then Kc x Kg; see bwd_weight_tile). */
static void SUF(wgrad_gemm)(const dl_conv_params *p, int tr, int64_t n, const T *B, int64_t ldb,
                            const T *gyg, int64_t ldg, T *accg)
{
    const int64_t Kg = p->K / p->groups, Kc = p->C / p->groups * p->R * p->S;
    if (tr)
        GEMM(0, 1, (size_t)Kc, (size_t)Kg, (size_t)n, 1, B, ldb, gyg, ldg, 1, accg, Kg, NULL,
             DL_BIAS_NONE, DL_ACT_NONE);
    else
        GEMM(0, 1, (size_t)Kg, (size_t)Kc, (size_t)n, 1, gyg, ldg, B, ldb, 1, accg, Kc, NULL,
             DL_BIAS_NONE, DL_ACT_NONE);
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
        SUF(wgrad_gemm)(p, tr, np, B, ldb, gyt, P, acc + g * Kg * Kc);
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

/* Inside the team, once this thread's partial gradient `part` is complete: publish it in the
 * slot of its thread number and, when every thread has, reduce all of them into gw, the team
 * sharing gw's rows 16 at a time (a static split and fixed slots: the same partials meet in the
 * same order every call, so the gradient is bit-for-bit repeatable). */
static void SUF(wgrad_publish_reduce)(const dl_conv_params *p, T **parts, int *nparts, T *part,
                                      int tr, T *gw)
{
    const int64_t kblocks = (p->K + 15) / 16;
    parts[dl_thread_id()] = part;
    #pragma omp atomic update
    (*nparts)++;
    #pragma omp barrier
    #pragma omp for schedule(static)
    for (int64_t kbk = 0; kbk < kblocks; kbk++)
        SUF(wgrad_reduce)(p, parts, *nparts, tr, gw, kbk * 16, min64(p->K, kbk * 16 + 16));
}

/* Weight gradient of images b0 .. b0+nb-1 in one GEMM per group (see fwd_packed): col holds
 * their columns side by side, gyb their output gradients (Kg x nb*P); accumulates into acc in
 * bwd_weight_tile's layout. */
static void SUF(bwd_weight_packed)(const dl_conv_params *p, const T *x, const T *gy, T *acc,
                                   int64_t b0, int64_t nb, int tr, T *col, T *gyb, T *xp)
{
    const int64_t G = p->groups, Cg = p->C / G, Kg = p->K / G;
    const int64_t P = p->OH * p->OW, HW = p->H * p->W, Kc = Cg * p->R * p->S, ld = nb * P;
    const int64_t ldc = ld + DL_CONV_RUN_SLACK;   /* col's rows, as fwd_packed's */
    for (int64_t g = 0; g < G; g++) {
        for (int64_t i = 0; i < nb; i++) {
            SUF(im2col_image)(p, x + ((b0 + i) * p->C + g * Cg) * HW, Cg, xp, col + i * P, ldc);
            for (int64_t k = 0; k < Kg; k++)
                memcpy(gyb + k * ld + i * P, gy + ((b0 + i) * p->K + g * Kg + k) * P,
                       (size_t)P * sizeof(T));
        }
        SUF(wgrad_gemm)(p, tr, ld, col, ldc, gyb, ld, acc + g * Kg * Kc);
    }
}

/* gw = sum over packed tiles; each thread sums into a private copy, then the copies are
 * reduced into gw (wgrad_reduce). */
static int SUF(bwd_weight_packed_all)(const dl_conv_params *p, const T *x, const T *gy, T *gw,
                                      int64_t kb, int tr, int nt)
{
    const int64_t P = p->OH * p->OW, Kg = p->K / p->groups;
    const int64_t Kc = p->C / p->groups * p->R * p->S, wn = p->K * Kc;
    const int64_t tiles = (p->N + kb - 1) / kb;
    const size_t need = (size_t)(Kc * (kb * P + DL_CONV_RUN_SLACK) + Kg * kb * P + wn +
                                 SUF(padded_elems)(p));
    int fail = 0, nparts = 0;
    if (!split_outer(tiles, nt)) nt = 1;
    T **parts = (T **)dl_alloc((size_t)nt * sizeof(T *));
    if (!parts) return -1;
    #pragma omp parallel num_threads(nt)
    {
        T *part = (T *)dl_alloc(need * sizeof(T));
        if (team_all_ok(part != NULL, &fail)) {
            T *col = part + wn, *gyb = col + Kc * (kb * P + DL_CONV_RUN_SLACK);
            T *xp = gyb + Kg * kb * P;
            memset(part, 0, (size_t)wn * sizeof(T));
            /* a static split and one slot per thread number: the same tiles meet in the same
             * partial sums every call, so the gradient is bit-for-bit repeatable */
            #pragma omp for schedule(static)
            for (int64_t t = 0; t < tiles; t++) {
                const int64_t b0 = t * kb;
                SUF(bwd_weight_packed)(p, x, gy, part, b0, min64(kb, p->N - b0), tr, col, gyb,
                                       xp);
            }
            SUF(wgrad_publish_reduce)(p, parts, &nparts, part, tr, gw);
        }
        dl_free(part);
    }
    dl_free(parts);
    return fail ? -1 : 0;
}

int SUF(dl_conv2d_bwd_weight)(const dl_conv_params *p, const T *x, const T *gy, T *gw, T *gb)
{
    const int64_t P = p->OH * p->OW;
    /* the in-place depthwise kernel sums the bias gradient in its pass over gy */
    if (gw && SUF(dw_same_wgrad)(p, x, gy, gw, gb) == 0) return 0;
    if (gb) SUF(dl_channel_sum)(p->N, p->K, P, gy, gb);
    if (!gw) return 0;
    if (SUF(depthwise)(p)) return SUF(dw_bwd_weight)(p, x, gy, gw);
    {
        int rc;
        if (SUF(try_winograd_wgrad)(p, x, gy, gw, &rc)) return rc;
    }
    const int64_t Kc = p->C / p->groups * p->R * p->S, wn = p->K * Kc;
    const int direct = SUF(pointwise)(p);
    /* the transposed product (and a transposing add at the end) only for few output
     * channels per group: with Kg >= 128 the direct one runs as fast and accumulates in place */
    const int tr = p->K / p->groups < Kc && p->K / p->groups < 128;
    {
        const int ntp = dl_threads_for((size_t)(p->N * p->K * P * Kc), DL_CONV_GRAIN);
        const int64_t kb = SUF(pack_images)(p, Kc, ntp);
        if (SUF(panels_take)(p, kb)) return SUF(wgrad_panels_all)(p, x, gy, gw, kb, ntp);
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
        T **parts = (T **)dl_alloc((size_t)nt * sizeof(T *));
        if (!parts) return -1;
        #pragma omp parallel num_threads(nt)
        {
            T *part = (T *)dl_alloc((col_elems + (size_t)wn) * sizeof(T));
            if (team_all_ok(part != NULL, &fail)) {
                T *col = part + wn;
                memset(part, 0, (size_t)wn * sizeof(T));
                /* static split, slot by thread number: repeatable sums (see above) */
                #pragma omp for schedule(static)
                for (int64_t t = 0; t < tiles; t++) {
                    const int64_t p0 = (t % ntp) * tp;
                    SUF(bwd_weight_tile)(p, x, gy, part, t / ntp, p0, min64(tp, P - p0),
                                         direct, tr, cb, col);
                }
                SUF(wgrad_publish_reduce)(p, parts, &nparts, part, tr, gw);
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
