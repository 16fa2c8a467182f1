/* Per-ISA kernel of the packed quantised GEMV (qgemv_packed_simd.c, one copy per ISA), reached
 * through qpack_kernels() (see dispatch.h); the driver and the layout are in qgemv_packed.c.
 *   tile: y[r] = the 16 rows' dots of one tile, r < DL_QP_ROWS (all 16 written), from nb
 *         packed blocks at P; xq: x rounded to int16 (nb * 32), xs[b]: its scale per block,
 *         xsum[b]: the float sum of x over block b */
#ifndef DLCORE_QGEMV_PACKED_KERNELS_H
#define DLCORE_QGEMV_PACKED_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "dispatch.h"

/* bytes of one tile's block: 16 f16 scales (+ 16 f16 minimums for the 4-bit kinds; zero for
 * Q4_0, whose minimum is -8 d) and 16 x 32 codes (4-bit: two per byte) */
#define QP_HEAD4 64
#define QP_HEAD8 32
#define QP_TB4 (QP_HEAD4 + 256)
#define QP_TB8 (QP_HEAD8 + 512)

typedef struct {
    void (*tile)(int kind, size_t nb, const int16_t *xq, const float *xs, const float *xsum,
                 const uint8_t *P, float *y);
} qpack_kernels_t;

DL_KERNEL_TABLE(qpack_kernels_t, qpack_kernels)

#endif
