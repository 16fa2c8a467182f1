/* The exact (erf-based) GELU of the GEMM epilogues (gemm_avx512.c, gemm_avx2.c, qgemm_simd.c,
 * bf16_simd.c): simd_normal.h's vf_gelu_erf, the activation kernel's own, so an op and its
 * fused form agree; it follows the ISA of the file including it.
 *
 * dl_gelu_vf: NaN propagates; +inf -> +inf; x < -10 sqrt 2 (incl. -inf) -> +0: there GELU(x)
 * is below 1.2e-43 in magnitude, a float denormal (the activation kernel gives -0 there, and
 * NaN at -inf as PyTorch does; an epilogue keeps its output finite).
 */
#ifndef DLCORE_GEMM_GELU_H
#define DLCORE_GEMM_GELU_H

#include "simd.h"
#include "simd_normal.h"

static inline vf dl_gelu_vf(vf x)
{
    return vf_select_lt(x, vf_set1(-14.142136f), vf_zero(), vf_gelu_erf(x));
}

/* y[0..n) = GELU(y[0..n)) in place, four independent vectors per step (each GELU is one long
 * dependency chain; four in flight keep the FMA units busy); the tail as a masked vector */
static inline void dl_gelu_row(float *y, size_t n)
{
    size_t j = 0;
    for (; j + 4 * DL_VF_LEN <= n; j += 4 * DL_VF_LEN) {
        vf a = dl_gelu_vf(vf_loadu(y + j));
        vf b = dl_gelu_vf(vf_loadu(y + j + DL_VF_LEN));
        vf c = dl_gelu_vf(vf_loadu(y + j + 2 * DL_VF_LEN));
        vf d = dl_gelu_vf(vf_loadu(y + j + 3 * DL_VF_LEN));
        vf_storeu(y + j, a);
        vf_storeu(y + j + DL_VF_LEN, b);
        vf_storeu(y + j + 2 * DL_VF_LEN, c);
        vf_storeu(y + j + 3 * DL_VF_LEN, d);
    }
    for (; j + DL_VF_LEN <= n; j += DL_VF_LEN) vf_storeu(y + j, dl_gelu_vf(vf_loadu(y + j)));
    if (j < n) vf_store_part(y + j, dl_gelu_vf(vf_load_part(y + j, n - j, 0.0f)), n - j);
}

#endif
