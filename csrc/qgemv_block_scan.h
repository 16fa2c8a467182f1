/* One 32-value activation block's largest magnitude and sum, in simd.h's vocabulary: what
 * both packed quantised products (the decoding GEMV and the int8 prompt GEMM) look at before
 * splitting or rounding a block; a sum that is not finite means NaN or Inf in the block. */
#ifndef DLCORE_QGEMV_BLOCK_SCAN_H
#define DLCORE_QGEMV_BLOCK_SCAN_H
#include "simd.h"
#include "dlcore/qgemv.h"

static inline void qblock_absmax_sum(const float *xb, float *amax, float *sum)
{
    vf vmax = vf_zero(), vsum = vf_zero();
    for (int k = 0; k < DL_QK; k += DL_VF_LEN) {
        vf v = vf_loadu(xb + k);
        vmax = vf_max(vmax, vf_abs(v));
        vsum = vf_add(vsum, v);
    }
    *amax = vf_reduce_max(vmax);
    *sum = vf_reduce_add(vsum);
}

#endif
