/* Batch norm kernels written once for both element types (csrc/batchnorm.c instantiates this
 * through each_dtype.h: T, SUF).  Channels are split over threads; for L == 1 (BatchNorm1d on
 * (N, C)) a channel's values are C apart, so that case walks rows and vectorizes over
 * channels instead, in blocks of BN_CBLOCK channels. */

#include "channel_total_impl.h"

/* Rows summed in T before their sum joins a channel's double total (L == 1). */
#define BN_ROW_BLOCK ((int64_t)32)

/* The mean and variance of channel c, or of the block [c0, c1) when L == 1 (at most
 * BN_CBLOCK channels).  Both cases sum in T and total in double: the L > 1 case a row of L
 * values at a time, L == 1 blocks of BN_ROW_BLOCK rows, vectorized over the channels (in
 * double the sums took 4 lanes a vector and a conversion per value: BatchNorm1d on
 * (64, 3136) ran at 1.5x torch's time).
 * L == 1 takes one pass over x, on x - s with s the channel's first value (the shifted-data
 * form of the variance, Chan, Golub and LeVeque 1983): sum d and d^2 for d = x - s, then
 * var = (sum d^2 - (sum d)^2 / n) / n.  The cancellation is that of the spread around s,
 * one sample of the data, so a few bits at most, where the raw sums' would lose the offset's
 * (x ~ 1000 +- 0.01: 17 bits of 24); the d are exact where x is near s.  The L > 1 case
 * takes two passes, the second on x - mean rounded to T with the rounding's effect removed
 * (corr, below). */
static void SUF(bn_stats)(int64_t N, int64_t C, int64_t L, const T *x, int64_t c0, int64_t c1,
                          double *mean, double *var)
{
    const double cnt = (double)(N * L);
    if (L == 1) {
        const int64_t nb = c1 - c0;
        const T *s = x + c0;
        T ps[BN_CBLOCK], pq[BN_CBLOCK];
        double *sd = mean + c0, *sq = var + c0;
        for (int64_t c = 0; c < nb; c++) sd[c] = 0.0, sq[c] = 0.0;
        for (int64_t n0 = 0; n0 < N; n0 += BN_ROW_BLOCK) {
            const int64_t n1 = n0 + BN_ROW_BLOCK < N ? n0 + BN_ROW_BLOCK : N;
            for (int64_t c = 0; c < nb; c++) ps[c] = 0, pq[c] = 0;
            for (int64_t n = n0; n < n1; n++) {
                const T *row = x + n * C + c0;
                #pragma omp simd
                for (int64_t c = 0; c < nb; c++) {
                    const T d = row[c] - s[c];
                    ps[c] += d;
                    pq[c] += d * d;
                }
            }
            for (int64_t c = 0; c < nb; c++) sd[c] += (double)ps[c], sq[c] += (double)pq[c];
        }
        for (int64_t c = 0; c < nb; c++) {
            const double v = (sq[c] - sd[c] * sd[c] / cnt) / cnt;
            sd[c] = (double)s[c] + sd[c] / cnt;
            sq[c] = v < 0 ? 0 : v;
        }
        return;
    }
    for (int64_t c = c0; c < c1; c++) {
        const double m = SUF(channel_total)(N, C, L, x, c) / cnt;
        const T mt = (T)m;
        double q = 0.0, corr = 0.0;
        for (int64_t n = 0; n < N; n++) {
            const T *row = x + (n * C + c) * L;
            T rq = 0, rc = 0;
            #pragma omp simd reduction(+ : rq, rc)
            for (int64_t l = 0; l < L; l++) {
                const T d = row[l] - mt;
                rq += d * d;
                rc += d;
            }
            q += (double)rq;
            corr += (double)rc;
        }
        /* corr removes the error of rounding the mean to T (two-pass corrected variance) and
         * of the rows' T partial sums from the mean (7 copies of x summed in float32 are not
         * 7 x; the x - mt are exact near the mean) */
        mean[c] = (double)mt + corr / cnt;
        var[c] = (q - corr * corr / cnt) / cnt;
        if (var[c] < 0) var[c] = 0;
    }
}

/* y = (x - m[c]) * a[c] + b[c] over [c0, c1).  Not x * a + (b - m * a): where a channel is
 * nearly constant, a = w / sqrt(var + eps) is large (316 w at eps 1e-5) and the two terms of
 * the folded form, ~|m| a each, cancel to an output that keeps ~|m| a * 2^-24 of error (1e-3
 * at |m| = 30); x - m is exact near m. */
