/* The executor's direct stride-2 convolution with a wide filter (up to 7 x 7) on a few input
 * channels: a network's first layer on an RGB image (ResNet's 3 -> 64 channels, 7 x 7 at
 * stride 2, 224x224 -> 112x112).
 *
 * As an im2col product that layer is only C R S = 147 deep, and its 147 column rows of 12544
 * floats are written and packed again before the product reads them (a quarter of its time
 * here).  Here the input rows an output row reads are split once into their even and odd
 * columns (E[j] = x[2j - pw], O[j] = x[2j + 1 - pw], zero outside the image), so that tap s of
 * output column ow, input column 2 ow + s - pw, is E[ow + s/2] for even s and O[ow + s/2] for
 * odd s: one unaligned vector load per tap gives L neighbouring output columns.  A register
 * tile of MB output channels x NV vectors of columns then takes every tap from those rows
 * with the packed weights broadcast (dl_plan_direct_pack's layout, tap-major blocks of
 * DL_PLAN_DIRECT_ROWS channels), with no column buffer at all.
 *
 * Work items are (image, output row, chunk of CW columns); each splits its input rows into a
 * stack buffer (C R rows of 2 (CW + S) floats, 35 KiB at most) and runs all K channels over
 * it.  The 3 x 3 filters at padding 0 or 1 take plan_direct_s2_simd.c instead, which splits
 * the rows in registers. */
#include <stdint.h>
#include <stddef.h>

#include "dlcore/act.h"
#include "dlcore/plan.h"
#include "dlcore/runtime.h"
#include "simd.h"
#include "simd_lanes.h"
#include "plan_direct_s2.h"

#define L DL_VF_LEN

enum { ROWS = DL_PLAN_DIRECT_ROWS };

/* the register tile: MB channels x NV vectors of columns, plus NV loaded columns and one
 * broadcast weight (16 registers on AVX2, 28 of 32 on AVX-512) */
#if defined(__AVX512F__)
enum { MB = 8, NV = 3 };
#elif defined(__AVX2__)
enum { MB = 4, NV = 3 };
#else
enum { MB = 4, NV = 4 };
#endif
/* output columns per work item: whole tiles */
enum { CW = (128 / (NV * L) > 0 ? 128 / (NV * L) : 1) * NV * L };
/* floats per split row (E or O): CW columns, the taps' reach (S / 2 <= 3) and a vector's
 * spill past it, rounded to whole vectors */
enum { NEP = ((CW + DL_PLAN_S2W_MAX_RS / 2 + 2 * L) + L - 1) / L * L };

typedef struct {
    int64_t C, R, S, K, OH, OW, P;
    const float *wp, *bias;
    int clip;
    float lo, hi;
} s2w_geom;

/* Output channels m0 .. m0 + mb - 1 (mb <= MB, within one ROWS block whose weights start at
 * a), the nv <= NV column vectors from column j0 of the chunk (ncols valid columns from its
 * start), output row base yo (channel m0's row, plane stride P). */
static inline __attribute__((always_inline)) void s2w_tile(
    const s2w_geom *g, const float *buf, const int64_t *crs, int ncr, const float *a,
    const float *bias, int mb, int nv, int64_t j0, int64_t ncols, float *yo)
{
    vf acc[MB][NV];
#pragma GCC unroll 8
    for (int m = 0; m < MB; m++)
#pragma GCC unroll 4
        for (int j = 0; j < NV; j++) acc[m][j] = vf_set1(bias[m]);
    const int64_t S = g->S;
    for (int q = 0; q < ncr; q++) {
        /* the present input row (c, r): its split columns and its taps' weights; taps 2u
         * and 2u + 1 read E and O from column u on */
        const float *e = buf + q * 2 * NEP + j0, *at = a + crs[q] * S * ROWS;
        for (int64_t u = 0; u < (S + 1) / 2; u++) {
#pragma GCC unroll 2
            for (int odd = 0; odd < 2; odd++) {
                if (2 * u + odd >= S) break;
                const float *src = e + odd * NEP + u, *w = at + (2 * u + odd) * ROWS;
                vf v[NV];
#pragma GCC unroll 4
                for (int j = 0; j < NV; j++)
                    if (j < nv) v[j] = vf_loadu(src + j * L);
#pragma GCC unroll 8
                for (int m = 0; m < MB; m++) {
                    const vf wm = vf_set1(w[m]);
#pragma GCC unroll 4
                    for (int j = 0; j < NV; j++)
                        if (j < nv) acc[m][j] = vf_fma(wm, v[j], acc[m][j]);
                }
            }
        }
    }
    const vf vlo = vf_set1(g->lo), vhi = vf_set1(g->hi);
    /* every (m, j) in the unrolled loops, so acc stays in registers */
#pragma GCC unroll 8
    for (int m = 0; m < MB; m++) {
        if (m >= mb) break;
#pragma GCC unroll 4
        for (int j = 0; j < NV; j++) {
            const int64_t c0 = j0 + j * L, n = ncols - c0 < L ? ncols - c0 : L;
            if (j >= nv || n <= 0) break;
            vf s = acc[m][j];
            if (g->clip) s = vf_min(vhi, vf_max(vlo, s));
            if (n == L) vf_storeu(yo + m * g->P + c0, s);
            else vf_store_part(yo + m * g->P + c0, s, (size_t)n);
        }
    }
}

