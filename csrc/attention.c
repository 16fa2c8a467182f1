/* Fused attention: float32 through the ISA's kernel table, and the float64 kernels
 * (attention.h).
 *
 * float64 exists for finite-difference gradient checks, so it favours plain code over speed:
 * one query row at a time against every key (a row of S scores, never the L x S matrix),
 * which also makes it an independent check of the tiled float32 kernels.
 */
#include <math.h>
#include <string.h>

#include "dlcore/attention.h"
#include "dlcore/runtime.h"
#include "attention_kernels.h"

int dl_attn_fwd_f32(const dl_attn_desc *d, const float *q, const float *k, const float *v,
                    float *out, float *lse)
{
    return attention_kernels()->fwd(d, q, k, v, out, lse, NULL);
}

int dl_attn_fwd_checked_f32(const dl_attn_desc *d, const float *q, const float *k,
                            const float *v, float *out, float *lse, int *nonfinite)
{
    return attention_kernels()->fwd(d, q, k, v, out, lse, nonfinite);
}

int dl_attn_bwd_f32(const dl_attn_desc *d, const float *q, const float *k, const float *v,
                    const float *out, const float *lse, const float *dout,
                    float *dq, float *dk, float *dv)
{
    return attention_kernels()->bwd(d, q, k, v, out, lse, dout, dq, dk, dv);
}

/* Scaled, masked scores of query row i against every key into s[S]. */
static void scores_f64(const dl_attn_desc *d, size_t b, size_t h, size_t i, const double *qi,
                       const double *kh, double *s)
{
    const double scale = d->scale;
    for (size_t j = 0; j < d->S; j++) {
        const double *kj = kh + (ptrdiff_t)j * d->k_s[2];
        double acc = 0.0;
        for (size_t e = 0; e < d->D; e++) acc += qi[e] * kj[e];
        acc *= scale;
        if (d->mask_kind != DL_ATTN_MASK_NONE) {
            ptrdiff_t off = (ptrdiff_t)b * d->m_s[0] + (ptrdiff_t)h * d->m_s[1]
                            + (ptrdiff_t)i * d->m_s[2] + (ptrdiff_t)j * d->m_s[3];
            if (d->mask_kind == DL_ATTN_MASK_BOOL) {
                if (!((const uint8_t *)d->mask)[off]) acc = -INFINITY;
            } else {
                acc += ((const double *)d->mask)[off];
            }
        }
        if (d->causal && j > i) acc = -INFINITY;
        s[j] = acc;
    }
}

int dl_attn_fwd_f64(const dl_attn_desc *d, const double *q, const double *k, const double *v,
                    double *out, double *lse)
{
    const size_t L = d->L, S = d->S, Dv = d->Dv, BH = d->B * d->H;
    int failed = 0;
    ptrdiff_t os[3];
    dl_attn_out_strides(d, os);
#pragma omp parallel num_threads(dl_threads_for(BH * L, 16))
    {
        double *s = dl_alloc(sizeof(double) * (S ? S : 1));
        if (!s) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for
        for (ptrdiff_t it = 0; it < (ptrdiff_t)(BH * L); it++) {
            if (!s) continue;
            size_t bh = (size_t)it / L, i = (size_t)it % L, b = bh / d->H, h = bh % d->H;
            const double *qi = q + (ptrdiff_t)b * d->q_s[0] + (ptrdiff_t)h * d->q_s[1]
                               + (ptrdiff_t)i * d->q_s[2];
            const double *kh = k + (ptrdiff_t)b * d->k_s[0] + (ptrdiff_t)h * d->k_s[1];
            const double *vh = v + (ptrdiff_t)b * d->v_s[0] + (ptrdiff_t)h * d->v_s[1];
            scores_f64(d, b, h, i, qi, kh, s);
            double m = -INFINITY;
            for (size_t j = 0; j < S; j++)
                if (s[j] > m || s[j] != s[j]) m = s[j];
            double *o = out + (ptrdiff_t)b * os[0] + (ptrdiff_t)h * os[1] + (ptrdiff_t)i * os[2];
            memset(o, 0, sizeof(double) * Dv);
            if (m == -INFINITY) {
                lse[bh * L + i] = -INFINITY;
                continue;
            }
            double l = 0.0;
            for (size_t j = 0; j < S; j++) {
                double p = exp(s[j] - m);
                l += p;
                const double *vj = vh + (ptrdiff_t)j * d->v_s[2];
                for (size_t e = 0; e < Dv; e++) o[e] += p * vj[e];
            }
            for (size_t e = 0; e < Dv; e++) o[e] /= l;
            lse[bh * L + i] = m + log(l);
        }
        dl_free(s);
    }
    return failed ? -1 : 0;
}

