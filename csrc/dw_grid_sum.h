/* The depthwise sum on a zero-padded flat grid, shared by the plan's depthwise kernel
 * (plan_dw_simd.c) and the fused inverted-residual step (plan_mbconv_simd.c).  Included by
 * per-ISA files after simd.h, so it compiles once per SIMD path. */
#ifndef DL_DW_GRID_SUM_H
#define DL_DW_GRID_SUM_H

#include <stdint.h>

/* fo[0, J) = bias + sum of taps on the flat grid, clipped to [lo, hi] when clip */
static void dw_grid_sum(const float *pl, const float *w, const int64_t *toff, int64_t taps,
                        int64_t J, vf vb, int clip, vf vlo, vf vhi, float *fo)
{
    int64_t j = 0;
    for (; j + 4 * DL_VF_LEN <= J; j += 4 * DL_VF_LEN) {
        vf a0 = vb, a1 = vb, a2 = vb, a3 = vb;
        for (int64_t q = 0; q < taps; q++) {
            const vf wt = vf_set1(w[q]);
            const float *src = pl + toff[q] + j;
            a0 = vf_fma(wt, vf_loadu(src), a0);
            a1 = vf_fma(wt, vf_loadu(src + DL_VF_LEN), a1);
            a2 = vf_fma(wt, vf_loadu(src + 2 * DL_VF_LEN), a2);
            a3 = vf_fma(wt, vf_loadu(src + 3 * DL_VF_LEN), a3);
        }
        if (clip) {
            a0 = vf_min(vhi, vf_max(vlo, a0));
            a1 = vf_min(vhi, vf_max(vlo, a1));
            a2 = vf_min(vhi, vf_max(vlo, a2));
            a3 = vf_min(vhi, vf_max(vlo, a3));
        }
        vf_storeu(fo + j, a0);
        vf_storeu(fo + j + DL_VF_LEN, a1);
        vf_storeu(fo + j + 2 * DL_VF_LEN, a2);
        vf_storeu(fo + j + 3 * DL_VF_LEN, a3);
    }
    /* the last one to three vectors: two chains where there are two */
    for (; j + 2 * DL_VF_LEN <= J; j += 2 * DL_VF_LEN) {
        vf a0 = vb, a1 = vb;
        for (int64_t q = 0; q < taps; q++) {
            const vf wt = vf_set1(w[q]);
            const float *src = pl + toff[q] + j;
            a0 = vf_fma(wt, vf_loadu(src), a0);
            a1 = vf_fma(wt, vf_loadu(src + DL_VF_LEN), a1);
        }
        if (clip) {
            a0 = vf_min(vhi, vf_max(vlo, a0));
            a1 = vf_min(vhi, vf_max(vlo, a1));
        }
        vf_storeu(fo + j, a0);
        vf_storeu(fo + j + DL_VF_LEN, a1);
    }
    for (; j < J; j += DL_VF_LEN) {
        vf a0 = vb;
        for (int64_t q = 0; q < taps; q++)
            a0 = vf_fma(vf_set1(w[q]), vf_loadu(pl + toff[q] + j), a0);
        if (clip) a0 = vf_min(vhi, vf_max(vlo, a0));
        vf_storeu(fo + j, a0);
    }
}

#endif
