/* The direct convolution's packed weights (plan_conv.c), for the executor's CONV_DIRECT step
 * (packed once, when a plan is made) and for eager calls of the same shapes (conv_routes.c,
 * packed per call into their own buffer). */
#ifndef DLCORE_PLAN_DIRECT_H
#define DLCORE_PLAN_DIRECT_H

#include <stddef.h>
#include <stdint.h>

/* i: the CONV_DIRECT step's ints (dlcore/plan.h: N C H W K R S ...); w: K x C x R x S.
 * The packed block's floats, and the packing into wp (that many floats). */
size_t dl_plan_direct_packed_floats(const int64_t *i);
void dl_plan_direct_pack_into(const int64_t *i, const float *w, float *wp);

#endif
