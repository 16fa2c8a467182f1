/* The lane-weight table of the small-map depthwise kernel (plan_dw_cblock_simd.c), made once
 * per plan: rebuilt on every call it was ~10 us of a 960-channel 7x7 step's ~60 (a strided
 * scatter of C x 10 floats into a fresh allocation), four such steps per MobileNetV2 run.  Its
 * layout does not depend on the ISA (rows padded for the widest lane count), so a plan made
 * under one ISA runs under another. */
#include <stddef.h>
#include <stdint.h>

#include "dlcore/runtime.h"
#include "plan_dw_cblock_table.h"
#include "plan_shared.h"

size_t dl_plan_dw_cblock_table_bytes(int64_t C, int64_t taps)
{
    return sizeof(float) * (size_t)((taps + 1) * (C + DL_CBLOCK_PAD));
}

void dl_plan_dw_cblock_table_fill(int64_t C, int64_t taps, const float *w, const float *bias,
                                  float *wt)
{
    const int64_t CW = C + DL_CBLOCK_PAD;
    for (int64_t c = 0, cc = 0; c < CW; c++, cc = cc + 1 < C ? cc + 1 : 0) {
        for (int64_t q = 0; q < taps; q++) wt[q * CW + c] = w[cc * taps + q];
        wt[taps * CW + c] = bias ? bias[cc] : 0.0f;
    }
}

float *dl_plan_dw_cblock_table(const int64_t *i, const float *w, const float *bias)
{
    /* N C H W K R S OH OW sh sw ph pw dh dw groups: one filter per channel, the sizes the
     * kernel takes (dl_plan_dw_same_applies is the kernel's to check at run time) */
    const int64_t C = i[1], taps = i[5] * i[6];
    if (!w || C <= 0 || i[4] != C || i[15] != C || taps <= 0 || taps > 64 ||
        i[8] > DL_CBLOCK_MAX_OW || i[2] > DL_CBLOCK_MAX_SIDE || i[3] > DL_CBLOCK_MAX_SIDE)
        return NULL;
    const size_t bytes = dl_plan_dw_cblock_table_bytes(C, taps);
    float *wt = dl_alloc(bytes);
    if (!wt) return NULL;
    dl_plan_dw_cblock_table_fill(C, taps, w, bias, wt);
    return dl_plan_share(wt, bytes);
}
