/* The lane-weight table of the small-map depthwise kernel (plan_dw_cblock_simd.c), made once
 * per plan by plan.c (plan_dw_cblock.c): no ISA in it, so plan.c includes this header alone. */
#ifndef DLCORE_PLAN_DW_CBLOCK_TABLE_H
#define DLCORE_PLAN_DW_CBLOCK_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* The steps it takes: rows under 14 outputs, maps up to 28 x 28 */
enum { DL_CBLOCK_MAX_OW = 13, DL_CBLOCK_MAX_SIDE = 28, DL_CBLOCK_PAD = 16 };

/* The lanes' weight table (plan_dw_cblock.c): taps + 1 rows of C + DL_CBLOCK_PAD floats, tap
 * q's weight (then the bias) of channel c mod C at [q * (C + DL_CBLOCK_PAD) + c], so a group
 * of up to DL_CBLOCK_PAD planes reads its lane vector with one load from its first channel,
 * whatever the ISA's lane count.  The bytes it needs, and the table written there. */
size_t dl_plan_dw_cblock_table_bytes(int64_t C, int64_t taps);
void dl_plan_dw_cblock_table_fill(int64_t C, int64_t taps, const float *w, const float *bias,
                                  float *wt);
/* The table of the CONV step i's constant weights and bias (bias may be NULL), made once when
 * the plan is (shared between plans, dl_plan_unshare frees it); NULL when the step is not one
 * dl_plan_dw_cblock may take, or memory is short (the run then makes the table per call). */
float *dl_plan_dw_cblock_table(const int64_t *i, const float *w, const float *bias);

#endif
