/* Batch norm kernels written once for both element types (csrc/batchnorm.c instantiates this
 * through each_dtype.h: T, SUF).  Channels are split over threads; for L == 1 (BatchNorm1d on
 * (N, C)) a channel's values are C apart, so that case walks rows and vectorizes over
 * channels instead, in blocks of BN_CBLOCK channels. */

#include "channel_total_impl.h"

/* sum and sum of (x - shift)^2 of channel c, or of the block [c0, c1) when L == 1 */
static void SUF(bn_stats)(int64_t N, int64_t C, int64_t L, const T *x, int64_t c0, int64_t c1,
                          double *mean, double *var)
{
    const double cnt = (double)(N * L);
    if (L == 1) {
        for (int64_t c = c0; c < c1; c++) mean[c] = 0.0, var[c] = 0.0;
        for (int64_t n = 0; n < N; n++) {
            const T *row = x + n * C;
            for (int64_t c = c0; c < c1; c++) mean[c] += (double)row[c];
        }
        for (int64_t c = c0; c < c1; c++) mean[c] /= cnt;
        for (int64_t n = 0; n < N; n++) {
            const T *row = x + n * C;
            for (int64_t c = c0; c < c1; c++) {
                const double d = (double)row[c] - mean[c];
                var[c] += d * d;
            }
        }
        for (int64_t c = c0; c < c1; c++) var[c] /= cnt;
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
        /* corr removes the error of rounding the mean to T (two-pass corrected variance) */
        mean[c] = m;
        var[c] = (q - corr * corr / cnt) / cnt;
        if (var[c] < 0) var[c] = 0;
    }
}

/* y = x * a[c] + b[c] over [c0, c1) */
static void SUF(bn_apply)(int64_t N, int64_t C, int64_t L, const T *x, const T *a, const T *b,
                          int64_t c0, int64_t c1, T *y)
{
    for (int64_t n = 0; n < N; n++) {
        if (L == 1) {
            const T *row = x + n * C;
            T *out = y + n * C;
            #pragma omp simd
            for (int64_t c = c0; c < c1; c++) out[c] = row[c] * a[c] + b[c];
            continue;
        }
        for (int64_t c = c0; c < c1; c++) {
            const T *row = x + (n * C + c) * L;
            T *out = y + (n * C + c) * L;
            const T ac = a[c], bc = b[c];
            #pragma omp simd
            for (int64_t l = 0; l < L; l++) out[l] = row[l] * ac + bc;
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
    T *ab = (T *)dl_alloc((size_t)C * 2 * sizeof(T));
    if (!mean || !ab) {
        dl_free(mean);
        dl_free(ab);
        return -1;
    }
    double *var = mean + C;
    T *a = ab, *b = ab + C;
    #pragma omp parallel for schedule(static) num_threads(dl_threads_for((size_t)(N * C * L), BN_GRAIN))
    for (int64_t bi = 0; bi < nblk; bi++) {
        const int64_t c0 = bi * blk, c1 = c0 + blk < C ? c0 + blk : C;
        SUF(bn_stats)(N, C, L, x, c0, c1, mean, var);
        for (int64_t c = c0; c < c1; c++) {
            const double inv = 1.0 / sqrt(var[c] + eps);
            const double w = weight ? (double)weight[c] : 1.0;
            const double sh = bias ? (double)bias[c] : 0.0;
            a[c] = (T)(w * inv);
            b[c] = (T)(sh - mean[c] * w * inv);
            save_mean[c] = (T)mean[c];
            save_invstd[c] = (T)inv;
            if (running_mean)
                running_mean[c] = (T)((1.0 - momentum) * (double)running_mean[c] + momentum * mean[c]);
            if (running_var) {
                const double unb = cnt > 1 ? var[c] * cnt / (cnt - 1) : INFINITY;
                running_var[c] = (T)((1.0 - momentum) * (double)running_var[c] + momentum * unb);
            }
        }
        SUF(bn_apply)(N, C, L, x, a, b, c0, c1, y);
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