/* All K channels of output row oh, columns cw0 .. cw0 + ncols - 1, from the split rows in buf
 * (the ncr present ones, crs[q] = c R + r). */
static void s2w_row(const s2w_geom *g, const float *buf, const int64_t *crs, int ncr,
                    int64_t oh, int64_t cw0, int64_t ncols, float *y)
{
    const int64_t step = NV * L;
    for (int64_t k0 = 0; k0 < g->K; k0 += MB) {
        const int mb = (int)(g->K - k0 < MB ? g->K - k0 : MB);
        /* bias rows past K are never stored: read the bias only where it exists */
        float bb[MB] = {0};
        for (int m = 0; m < mb; m++) bb[m] = g->bias ? g->bias[k0 + m] : 0.0f;
        const float *a = g->wp + (k0 / ROWS) * g->C * g->R * g->S * ROWS + k0 % ROWS;
        float *yo = y + k0 * g->P + oh * g->OW + cw0;
        int64_t j0 = 0;
        for (; j0 + step <= ncols; j0 += step)
            s2w_tile(g, buf, crs, ncr, a, bb, mb, NV, j0, ncols, yo);
        if (j0 < ncols) {
            const int nv = (int)((ncols - j0 + L - 1) / L);
            s2w_tile(g, buf, crs, ncr, a, bb, mb, nv, j0, ncols, yo);
        }
    }
}

/* i: N C H W K R S OH OW sh sw ph pw dh dw groups act (dl_plan_direct_s2w_applies holds) |
 * f: act a, b, c.  wp: the packed weights. */
int DL_ISA_FN(dl_plan_direct_s2w)(const int64_t *i, const double *f, const float *wp,
                                  const float *bias, const float *x, float *y)
{
    const int64_t N = i[0], C = i[1], H = i[2], W = i[3], K = i[4], R = i[5], S = i[6];
    const int64_t OH = i[7], OW = i[8], ph = i[11], pw = i[12];
    if (C > DL_PLAN_S2W_MAX_C || R > DL_PLAN_S2W_MAX_RS || S > DL_PLAN_S2W_MAX_RS) return -1;
    const int act = (int)i[16];
    const int64_t P = OH * OW, chunks = (OW + CW - 1) / CW;
    const int fused = act == DL_AF_RELU || act == DL_AF_HARDTANH;
    const s2w_geom g = {C, R, S, K, OH, OW, P, wp, bias, fused,
                        act == DL_AF_RELU ? 0.0f : (float)f[0],
                        act == DL_AF_RELU ? __builtin_inff() : (float)f[1]};
    const int64_t items = N * OH * chunks;
    int nt = dl_threads_for((size_t)(N * K * P * C * R * S), (size_t)1 << 18);
    if (nt > items) nt = (int)items;
#ifdef DL_HAVE_OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        float buf[DL_PLAN_S2W_MAX_C * DL_PLAN_S2W_MAX_RS * 2 * NEP];
        int64_t crs[DL_PLAN_S2W_MAX_C * DL_PLAN_S2W_MAX_RS];
        const int team = dl_team_size(), tid = dl_thread_id();
        const int64_t it0 = items * tid / team, it1 = items * (tid + 1) / team;
        for (int64_t it = it0; it < it1; it++) {
            const int64_t n = it / (OH * chunks), oh = it / chunks % OH, ch = it % chunks;
            const int64_t cw0 = ch * CW, ncols = OW - cw0 < CW ? OW - cw0 : CW;
            /* split the present input rows' columns 2 cw0 - pw .. into E and O */
            int ncr = 0;
            for (int64_t c = 0; c < C; c++)
                for (int64_t r = 0; r < R; r++) {
                    const int64_t h = 2 * oh - ph + r;
                    if (h < 0 || h >= H) continue;   /* a padding row adds nothing */
                    const float *xr = x + ((n * C + c) * H + h) * W;
                    float *e = buf + ncr * 2 * NEP;
                    for (int64_t j = 0; j < NEP; j += L) {
                        const int64_t q = 2 * (cw0 + j) - pw;
                        vf v2[2], t[2];
                        v2[0] = vf_load_range(xr + q, -q, W - q);
                        v2[1] = vf_load_range(xr + q + L, -q - L, W - q - L);
                        vf_deinterleave2(v2, t);
                        vf_storeu(e + j, t[0]);
                        vf_storeu(e + NEP + j, t[1]);
                    }
                    crs[ncr++] = c * R + r;
                }
            float *yn = y + n * K * P;
            s2w_row(&g, buf, crs, ncr, oh, cw0, ncols, yn);
            if (act >= 0 && !fused)
                for (int64_t k = 0; k < K; k++)
                    dl_act_fwd_f32(act, yn + k * P + oh * OW + cw0, yn + k * P + oh * OW + cw0,
                                   (size_t)ncols, (float)f[0], (float)f[1], (float)f[2]);
        }
    }
    return 0;
}
