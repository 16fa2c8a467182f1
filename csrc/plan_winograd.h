/* The CONV step's Winograd filters transformed once when the plan is made (plan_winograd.c).
 *
 * Eager inference finds a 3x3 layer's transform in its cache (winograd_cache.c), but checks
 * it against the weights byte for byte on every call (a read of all the weights and of their
 * copy: 88 MB per ResNet-18 call), and without that cache (the plan's calls, which never set
 * it) the transform is made again every call and the cost model, counting it, keeps im2col
 * for the 7x7 layers at batch 1.  A plan's weights are its constants: the transform is made
 * once here and the cost model asked as for a cached one. */
#ifndef DLCORE_PLAN_WINOGRAD_H
#define DLCORE_PLAN_WINOGRAD_H

#include <stdint.h>
#include "winograd.h"

typedef struct {
    float *U;        /* the transformed filters (NULL: the step runs dl_conv2d_fwd_f32) */
    int m, isa;      /* tile size and the ISA U was packed for */
    dl_wino_conv c;  /* the convolution as winograd.h describes it */
} dl_plan_wino;

/* Fills pw for a CONV step (ints as dlcore/plan.h's CONV) whose weights w are constant:
 * pw->U stays NULL when Winograd does not apply, is not chosen, the weights are not finite
 * or memory is short. */
void dl_plan_wino_pack(const int64_t *i, const float *w, dl_plan_wino *pw);
void dl_plan_wino_free(dl_plan_wino *pw);
/* y = conv(x) + bias on pw's transform, then the step's post activation; 0, -1 when out of
 * memory.  An input holding a NaN or an infinity takes dl_conv2d_fwd_f32 (im2col), as an
 * eager call does. */
int dl_plan_wino_run(const int64_t *i, const double *f, const dl_plan_wino *pw, const float *x,
                     const float *w, const float *bias, float *y);

#endif
