/* The executor's convolution for groups == 1: im2col tiles (conv.h's per-ISA im2col) times the
 * weights packed once when the plan is made (gemm.h's dl_sgemm_pack_a), with the bias and
 * Relu/Gelu in the GEMM epilogue and any other activation applied to each tile while it is
 * in cache.  Eager conv2d packs the weights on every call; a plan runs many calls. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "dlcore/act.h"
#include "dlcore/conv.h"
#include "dlcore/gemm.h"
#include "dlcore/gemm_prepacked.h"
#include "dlcore/plan.h"
#include "dlcore/runtime.h"
#include "conv_kernels.h"
#include "gemm_driver.h"
#include "plan_direct.h"
#include "plan_pointwise.h"
#include "plan_shared.h"

int dl_plan_conv_pack(const int64_t *i, const float *w, dl_sgemm_packed_a *pa)
{
    const int64_t K = i[4], CRS = i[1] * i[5] * i[6];
    const int rc = dl_sgemm_pack_a(0, (size_t)K, (size_t)CRS, w, (ptrdiff_t)CRS, pa);
    if (rc == 0 && pa->p) {
        /* the panels as dl_sgemm_pack_a lays them out: K rows rounded up to the register
         * tile's, CRS floats each; another plan of the same weights may hold them already
         * (plan_shared.h; dl_plan_conv_unpack gives them back) */
        const size_t mr = dl_gemm_plan_for_isa(0, (dl_isa_t)pa->isa).mr;
        const size_t rows = ((size_t)K + mr - 1) / mr * mr;
        pa->p = dl_plan_share(pa->p, rows * (size_t)CRS * sizeof(float));
    }
    return rc;
}

int dl_plan_gemm_columns(void)
{
    return (int)dl_gemm_plan_for_isa(0, dl_isa()).nr;
}

void dl_plan_conv_unpack(dl_sgemm_packed_a *pa)
{
    dl_plan_unshare(pa->p);
    pa->p = NULL;
    dl_sgemm_packed_a_free(pa);
}

/* Columns per block of a pointwise conv whose activation runs after the GEMM: K rows of
 * this many floats stay in L2 for the activation. */
enum { PW_BLOCK = 512 };

/* The convolution's geometry from a CONV_GEMM step's integers (one group). */
static dl_conv_params step_conv_params(const int64_t *i)
{
    dl_conv_params p;
    p.N = i[0]; p.C = i[1]; p.H = i[2]; p.W = i[3];
    p.K = i[4]; p.R = i[5]; p.S = i[6]; p.OH = i[7]; p.OW = i[8];
    p.sh = i[9]; p.sw = i[10]; p.ph = i[11]; p.pw = i[12]; p.dh = i[13]; p.dw = i[14];
    p.groups = 1;
    return p;
}

/* i: N C H W K R S OH OW sh sw ph pw dh dw groups, post act kind, gemm act, tile columns
 * (0: pointwise, x read in place) | f: act a, b, c */
