/* Per-ISA kernel of the packed quantised GEMV (qgemv_packed_simd.c, one copy per ISA), reached
 * through qpack_kernels() (see dispatch.h), with an AVX512-VNNI tile in
 * qgemv_packed_avx512vnni.c; the driver and the layout are in qgemv_packed.c.
 *   tile: y[r] = the 16 rows' dots of one tile, r < DL_QP_ROWS (all 16 written), from nb
 *         packed blocks at P; x (nb * 32) as two int16 parts, x ~= xs[b] (xq + xl * QP_LOW)
 *         with xs[b] its scale per block; xsum[b]: the float sum of x over block b
 *   split: x to those parts (see qgemv_packed_simd.c); 1 where the exact float loop must
 *         take the call instead */
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

/* weight of the low int16 part of x: 2^-15 */
#define QP_LOW (1.0f / 32768.0f)

typedef void (*qp_tile_fn)(int kind, size_t nb, const int16_t *xq, const int16_t *xl,
                           const float *xs, const float *xsum, const uint8_t *P, float *y);

typedef struct {
    qp_tile_fn tile;
    qp_tile_fn tile_vnni;    /* vpdpwssd; NULL outside the AVX-512 table */
    int (*split)(size_t nb, const float *x, int16_t *xq, int16_t *xl, float *xs, float *xsum);
} qpack_kernels_t;

/* below this max |x_b| the scale max / 32767 times a small f16 d would leave float32's normal
 * range: such calls take the exact float loop */
#define QP_TINY 8.673617379884035e-19f     /* 2^-60 */

DL_KERNEL_TABLE(qpack_kernels_t, qpack_kernels)

/* whether the VNNI tiles may run: the AVX-512 path in use, allowed, and the CPU has them */
int qp_use_vnni(void);

/* y[j] (= or +=) the exact float32 dot of x with row j of the packed copy P, j < N: the
 * fallback for an x the integer forms cannot hold */
void qp_exact(int kind, size_t N, size_t K, const float *x, const uint8_t *P, float *y,
              int accumulate);

void qgemv_packed_tile_vnni(int kind, size_t nb, const int16_t *xq, const int16_t *xl,
                            const float *xs, const float *xsum, const uint8_t *P, float *y);

#endif
