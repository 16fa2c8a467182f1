/* The executor's direct 3x3 convolution at stride 2, padding 0 or 1, on a few input channels: a
 * network's first layer on an RGB image (MobileNetV2's 3 -> 32 channels, 224x224 -> 112x112).
 *
 * im2col + GEMM spent most of that layer writing 27 column rows of 12544 floats and packing
 * them again for the product, whose depth (27) is too short to pay for it.  Here each input
 * row segment is loaded once per vector of output columns and split in registers into the
 * three taps' columns 2 ow - p, 2 ow - p + 1 and 2 ow - p + 2 (padding p; the even and odd lanes of two loads, and
 * the even lanes moved on by one lane with the next column, as in plan_dw_same_simd.c); a
 * register tile of MB output channels (the packed weights broadcast, dl_plan_direct_pack's
 * layout) then takes all 3 C R taps with no column buffer at all.
 *
 * The weights come packed once (dl_plan_direct_pack in plan_conv.c): blocks of
 * DL_PLAN_DIRECT_ROWS output channels, tap-major, zero rows past K. */
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

/* output channels per register tile: the accumulators and the three tap vectors fit the
 * registers (16 on AVX2) */
#if defined(__AVX2__) && !defined(__AVX512F__)
enum { MB = 8 };
#else
enum { MB = 16 };
#endif

typedef struct {
    const float *x;          /* the image */
    int64_t C, H, W, OH, OW;
    int64_t pt, pl;          /* top and left padding: 0 or 1 */
    int clip;                /* Relu or Hardtanh (ReLU6) fused */
    float lo, hi;
} s2_geom;

/* Output row oh, columns v .. v + L - 1, channels m < MB of the tile whose weights start at a
 * (tap t's MB weights at a + t * ROWS) and whose output planes start at y (stride P). */
static inline __attribute__((always_inline)) void s2_vec(const s2_geom *g, int64_t oh,
                                                        int64_t v, const float *a,
                                                        const float *bias, int mb, float *y,
                                                        int64_t P)
{
    const int64_t W = g->W, c0 = 2 * v - g->pl, cn = c0 + 2 * L;
    const vf_lanes e0 = vf_range_lanes(-c0, W - c0), e1 = vf_range_lanes(-c0 - L, W - c0 - L);
    const vf_lanes none = vf_range_lanes(0, 0);
    vf acc[MB];
#pragma GCC unroll 16
    for (int m = 0; m < MB; m++) acc[m] = bias ? vf_set1(bias[m]) : vf_zero();
    for (int64_t c = 0; c < g->C; c++) {
        /* rows above or below the image load as zeros (no lanes), not by a branch: with one
         * the compiler kept the accumulators in memory */
#pragma GCC unroll 3
        for (int64_t r = 0; r < 3; r++) {
            const int64_t h = 2 * oh - g->pt + r;
            const int in = h >= 0 && h < g->H;
            const float *xr = g->x + (c * g->H + (in ? h : 0)) * W;
            vf v2[2], t[2];
            v2[0] = vf_load_lanes(xr + c0, in ? e0 : none);
            v2[1] = vf_load_lanes(xr + c0 + L, in ? e1 : none);
            vf_deinterleave2(v2, t);   /* columns c0 + 2 l and c0 + 2 l + 1 */
            const vf t2 = vf_shift_in(t[0], in && cn < W ? xr[cn] : 0.0f);
            const float *at = a + (c * 9 + r * 3) * ROWS;
#pragma GCC unroll 16
            for (int m = 0; m < MB; m++) {
                acc[m] = vf_fma(vf_set1(at[m]), t[0], acc[m]);
                acc[m] = vf_fma(vf_set1(at[ROWS + m]), t[1], acc[m]);
                acc[m] = vf_fma(vf_set1(at[2 * ROWS + m]), t2, acc[m]);
            }
        }
    }
    const vf vlo = vf_set1(g->lo), vhi = vf_set1(g->hi);
    const int64_t n = g->OW - v < L ? g->OW - v : L;
    float *yo = y + oh * g->OW + v;
    /* every m in the unrolled loop, so acc stays in registers (a variable index put it in
     * memory) */
#pragma GCC unroll 16
    for (int m = 0; m < MB; m++) {
        if (m >= mb) break;
        vf s = acc[m];
        if (g->clip) s = vf_min(vhi, vf_max(vlo, s));
        if (n == L) vf_storeu(yo + m * P, s);
        else vf_store_part(yo + m * P, s, (size_t)n);
    }
}

/* i: N C H W K R S OH OW sh sw ph pw dh dw groups act (dl_plan_direct_s2_applies holds) |
 * f: act a, b, c.  wp: the packed weights.  The work items (image, block of ROWS output
 * channels, output row) are shared out in order over the team. */
int DL_ISA_FN(dl_plan_direct_s2)(const int64_t *i, const double *f, const float *wp,
                                 const float *bias, const float *x, float *y)
{
    const int64_t N = i[0], C = i[1], H = i[2], W = i[3], K = i[4], OH = i[7], OW = i[8];
    const int act = (int)i[16];
    const int64_t P = OH * OW, KB = (K + ROWS - 1) / ROWS, T = C * 9;
    const int fused = act == DL_AF_RELU || act == DL_AF_HARDTANH;
    const int64_t items = N * KB * OH;
    int nt = dl_threads_for((size_t)(N * K * P * T), (size_t)1 << 18);
    if (nt > items) nt = (int)items;
#ifdef DL_HAVE_OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        const int team = dl_team_size(), tid = dl_thread_id();
        const int64_t it0 = items * tid / team, it1 = items * (tid + 1) / team;
        for (int64_t it = it0; it < it1; it++) {
            const int64_t n = it / (KB * OH), kb = it / OH % KB, oh = it % OH;
            const s2_geom g = {x + n * C * H * W, C, H, W, OH, OW, i[11], i[12], fused,
                               act == DL_AF_RELU ? 0.0f : (float)f[0],
                               act == DL_AF_RELU ? __builtin_inff() : (float)f[1]};
            const int64_t rows = K - kb * ROWS < ROWS ? K - kb * ROWS : ROWS;
            float *yb = y + (n * K + kb * ROWS) * P;
            const float *a = wp + kb * T * ROWS;
            for (int64_t m0 = 0; m0 < rows; m0 += MB) {
                const int mb = (int)(rows - m0 < MB ? rows - m0 : MB);
                /* bias rows past K are never stored: read the bias only where it exists */
                const float *bm = bias ? bias + kb * ROWS + m0 : NULL;
                if (bm && mb < MB) {
                    float bb[MB] = {0};
                    for (int m = 0; m < mb; m++) bb[m] = bm[m];
                    for (int64_t v = 0; v < OW; v += L)
                        s2_vec(&g, oh, v, a + m0, bb, mb, yb + m0 * P, P);
                } else {
                    for (int64_t v = 0; v < OW; v += L)
                        s2_vec(&g, oh, v, a + m0, bm, mb, yb + m0 * P, P);
                }
                if (act >= 0 && !fused)
                    for (int m = 0; m < mb; m++)
                        dl_act_fwd_f32(act, yb + (m0 + m) * P + oh * OW,
                                       yb + (m0 + m) * P + oh * OW, (size_t)OW, (float)f[0],
                                       (float)f[1], (float)f[2]);
            }
        }
    }
    return 0;
}