void dl_plan_conv_gemm(const int64_t *i, const double *f, const dl_sgemm_packed_a *pa,
                       const float *x, const float *bias, float *y, float *col)
{
    const dl_conv_params p = step_conv_params(i);
    const int post = (int)i[16];
    const dl_act_t act = (dl_act_t)i[17];
    const int64_t tile = i[18], imgs = i[19], P = p.OH * p.OW, HW = p.H * p.W;
    const dl_bias_t bk = bias ? DL_BIAS_COL : DL_BIAS_NONE;
    /* the im2col of the ISA the weights were packed for, like the GEMM that reads it */
    void (*im2col)(const dl_conv_params *, const float *, int64_t, int64_t, int64_t, float *,
                   int64_t) = conv_kernels_for((dl_isa_t)pa->isa)->im2col;
    if (imgs > 1) {
        /* small images (LeNet, the 7x7 and 14x14 layers at batch 32): the columns of `imgs`
         * images side by side make one wide product instead of several narrow ones, whose
         * partial register tiles cost most of their time; the product lands in a buffer
         * after the columns and is copied out image by image */
        const int64_t CRS = p.C * p.R * p.S;
        float *yb = col + CRS * imgs * P;
        for (int64_t n0 = 0; n0 < p.N; n0 += imgs) {
            const int64_t nb = p.N - n0 < imgs ? p.N - n0 : imgs, w = nb * P;
            for (int64_t j = 0; j < nb; j++)
                im2col(&p, x + (n0 + j) * p.C * HW, p.C, 0, P, col + j * P, w);
            dl_sgemm_packed_run(pa, 0, (size_t)w, 1.0f, col, (ptrdiff_t)w, 0.0f, yb,
                                (ptrdiff_t)w, bias, bk, act, 0);
            for (int64_t j = 0; j < nb; j++) {
                float *yn = y + (n0 + j) * p.K * P;
                for (int64_t k = 0; k < p.K; k++) {
                    memcpy(yn + k * P, yb + k * w + j * P, sizeof(float) * (size_t)P);
                    if (post >= 0)
                        dl_act_fwd_f32(post, yn + k * P, yn + k * P, (size_t)P, (float)f[0],
                                       (float)f[1], (float)f[2]);
                }
            }
        }
        return;
    }
    for (int64_t n = 0; n < p.N; n++) {
        const float *xn = x + n * p.C * HW;
        float *yn = y + n * p.K * P;
        if (tile == 0 && post < 0) {
            dl_sgemm_packed_run(pa, 0, (size_t)P, 1.0f, xn, (ptrdiff_t)HW, 0.0f, yn,
                                (ptrdiff_t)P, bias, bk, act, 0);
            continue;
        }
        if (tile == 0) {
            /* an activation the GEMM epilogue lacks (MobileNet's ReLU6): column blocks, each
             * activated while its K rows are still in cache, instead of a second pass over
             * the whole output.  At several threads the blocks are shared out (a block count
             * a multiple of the team's) and each product runs single-threaded: one fork and
             * join per step instead of one per block */
            const int nt = dl_threads_for((size_t)(p.K * P * p.C), (size_t)1 << 18);
            int64_t nblk = (P + PW_BLOCK - 1) / PW_BLOCK;
            nblk = (nblk + nt - 1) / nt * nt;
            const int64_t blk = ((P + nblk - 1) / nblk + 15) / 16 * 16;
            nblk = (P + blk - 1) / blk;
#ifdef DL_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
#endif
            for (int64_t b = 0; b < nblk; b++) {
                const int64_t p0 = b * blk, np = P - p0 < blk ? P - p0 : blk;
                dl_sgemm_packed_run(pa, 0, (size_t)np, 1.0f, xn + p0, (ptrdiff_t)HW, 0.0f,
                                    yn + p0, (ptrdiff_t)P, bias, bk, act, 1);
                for (int64_t k = 0; k < p.K; k++)
                    dl_act_fwd_f32(post, yn + k * P + p0, yn + k * P + p0, (size_t)np,
                                   (float)f[0], (float)f[1], (float)f[2]);
            }
            continue;
        }
        for (int64_t p0 = 0; p0 < P; p0 += tile) {
            const int64_t np = P - p0 < tile ? P - p0 : tile;
            im2col(&p, xn, p.C, p0, np, col, np);
            dl_sgemm_packed_run(pa, 0, (size_t)np, 1.0f, col, (ptrdiff_t)np, 0.0f, yn + p0,
                                (ptrdiff_t)P, bias, bk, act, 0);
            if (post >= 0)
                for (int64_t k = 0; k < p.K; k++)
                    dl_act_fwd_f32(post, yn + k * P + p0, yn + k * P + p0, (size_t)np,
                                   (float)f[0], (float)f[1], (float)f[2]);
        }
    }
}

/* A small map's convolution as the transposed product (the CONV_GEMM step with i[20] == 2):
 *
 *   y^T (P x K) = col^T (P x C R S) @ W^T (C R S x K)
 *
 * In the usual orientation the map's P positions are the product's columns, and at batch 1
 * ResNet-18's 7x7 layers give 49 of them: four register tiles of 16, the last holding one
 * column, so a quarter of the multiply-adds are padding (layer4's 3x3 stride-2 conv ran at
 * 58 GFLOP/s against 74 on the 28x28 map).  Here the positions are the rows (tiles of 6: 54
 * computed for 49), the output channels the columns; im2col's columns and the result are
 * transposed in cache on the way (plan_pointwise.h's transpose), as plan_pointwise.c does for
 * a pointwise conv's input.  W^T is packed once, when the plan is made, per plan (gemm_prepacked.h's
 * opaque packing, as a Linear step's weights: not through plan_shared.h). */
