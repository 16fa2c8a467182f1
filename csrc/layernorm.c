/* LayerNorm / RMSNorm drivers: threads over rows, float32 through the ISA's kernel table,
 * plain float64.
 *
 * The parameter gradients are sums over rows: each thread sums its own rows into a private
 * partial, and the partials are added in thread order afterwards (deterministic for a given
 * thread count).
 */
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "dlcore/layernorm.h"
#include "dlcore/runtime.h"
#include "layernorm_kernels.h"

enum { LN_GRAIN = 1 << 15 };   /* elements per thread before a second thread pays off */

static inline void chunk(size_t rows, int nt, int t, size_t *r0, size_t *r1)
{
    size_t per = rows / (size_t)nt, extra = rows % (size_t)nt, tt = (size_t)t;
    *r0 = tt * per + (tt < extra ? tt : extra);
    *r1 = *r0 + per + (tt < extra ? 1 : 0);
}

static inline int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static int fwd_rows_f32(size_t rows, size_t n, const float *x, const float *gamma,
                        const float *beta, double eps, int rms, float *y, float *mean,
                        float *rstd)
{
    const layernorm_kernels_t *kt = layernorm_kernels();
    int nt = dl_threads_for(rows * n, LN_GRAIN);
    if (nt <= 1) {  /* no parallel region: a one-thread team still costs ~1 us in libgomp */
        kt->fwd_rows(0, rows, n, x, gamma, beta, (float)eps, rms, y, mean, rstd);
        return 0;
    }
#pragma omp parallel num_threads(nt)
    {
        size_t r0, r1;
        chunk(rows, nt, thread_id(), &r0, &r1);
        kt->fwd_rows(r0, r1, n, x, gamma, beta, (float)eps, rms, y, mean, rstd);
    }
    return 0;
}

static int bwd_rows_f32(size_t rows, size_t n, const float *x, const float *gamma,
                        const float *mean, const float *rstd, const float *dy, float *dx,
                        float *dgamma, float *dbeta, int rms)
{
    const layernorm_kernels_t *kt = layernorm_kernels();
    int nt = dl_threads_for(rows * n, LN_GRAIN);
    float *part = NULL;
    if (nt > 1 && (dgamma || dbeta)) {
        part = dl_alloc(sizeof(float) * 2 * n * (size_t)nt);
        if (!part) return -1;
        memset(part, 0, sizeof(float) * 2 * n * (size_t)nt);
    }
    if (dgamma) memset(dgamma, 0, sizeof(float) * n);
    if (dbeta) memset(dbeta, 0, sizeof(float) * n);
#pragma omp parallel num_threads(nt)
    {
        int t = thread_id();
        size_t r0, r1;
        chunk(rows, nt, t, &r0, &r1);
        float *pg = dgamma, *pb = dbeta;
        if (part) {
            pg = dgamma ? part + 2 * n * (size_t)t : NULL;
            pb = dbeta ? part + 2 * n * (size_t)t + n : NULL;
        }
        kt->bwd_rows(r0, r1, n, x, gamma, mean, rstd, dy, dx, pg, pb, rms);
    }
    if (part) {
        for (int t = 0; t < nt; t++) {
            const float *pg = part + 2 * n * (size_t)t, *pb = pg + n;
            for (size_t i = 0; i < n; i++) {
                if (dgamma) dgamma[i] += pg[i];
                if (dbeta) dbeta[i] += pb[i];
            }
        }
        dl_free(part);
    }
    return 0;
}

/* ---- float64: plain loops, one thread (gradient checks) ---- */

static int fwd_rows_f64(size_t rows, size_t n, const double *x, const double *gamma,
                        const double *beta, double eps, int rms, double *y, double *mean,
                        double *rstd)
{
    for (size_t r = 0; r < rows; r++) {
        const double *xr = x + r * n;
        double m = 0.0, v = 0.0;
        if (!rms) {
            for (size_t i = 0; i < n; i++) m += xr[i];
            m /= (double)n;
        }
        double c = 0.0;  /* the corrected two-pass term: recovers m's rounding, so a row of
                            equal values normalizes to exactly zero as in the float32 kernel */
        for (size_t i = 0; i < n; i++) {
            v += (xr[i] - m) * (xr[i] - m);
            c += xr[i] - m;
        }
        v /= (double)n;
        if (!rms) {
            c /= (double)n;
            m += c;
            v -= c * c;
            if (v < 0.0) v = 0.0;
        }
        double rs = 1.0 / sqrt(v + eps);
        if (mean) mean[r] = m;
        if (rstd) rstd[r] = rs;
        for (size_t i = 0; i < n; i++) {
            double t = (xr[i] - m) * rs;
            if (gamma) t *= gamma[i];
            if (beta) t += beta[i];
            y[r * n + i] = t;
        }
    }
    return 0;
}

static int bwd_rows_f64(size_t rows, size_t n, const double *x, const double *gamma,
                        const double *mean, const double *rstd, const double *dy, double *dx,
                        double *dgamma, double *dbeta, int rms)
{
    if (dgamma) memset(dgamma, 0, sizeof(double) * n);
    if (dbeta) memset(dbeta, 0, sizeof(double) * n);
    for (size_t r = 0; r < rows; r++) {
        const double *xr = x + r * n, *gr = dy + r * n;
        double m = rms ? 0.0 : mean[r], rs = rstd[r], sg = 0.0, sgx = 0.0;
        for (size_t i = 0; i < n; i++) {
            double xh = (xr[i] - m) * rs, g = gamma ? gr[i] * gamma[i] : gr[i];
            sg += g;
            sgx += g * xh;
            if (dgamma) dgamma[i] += gr[i] * xh;
            if (dbeta) dbeta[i] += gr[i];
        }
        double mg = rms ? 0.0 : sg / (double)n, mgx = sgx / (double)n;
        for (size_t i = 0; i < n; i++) {
            double xh = (xr[i] - m) * rs, g = gamma ? gr[i] * gamma[i] : gr[i];
            dx[r * n + i] = (g - mg - xh * mgx) * rs;
        }
    }
    return 0;
}

/* ---- the API: LayerNorm and RMSNorm for both dtypes ---- */
#define DL_TEMPLATE "layernorm_impl.h"
#include "each_dtype.h"
