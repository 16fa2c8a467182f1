/* The fused inverted-residual step's weights packed once per plan (see plan_mbconv.h). */
#include <stdlib.h>

#include "dlcore/gemm.h"
#include "plan_mbconv.h"

enum { MB_MAX_TAPS = 49 };

int dl_plan_mbconv_ok(const int64_t *i)
{
    /* N Cin H W Ce Cout R S stride ph pw OH OW ea da res rows */
    const int64_t R = i[6], S = i[7], st = i[8];
    return i[0] > 0 && i[1] > 0 && i[2] > 0 && i[3] > 0 && i[4] > 0 && i[5] > 0 &&
           (R & 1) && (S & 1) && R * S <= MB_MAX_TAPS && (st == 1 || st == 2) &&
           i[9] == (R - 1) / 2 && i[10] == (S - 1) / 2 &&
           i[11] == (i[2] + 2 * i[9] - R) / st + 1 && i[12] == (i[3] + 2 * i[10] - S) / st + 1 &&
           i[16] > 0;
}

dl_plan_mbconv_packed *dl_plan_mbconv_pack(const int64_t *i, const float *we, const float *wp)
{
    dl_plan_mbconv_packed *pk = calloc(1, sizeof(*pk));
    if (!pk) return NULL;
    /* a failed pack leaves p NULL: the run then multiplies by the unpacked weights */
    dl_sgemm_pack_a(0, (size_t)i[4], (size_t)i[1], we, (ptrdiff_t)i[1], &pk->expand);
    dl_sgemm_pack_a(0, (size_t)i[5], (size_t)i[4], wp, (ptrdiff_t)i[4], &pk->project);
    return pk;
}

void dl_plan_mbconv_free(dl_plan_mbconv_packed *pk)
{
    if (!pk) return;
    dl_sgemm_packed_a_free(&pk->expand);
    dl_sgemm_packed_a_free(&pk->project);
    free(pk);
}