static void SUF(bn_apply)(int64_t N, int64_t C, int64_t L, const T *x, const T *m, const T *a,
                          const T *b, int64_t c0, int64_t c1, T *y)
{
    for (int64_t n = 0; n < N; n++) {
        if (L == 1) {
            const T *row = x + n * C;
            T *out = y + n * C;
            #pragma omp simd
            for (int64_t c = c0; c < c1; c++) out[c] = (row[c] - m[c]) * a[c] + b[c];
            continue;
        }
        for (int64_t c = c0; c < c1; c++) {
            const T *row = x + (n * C + c) * L;
            T *out = y + (n * C + c) * L;
            const T mc = m[c], ac = a[c], bc = b[c];
            #pragma omp simd
            for (int64_t l = 0; l < L; l++) out[l] = (row[l] - mc) * ac + bc;
        }
    }
}

static int64_t SUF(bn_block)(int64_t L) { return L == 1 ? BN_CBLOCK : 1; }

int SUF(dl_batchnorm_fwd_train)(int64_t N, int64_t C, int64_t L, const T *x, const T *weight,
                                 const T *bias, double eps, T *y, T *save_mean, T *save_invstd,
                                 T *running_mean, T *running_var, double momentum)
{
    const int64_t blk = SUF(bn_block)(L), nblk = (C + blk - 1) / blk;
    const double cnt = (double)(N * L);
    double *mean = (double *)dl_alloc((size_t)C * 2 * sizeof(double));
    T *ab = (T *)dl_alloc((size_t)C * 3 * sizeof(T));
    if (!mean || !ab) {
        dl_free(mean);
        dl_free(ab);
        return -1;
    }
    double *var = mean + C;
    T *a = ab, *b = ab + C, *mt = ab + 2 * C;
    #pragma omp parallel for schedule(static) num_threads(dl_threads_for((size_t)(N * C * L), BN_GRAIN))
    for (int64_t bi = 0; bi < nblk; bi++) {
        const int64_t c0 = bi * blk, c1 = c0 + blk < C ? c0 + blk : C;
        SUF(bn_stats)(N, C, L, x, c0, c1, mean, var);
        for (int64_t c = c0; c < c1; c++) {
            const double inv = 1.0 / sqrt(var[c] + eps);
            const double w = weight ? (double)weight[c] : 1.0;
            const double sh = bias ? (double)bias[c] : 0.0;
            a[c] = (T)(w * inv);
            mt[c] = (T)mean[c];
            /* the shift also carries what rounding the mean to T lost */
            b[c] = (T)(sh - (mean[c] - (double)mt[c]) * w * inv);
            save_mean[c] = (T)mean[c];
            save_invstd[c] = (T)inv;
            if (running_mean)
                running_mean[c] = (T)((1.0 - momentum) * (double)running_mean[c] + momentum * mean[c]);
            if (running_var) {
                const double unb = cnt > 1 ? var[c] * cnt / (cnt - 1) : INFINITY;
                running_var[c] = (T)((1.0 - momentum) * (double)running_var[c] + momentum * unb);
            }
        }
        SUF(bn_apply)(N, C, L, x, mt, a, b, c0, c1, y);
    }
    dl_free(mean);
    dl_free(ab);
    return 0;
}

void SUF(dl_batchnorm_fwd_eval)(int64_t N, int64_t C, int64_t L, const T *x, const T *weight,
                                const T *bias, const T *mean, const T *invstd, T *y)
{
    const int64_t blk = L == 1 ? C : 1, nblk = (C + blk - 1) / blk;
    #pragma omp parallel num_threads(dl_threads_for((size_t)(N * C * L), BN_GRAIN))
    {
        /* the per-channel scale and shift, computed by every thread for its own use */
        #pragma omp for schedule(static)
        for (int64_t bi = 0; bi < nblk; bi++) {
            const int64_t c0 = bi * blk, c1 = c0 + blk < C ? c0 + blk : C;
            for (int64_t n = 0; n < N; n++) {
                for (int64_t c = c0; c < c1; c++) {
                    const double w = weight ? (double)weight[c] : 1.0;
                    const T a = (T)(w * (double)invstd[c]);
                    const T b = (T)((bias ? (double)bias[c] : 0.0) - (double)mean[c] * w * (double)invstd[c]);
                    const T *row = x + (n * C + c) * L;
                    T *out = y + (n * C + c) * L;
                    #pragma omp simd
                    for (int64_t l = 0; l < L; l++) out[l] = row[l] * a + b;
                }
            }
        }
    }
}

/* The backward for L == 1 (BatchNorm1d on (N, C)), channels [c0, c1) with c1 - c0 <=
 * BN_CBLOCK: a channel's values are C apart, so this walks rows and vectorizes over channels
 * (the per-channel loop below would read one element per cache line).  The same sums in the
 * same order as that loop, so both give the same results. */
