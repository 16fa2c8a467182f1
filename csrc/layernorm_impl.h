/* The LayerNorm / RMSNorm entry points, written once for both element types (layernorm.c
 * instantiates this file through each_dtype.h: T, SUF): each is SUF(fwd_rows) or
 * SUF(bwd_rows) with RMSNorm's mean and beta left out. */

int SUF(dl_layernorm_fwd)(size_t rows, size_t n, const T *x, const T *gamma, const T *beta,
                          double eps, T *y, T *mean, T *rstd)
{
    return SUF(fwd_rows)(rows, n, x, gamma, beta, eps, 0, y, mean, rstd);
}

int SUF(dl_layernorm_bwd)(size_t rows, size_t n, const T *x, const T *gamma, const T *mean,
                          const T *rstd, const T *dy, T *dx, T *dgamma, T *dbeta)
{
    return SUF(bwd_rows)(rows, n, x, gamma, mean, rstd, dy, dx, dgamma, dbeta, 0);
}

int SUF(dl_rmsnorm_fwd)(size_t rows, size_t n, const T *x, const T *gamma, double eps, T *y,
                        T *rstd)
{
    return SUF(fwd_rows)(rows, n, x, gamma, NULL, eps, 1, y, NULL, rstd);
}

int SUF(dl_rmsnorm_bwd)(size_t rows, size_t n, const T *x, const T *gamma, const T *rstd,
                        const T *dy, T *dx, T *dgamma)
{
    return SUF(bwd_rows)(rows, n, x, gamma, NULL, rstd, dy, dx, dgamma, NULL, 1);
}
