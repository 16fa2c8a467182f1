/* The float32 max-pooling kernels of the inference plan's executor, run by eager max_pool2d
 * when it keeps no indices (inference), so that eager and planned inference take the same
 * kernel; plan.c's MAXPOOL step asks this same function.
 *   - 3x3 windows at stride 2, padding 0 or 1 (ResNet's stem; plan_maxpool_simd.c): the rows'
 *     maximum, then the columns split in registers.  Vector ISAs only: the portable form
 *     branches on every maximum;
 *   - other windows larger than 2x2, dilation 1 (plan_dw_simd.c's phase-split kernel).
 * 2x2 windows and dilated ones stay on pool.c's kernel, the one that also writes indices.
 * Measured here (CPU time, 1 thread, busy machine): ResNet-18's stem (1,64,112,112) 2430 us
 * on pool.c's kernel against 351 us on the 3x3/2 kernel; a 5x5/1 pool of (1,16,40,40)
 * 333 -> 150 us. */
#include "dlcore/pool.h"
#include "dlcore/runtime.h"
#include "plan_kernels.h"

int dl_maxpool2d_route_f32(const dl_pool_params *p, const float *x, float *y, int *rc)
{
    if (p->dh != 1 || p->dw != 1 || p->kh * p->kw <= 4) return 0;
    const int64_t i[13] = {p->planes, p->H, p->W, p->OH, p->OW, p->kh, p->kw,
                           p->sh, p->sw, p->ph, p->pw, p->dh, p->dw};
    if (p->kh == 3 && p->kw == 3 && p->sh == 2 && p->sw == 2 && p->ph >= 0 && p->ph <= 1 &&
        p->pw >= 0 && p->pw <= 1 && dl_isa() != DL_ISA_GENERIC)
        *rc = plan_pool_kernels()->maxpool3s2(i, x, y);
    else
        *rc = plan_window_kernels()->maxpool(i, x, y);
    return 1;
}
