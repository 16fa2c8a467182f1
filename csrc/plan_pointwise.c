/* The executor's pointwise (1x1) convolution on small maps, as the transposed product
 *
 *   y_n^T (P x K) = x_n^T (P x C) @ W^T (C x K)
 *
 * with W^T packed once when the plan is made.  In the usual orientation (plan_conv.c) the
 * product's columns are the map's P positions: MobileNetV2's 7x7 layers give 49 columns, a
 * register tile of 32 and a second one of 17 in a tile as wide, so a quarter of the
 * multiply-adds are padding.  Here the P positions (of `imgs` images together) are the rows,
 * the K output channels (multiples of 16 in these models) the columns.  The GEMM packs the
 * input planes as its rows straight from NCHW (dl_sgemm_packed_b_run_cm: the copy it makes of
 * its left operand anyway); the result is transposed in cache on the way out.  The bias is per column (channel),
 * Relu in the epilogue, any other activation run on each finished strip.
 *
 * A step with a residual sum fused (i[21] == 1: y holds the skip value on entry, the step has
 * no activation) adds its result to y: the transposed product is added on its way out, the
 * usual one (dl_plan_pointwise_acc) accumulates with the GEMM's beta = 1.  Either way the sum
 * costs no pass of its own over the map (MobileNetV2's ten residual Adds). */
#include <stddef.h>
#include <stdint.h>

#include "dlcore/act.h"
#include "dlcore/gemm.h"
#include "dlcore/gemm_prepacked.h"
#include "dlcore/plan.h"
#include "plan_pointwise.h"

dl_sgemm_packed_b *dl_plan_pointwise_pack(const int64_t *i, const float *w)
{
    /* i: N C H W K R S OH OW sh sw ph pw dh dw groups post act tile imgs transposed */
    if (i[20] != 1 || i[5] != 1 || i[6] != 1) return NULL;
    return dl_sgemm_pack_b(1, (size_t)i[1], (size_t)i[4], w, (ptrdiff_t)i[1]);
}

void plan_act_strip(const void *ctx, float *C, size_t rows, size_t cols, ptrdiff_t ldc)
{
    const plan_act_ctx *a = ctx;
    for (size_t r = 0; r < rows; r++)
        dl_act_fwd_f32(a->kind, C + (ptrdiff_t)r * ldc, C + (ptrdiff_t)r * ldc, cols, a->a, a->b,
                       a->c);
}

/* i: as dl_plan_pointwise_pack; i[19] images per product | f: act a, b, c | col: i[19] * P *
 * (C + K) floats (room for the images' transposed inputs, written only when the GEMM finds no
 * packing buffer, then their transposed outputs) */
void dl_plan_pointwise_t(const int64_t *i, const double *f, const dl_sgemm_packed_b *pb,
                         const float *x, const float *bias, float *y, float *col)
{
    const int64_t N = i[0], C = i[1], K = i[4], P = i[7] * i[8], imgs = i[19] > 0 ? i[19] : 1;
    const int post = (int)i[16], residual = i[21] == 1;
    const dl_act_t act = (dl_act_t)i[17];
    const plan_act_ctx ac = {post, (float)f[0], (float)f[1], (float)f[2]};
    const dl_gemm_post strip = {plan_act_strip, &ac};
    const plan_pw_kernels_t *kt = plan_pw_kernels();
    float *xt = col, *yt = col + imgs * P * C;
    for (int64_t n0 = 0; n0 < N; n0 += imgs) {
        const int64_t nb = N - n0 < imgs ? N - n0 : imgs;
        const dl_bias_t bk = bias ? DL_BIAS_ROW : DL_BIAS_NONE;
        /* the images' C x P planes packed as the product's rows where they are */
        const dl_sgemm_cm_a a = {x + n0 * C * P, (ptrdiff_t)P, (size_t)P, (ptrdiff_t)(C * P)};
        if (dl_sgemm_packed_b_run_cm(pb, (size_t)(nb * P), (size_t)K, (size_t)C, 1.0f, &a, 0.0f,
                                     yt, (ptrdiff_t)K, bias, bk, act, post >= 0 ? &strip : NULL,
                                     0) != 0) {
            /* no packing buffer: the planes transposed into rows, read in place */
            for (int64_t j = 0; j < nb; j++)
                kt->transpose(x + (n0 + j) * C * P, (ptrdiff_t)P, (size_t)C, (size_t)P,
                              xt + j * P * C, (ptrdiff_t)C);
            dl_sgemm_packed_b_run(pb, (size_t)(nb * P), (size_t)K, (size_t)C, 1.0f, xt,
                                  (ptrdiff_t)C, 0.0f, yt, (ptrdiff_t)K, bias, bk, act,
                                  post >= 0 ? &strip : NULL, 0);
        }
        for (int64_t j = 0; j < nb; j++)
            (residual ? kt->transpose_add : kt->transpose)(yt + j * P * K, (ptrdiff_t)K,
                                                           (size_t)P, (size_t)K,
                                                           y + (n0 + j) * K * P, (ptrdiff_t)P);
    }
}

/* i: as dl_plan_pointwise_pack (tile 0, one image per product) */
void dl_plan_pointwise_acc(const int64_t *i, const dl_sgemm_packed_a *pa, const float *x,
                           const float *bias, float *y)
{
    const int64_t N = i[0], C = i[1], K = i[4], P = i[7] * i[8];
    const dl_bias_t bk = bias ? DL_BIAS_COL : DL_BIAS_NONE;
    for (int64_t n = 0; n < N; n++)
        dl_sgemm_packed_run(pa, 0, (size_t)P, 1.0f, x + n * C * P, (ptrdiff_t)P, 1.0f,
                            y + n * K * P, (ptrdiff_t)P, bias, bk, DL_ACT_NONE, 0);
}