/* Whether every (batch, head, row) row of n elements of x (strides st) is finite. */
static int finite_f64(const dl_attn_desc *d, const double *x, const ptrdiff_t *st, size_t rows,
                      size_t n)
{
    double acc = 0.0;
    for (size_t bh = 0; bh < d->B * d->H; bh++)
        for (size_t i = 0; i < rows; i++) {
            const double *r = x + (ptrdiff_t)(bh / d->H) * st[0] + (ptrdiff_t)(bh % d->H) * st[1]
                              + (ptrdiff_t)i * st[2];
            for (size_t e = 0; e < n; e++) acc += r[e] - r[e];   /* NaN for NaN or inf */
        }
    return acc == acc;
}

int dl_attn_fwd_checked_f64(const dl_attn_desc *d, const double *q, const double *k,
                            const double *v, double *out, double *lse, int *nonfinite)
{
    *nonfinite = !(finite_f64(d, q, d->q_s, d->L, d->D) && finite_f64(d, k, d->k_s, d->S, d->D)
                   && finite_f64(d, v, d->v_s, d->S, d->Dv));
    return *nonfinite ? 0 : dl_attn_fwd_f64(d, q, k, v, out, lse);
}

int dl_attn_bwd_f64(const dl_attn_desc *d, const double *q, const double *k, const double *v,
                    const double *out, const double *lse, const double *dout,
                    double *dq, double *dk, double *dv)
{
    const size_t L = d->L, S = d->S, D = d->D, Dv = d->Dv, BH = d->B * d->H;
    const double scale = d->scale;
    int failed = 0;
    for (size_t bh = 0; bh < BH; bh++)
        for (size_t j = 0; j < S; j++) {
            size_t b = bh / d->H, h = bh % d->H;
            memset(dk + (ptrdiff_t)b * d->dk_s[0] + (ptrdiff_t)h * d->dk_s[1]
                   + (ptrdiff_t)j * d->dk_s[2], 0, sizeof(double) * D);
            memset(dv + (ptrdiff_t)b * d->dv_s[0] + (ptrdiff_t)h * d->dv_s[1]
                   + (ptrdiff_t)j * d->dv_s[2], 0, sizeof(double) * Dv);
        }
    /* dk, dv rows are sums over every query: one (batch, head) per thread */
#pragma omp parallel num_threads(dl_threads_for(BH, 1))
    {
        double *s = dl_alloc(sizeof(double) * (S ? S : 1));
        if (!s) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for
        for (ptrdiff_t bhi = 0; bhi < (ptrdiff_t)BH; bhi++) {
            if (!s) continue;
            size_t bh = (size_t)bhi, b = bh / d->H, h = bh % d->H;
            const double *kh = k + (ptrdiff_t)b * d->k_s[0] + (ptrdiff_t)h * d->k_s[1];
            const double *vh = v + (ptrdiff_t)b * d->v_s[0] + (ptrdiff_t)h * d->v_s[1];
            for (size_t i = 0; i < L; i++) {
                const double *qi = q + (ptrdiff_t)b * d->q_s[0] + (ptrdiff_t)h * d->q_s[1]
                                   + (ptrdiff_t)i * d->q_s[2];
                const double *go = dout + (bh * L + i) * Dv, *o = out + (bh * L + i) * Dv;
                double *gq = dq + (ptrdiff_t)b * d->dq_s[0] + (ptrdiff_t)h * d->dq_s[1]
                             + (ptrdiff_t)i * d->dq_s[2];
                memset(gq, 0, sizeof(double) * D);
                double l = lse[bh * L + i];
                if (l == -INFINITY) continue;
                double dr = 0.0;
                for (size_t e = 0; e < Dv; e++) dr += go[e] * o[e];
                scores_f64(d, b, h, i, qi, kh, s);
                for (size_t j = 0; j < S; j++) {
                    double p = exp(s[j] - l);
                    const double *vj = vh + (ptrdiff_t)j * d->v_s[2];
                    const double *kj = kh + (ptrdiff_t)j * d->k_s[2];
                    double dp = 0.0;
                    for (size_t e = 0; e < Dv; e++) dp += go[e] * vj[e];
                    double ds = p * (dp - dr) * scale;
                    double *gv = dv + (ptrdiff_t)b * d->dv_s[0] + (ptrdiff_t)h * d->dv_s[1]
                                 + (ptrdiff_t)j * d->dv_s[2];
                    double *gk = dk + (ptrdiff_t)b * d->dk_s[0] + (ptrdiff_t)h * d->dk_s[1]
                                 + (ptrdiff_t)j * d->dk_s[2];
                    for (size_t e = 0; e < Dv; e++) gv[e] += p * go[e];
                    for (size_t e = 0; e < D; e++) { gq[e] += ds * kj[e]; gk[e] += ds * qi[e]; }
                }
            }
        }
        dl_free(s);
    }
    return failed ? -1 : 0;
}
