/* The CONV step on Winograd filters transformed once (see plan_winograd.h). */
#include <stddef.h>

#include "dlcore/act.h"
#include "dlcore/alloc.h"
#include "dlcore/conv.h"
#include "dlcore/runtime.h"
#include "plan_shared.h"
#include "plan_winograd.h"
#include "winograd_kernels.h"

static dl_conv_params params_of(const int64_t *i)
{
    dl_conv_params p;
    p.N = i[0]; p.C = i[1]; p.H = i[2]; p.W = i[3];
    p.K = i[4]; p.R = i[5]; p.S = i[6]; p.OH = i[7]; p.OW = i[8];
    p.sh = i[9]; p.sw = i[10]; p.ph = i[11]; p.pw = i[12];
    p.dh = i[13]; p.dw = i[14]; p.groups = i[15];
    return p;
}

void dl_plan_wino_pack(const int64_t *i, const float *w, dl_plan_wino *pw)
{
    pw->U = NULL;
    pw->m = 0;
    const dl_conv_params p = params_of(i);
    dl_wino_conv c;
    const int m = dl_conv2d_wino_fwd_cached(&p, w, &c);
    if (!m) return;
    c.cache = 0;
    const int isa = (int)dl_isa();
    const size_t bytes = sizeof(float) * dl_winograd_packed_floats(&c, m, isa);
    float *U = dl_alloc(bytes);
    if (!U) return;
    if (dl_winograd_pack(&c, m, isa, U) != 0) {
        dl_free(U);   /* a weight is not finite: im2col, as eager runs it */
        return;
    }
    /* another plan of the same weights may hold these very filters (plan_shared.h) */
    pw->U = dl_plan_share(U, bytes);
    pw->m = m;
    pw->isa = isa;
    pw->c = c;
}

void dl_plan_wino_free(dl_plan_wino *pw)
{
    dl_plan_unshare(pw->U);
    pw->U = NULL;
}

int dl_plan_wino_run(const int64_t *i, const double *f, const dl_plan_wino *pw, const float *x,
                     const float *w, const float *bias, float *y)
{
    const dl_conv_params p = params_of(i);
    int rc;
    if (winograd_kernels_for((dl_isa_t)pw->isa)->all_finite(x, (size_t)(p.N * p.C * p.H * p.W)))
        rc = dl_winograd_conv_packed_f32(&pw->c, pw->m, pw->isa, pw->U, x, bias, y);
    else
        rc = dl_conv2d_fwd_f32(&p, x, w, bias, y);
    if (rc == 0 && i[16] >= 0)
        dl_act_fwd_f32((int)i[16], y, y, (size_t)(p.N * p.K * p.OH * p.OW), (float)f[0],
                       (float)f[1], (float)f[2]);
    return rc;
}
