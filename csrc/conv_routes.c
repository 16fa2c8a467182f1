/* The forward kernels an inference plan runs for a convolution (dlcore/jit/lower_layers.py's
 * _conv picks them), run by eager conv2d for the same shapes, so that eager and planned
 * inference differ only by what a plan adds on top (BatchNorm folded into the weights,
 * activations fused, weights packed once) and not by the algorithm.
 *
 * Each route repeats the planner's test for its kernel (the two are kept in step by
 * tests/test_conv_routes.py, which checks the eager call's route against the plan's step).
 * What a plan packs once is packed here per call, where that is cheap or free:
 *   - the direct kernels' weight blocks (dl_plan_direct_pack_into): a first layer's 3 x 7 x 7
 *     x 64 filters are 37 KiB, LeNet's a few KiB;
 *   - the transposed product's W^T is not packed ahead at all: the GEMM reads W in place as
 *     its right operand, packing it block by block in cache as it goes.  At batch 1 each
 *     weight is used by one block of rows, so it is read from memory once either way (a whole
 *     packed copy made per call would be written out and read back: a third more traffic on
 *     ResNet-18's 4.7 MB layer4 filters). */
#include <stdint.h>
#include <string.h>

#include "dlcore/alloc.h"
#include "dlcore/conv.h"
#include "dlcore/gemm.h"
#include "dlcore/plan.h"
#include "dlcore/runtime.h"
#include "conv_kernels.h"
#include "conv_routes.h"
#include "gemm_driver.h"
#include "plan_direct.h"
#include "plan_kernels.h"
#include "plan_pointwise.h"

/* lower_layers.py's _SMALL_MAP_TILES and _SMALL_MAP_MACS */
enum { SMALL_MAP_TILES = 8, SMALL_MAP_MACS = 4096 };

/* the end padding p implies: rows (columns) the last window reaches past the input */
static int64_t end_pad(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t pad)
{
    return (out - 1) * s + (k - 1) * d + 1 - in - pad;
}

/* lower_layers.py's _direct_s2_ok */
static int direct_s2_takes(const dl_conv_params *p)
{
    if (p->groups != 1 || p->C > DL_PLAN_S2W_MAX_C || p->sh != 2 || p->sw != 2 ||
        p->dh != 1 || p->dw != 1)
        return 0;
    if (p->R == 3 && p->S == 3 && p->ph <= 1 && p->pw <= 1 &&
        end_pad(p->H, p->OH, 3, 2, 1, p->ph) <= 1 && end_pad(p->W, p->OW, 3, 2, 1, p->pw) <= 1)
        return 1;
    return p->R <= DL_PLAN_S2W_MAX_RS && p->S <= DL_PLAN_S2W_MAX_RS && p->ph < p->R &&
           p->pw < p->S;
}

/* lower_layers.py's _direct_ok: the padded planes (and the taps) within the kernel's stack
 * buffers, and the dropped columns of each padded row at most a third of it */
static int direct_s1_takes(const dl_conv_params *p)
{
    if (p->groups != 1 || p->sh != 1 || p->sw != 1 || p->K > 64 || p->R * p->S == 1)
        return 0;
    const int64_t Hp = p->OH + (p->R - 1) * p->dh, Wp = p->OW + (p->S - 1) * p->dw;
    return p->C * p->R * p->S <= DL_PLAN_DIRECT_MAX_TAPS &&
           p->C * Hp * Wp + 64 <= DL_PLAN_DIRECT_MAX_FLOATS && 3 * (p->S - 1) * p->dw <= Wp;
}

int dl_conv_route_direct_f32(const dl_conv_params *p, const float *x, const float *w,
                             const float *bias, float *y, int *rc)
{
    if (dl_conv_get_algo() != DL_CONV_ALGO_AUTO) return 0;
    /* at stride 1 the plan keeps Winograd where it wins even transforming the filters on
     * every call (dl_conv2d_algo_f32: the uncached cost model) */
    if (!direct_s2_takes(p) && !(direct_s1_takes(p) && dl_conv2d_algo_f32(p, 0) == 0))
        return 0;
    /* the CONV_DIRECT step's ints, no activation */
    const int64_t i[17] = {p->N, p->C, p->H, p->W, p->K, p->R, p->S, p->OH, p->OW, p->sh,
                           p->sw, p->ph, p->pw, p->dh, p->dw, 1, -1};
    const double f[3] = {0.0, 0.0, 0.0};
    float *wp = dl_buf_malloc(sizeof(float) * dl_plan_direct_packed_floats(i));
    if (!wp) {
        *rc = -1;
        return 1;
    }
    dl_plan_direct_pack_into(i, w, wp);
    const int r = plan_direct_kernels()->conv(i, f, wp, bias, x, y);
    dl_buf_free(wp);
    if (r) return 0;   /* past its limits (the tests above keep within them): im2col */
    *rc = 0;
    return 1;
}

int dl_conv_route_small_map_f32(const dl_conv_params *p, const float *x, const float *w,
                                const float *bias, float *y, int *rc)
{
    const int64_t P = p->OH * p->OW, CRS = p->C * p->R * p->S, K = p->K;
    const int pointwise = p->R == 1 && p->S == 1 && p->sh == 1 && p->sw == 1 && p->ph == 0 &&
                          p->pw == 0;
    /* one input channel with a small filter: the plan's window kernel, eager's im2col */
    const int one_channel = p->C == 1 && p->R * p->S <= 64 && p->dh == 1 && p->dw == 1;
    const int64_t small = SMALL_MAP_TILES * (int64_t)dl_gemm_plan_for_isa(0, dl_isa()).nr;
    if (p->N != 1 || p->groups != 1 || pointwise || one_channel || P >= small ||
        CRS * K < SMALL_MAP_MACS)
        return 0;
    float *col = dl_buf_malloc(sizeof(float) * (size_t)((2 * CRS + K) * P));
    if (!col) {
        *rc = -1;
        return 1;
    }
    float *ct = col + CRS * P, *yt = ct + CRS * P;
    const plan_pw_kernels_t *kt = plan_pw_kernels();
    conv_kernels()->im2col(p, x, p->C, 0, P, col, P);
    kt->transpose(col, (ptrdiff_t)P, (size_t)CRS, (size_t)P, ct, (ptrdiff_t)CRS);
    /* y^T (P x K) = col^T (P x CRS) @ W^T, W (K x CRS) read in place */
    dl_sgemm(0, 1, (size_t)P, (size_t)K, (size_t)CRS, 1.0f, ct, (ptrdiff_t)CRS, w,
             (ptrdiff_t)CRS, 0.0f, yt, (ptrdiff_t)K, bias, bias ? DL_BIAS_ROW : DL_BIAS_NONE,
             DL_ACT_NONE);
    kt->transpose(yt, (ptrdiff_t)K, (size_t)P, (size_t)K, y, (ptrdiff_t)P);
    dl_buf_free(col);
    *rc = 0;
    return 1;
}