dl_sgemm_packed_b *dl_plan_conv_pack_t(const int64_t *i, const float *w)
{
    if (i[20] != 2) return NULL;
    const int64_t CRS = i[1] * i[5] * i[6];
    return dl_sgemm_pack_b(1, (size_t)CRS, (size_t)i[4], w, (ptrdiff_t)CRS);
}


/* i: as dl_plan_conv_gemm (i[20] == 2) | col: (2 C R S + K) x OH OW floats: the image's
 * columns, their transpose, the transposed result */
void dl_plan_conv_gemm_t(const int64_t *i, const double *f, const dl_sgemm_packed_b *pb,
                         const float *x, const float *bias, float *y, float *col)
{
    const dl_conv_params p = step_conv_params(i);
    const int post = (int)i[16];
    const dl_act_t act = (dl_act_t)i[17];
    const int64_t P = p.OH * p.OW, CRS = p.C * p.R * p.S;
    const plan_act_ctx ac = {post, (float)f[0], (float)f[1], (float)f[2]};
    const dl_gemm_post strip = {plan_act_strip, &ac};
    void (*im2col)(const dl_conv_params *, const float *, int64_t, int64_t, int64_t, float *,
                   int64_t) = conv_kernels()->im2col;
    const plan_pw_kernels_t *kt = plan_pw_kernels();
    float *ct = col + CRS * P, *yt = ct + CRS * P;
    for (int64_t n = 0; n < p.N; n++) {
        im2col(&p, x + n * p.C * p.H * p.W, p.C, 0, P, col, P);
        kt->transpose(col, (ptrdiff_t)P, (size_t)CRS, (size_t)P, ct, (ptrdiff_t)CRS);
        dl_sgemm_packed_b_run(pb, (size_t)P, (size_t)p.K, (size_t)CRS, 1.0f, ct, (ptrdiff_t)CRS,
                              0.0f, yt, (ptrdiff_t)p.K, bias, bias ? DL_BIAS_ROW : DL_BIAS_NONE,
                              act, post >= 0 ? &strip : NULL, 0);
        kt->transpose(yt, (ptrdiff_t)p.K, (size_t)P, (size_t)p.K, y + n * p.K * P, (ptrdiff_t)P);
    }
}

/* The CONV_DIRECT step's weights (K, C, R, S) as blocks of DL_PLAN_DIRECT_ROWS output
 * channels, tap-major within a block: wp[(kb*T + t)*ROWS + m] = w[kb*ROWS + m, t], zero for
 * channels past K (T = C*R*S taps); plan_direct.h */
size_t dl_plan_direct_packed_floats(const int64_t *i)
{
    const int64_t RW = DL_PLAN_DIRECT_ROWS, KB = (i[4] + RW - 1) / RW;
    const int64_t n = KB * i[1] * i[5] * i[6] * RW;
    return (size_t)(n > 0 ? n : 1);
}

void dl_plan_direct_pack_into(const int64_t *i, const float *w, float *wp)
{
    const int64_t K = i[4], T = i[1] * i[5] * i[6], RW = DL_PLAN_DIRECT_ROWS;
    const int64_t KB = (K + RW - 1) / RW;
    for (int64_t kb = 0; kb < KB; kb++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t m = 0; m < RW; m++) {
                const int64_t k = kb * RW + m;
                wp[(kb * T + t) * RW + m] = k < K ? w[k * T + t] : 0.0f;
            }
}

/* The packed weights of a plan, shared with other plans holding the same blocks
 * (plan_shared.h: free with dl_plan_unshare).  NULL when out of memory. */
float *dl_plan_direct_pack(const int64_t *i, const float *w)
{
    const size_t n = dl_plan_direct_packed_floats(i);
    float *wp = dl_alloc(sizeof(float) * n);
    if (!wp) return NULL;
    dl_plan_direct_pack_into(i, w, wp);
    return dl_plan_share(wp, sizeof(float) * n);
}