static void SUF(bn_bwd_rows)(int64_t N, int64_t C, const T *x, const T *gy, const T *weight,
                             const T *mean, const T *invstd, int batch_stats, T *gx, T *gw,
                             T *gb, int64_t c0, int64_t c1)
{
    double sg[BN_CBLOCK], sgx[BN_CBLOCK];
    T k1[BN_CBLOCK], gmean[BN_CBLOCK], proj[BN_CBLOCK];
    const int64_t nb = c1 - c0;
    const T *m = mean + c0;
    for (int64_t c = 0; c < nb; c++) sg[c] = 0.0, sgx[c] = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const T *xr = x + n * C + c0, *gr = gy + n * C + c0;
        #pragma omp simd
        for (int64_t c = 0; c < nb; c++) {
            sg[c] += (double)gr[c];
            sgx[c] += (double)(gr[c] * (xr[c] - m[c]));
        }
    }
    const double cnt = (double)N;
    for (int64_t c = 0; c < nb; c++) {
        const double inv = (double)invstd[c0 + c];
        if (gb) gb[c0 + c] = (T)sg[c];
        if (gw) gw[c0 + c] = (T)(sgx[c] * inv);
        k1[c] = (T)((weight ? (double)weight[c0 + c] : 1.0) * inv);
        gmean[c] = batch_stats ? (T)(sg[c] / cnt) : (T)0;
        proj[c] = batch_stats ? (T)(sgx[c] / cnt * inv * inv) : (T)0;
    }
    if (!gx) return;
    for (int64_t n = 0; n < N; n++) {
        const T *xr = x + n * C + c0, *gr = gy + n * C + c0;
        T *out = gx + n * C + c0;
        if (!batch_stats) {
            #pragma omp simd
            for (int64_t c = 0; c < nb; c++) out[c] = gr[c] * k1[c];
            continue;
        }
        #pragma omp simd
        for (int64_t c = 0; c < nb; c++)
            out[c] = k1[c] * (gr[c] - gmean[c] - (xr[c] - m[c]) * proj[c]);
    }
}

void SUF(dl_batchnorm_bwd)(int64_t N, int64_t C, int64_t L, const T *x, const T *gy,
                           const T *weight, const T *mean, const T *invstd, int batch_stats,
                           T *gx, T *gw, T *gb)
{
    const double cnt = (double)(N * L);
    if (L == 1) {
        const int64_t nblk = (C + BN_CBLOCK - 1) / BN_CBLOCK;
        #pragma omp parallel for schedule(static) num_threads(dl_threads_for((size_t)(N * C), BN_GRAIN))
        for (int64_t bi = 0; bi < nblk; bi++) {
            const int64_t c0 = bi * BN_CBLOCK;
            SUF(bn_bwd_rows)(N, C, x, gy, weight, mean, invstd, batch_stats, gx, gw, gb, c0,
                             c0 + BN_CBLOCK < C ? c0 + BN_CBLOCK : C);
        }
        return;
    }
    #pragma omp parallel for schedule(static) num_threads(dl_threads_for((size_t)(N * C * L), BN_GRAIN))
    for (int64_t c = 0; c < C; c++) {
        const T m = mean[c];
        const double inv = (double)invstd[c];
        /* sum(gy) and sum(gy * (x - mean)) */
        double sg = 0.0, sgx = 0.0;
        for (int64_t n = 0; n < N; n++) {
            const T *xr = x + (n * C + c) * L, *gr = gy + (n * C + c) * L;
            T a = 0, b = 0;
            #pragma omp simd reduction(+ : a, b)
            for (int64_t l = 0; l < L; l++) {
                a += gr[l];
                b += gr[l] * (xr[l] - m);
            }
            sg += (double)a;
            sgx += (double)b;
        }
        if (gb) gb[c] = (T)sg;
        if (gw) gw[c] = (T)(sgx * inv);
        if (!gx) continue;
        const double w = weight ? (double)weight[c] : 1.0;
        const T k1 = (T)(w * inv);
        if (!batch_stats) {
            for (int64_t n = 0; n < N; n++) {
                const T *gr = gy + (n * C + c) * L;
                T *out = gx + (n * C + c) * L;
                #pragma omp simd
                for (int64_t l = 0; l < L; l++) out[l] = gr[l] * k1;
            }
            continue;
        }
        /* gx = w*inv * (gy - mean(gy) - (x - mean) * inv^2 * mean(gy * (x - mean))) */
        const T gmean = (T)(sg / cnt);
        const T proj = (T)(sgx / cnt * inv * inv);
        for (int64_t n = 0; n < N; n++) {
            const T *xr = x + (n * C + c) * L, *gr = gy + (n * C + c) * L;
            T *out = gx + (n * C + c) * L;
            #pragma omp simd
            for (int64_t l = 0; l < L; l++) out[l] = k1 * (gr[l] - gmean - (xr[l] - m) * proj);
        }
    }
}
