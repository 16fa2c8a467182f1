/* Per-ISA kernels of the packed quantised GEMM with 8-bit activations (prompt processing:
 * several rows of x against the row-interleaved weights of dl_qpack), reached through
 * qpgemm_kernels() (see dispatch.h), with AVX512-VNNI tiles in qgemv_packed_gemm_avx512vnni.c;
 * the driver is qgemv_packed_gemm.c, the scheme in dlcore/qgemv.h.
 *   quant_row: one row of x (nb blocks of 32) to codes q in [-127, 127] (int8; int16 for
 *         Q8_0), per 32-block scale s_b = max|x_b| / 127, q = round(x / s_b); xs[b] = s_b
 *         and xc[b] the kind's per-block term (Q4_0: -8 sum_k q_k; Q4_1: s_b sum_k q_k, the
 *         rounded x's sum; Q8_0: unused, 0); for
 *         the 4-bit kinds the codes of each group of 4 k are stored in the order k0 k2 k1 k3
 *         (QPG_XPOS), the order of a weight lane's bytes (see qgemv_packed_gemm_simd.c); for
 *         Q8_0 in natural order.  Returns 1 when the row must take the exact float loop
 *         instead (a NaN or Inf, or a block so small, max < QP_TINY, that its scales would
 *         leave float32's normal range), else 0.
 *   tile: y[i * 16 + r] (i < mr, r < 16) = the dots of mr rows of codes (1 <= mr <= QPG_MR)
 *         with one 16-row tile of nb packed blocks at P; rows of codes ldq apart (int8 for
 *         the 4-bit kinds, int16 for Q8_0), of xs / xc nb apart.  A tile may also compute
 *         (and write to y, which has room for QPG_MR rows) up to QPG_MQ - 1 rows past mr:
 *         the driver keeps that many zero rows past the last. */
#ifndef DLCORE_QGEMV_PACKED_GEMM_KERNELS_H
#define DLCORE_QGEMV_PACKED_GEMM_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "dispatch.h"

/* rows of x one tile call carries at most, and the rows a tile may compute in one step (the
 * AVX2 tile: 4) */
#define QPG_MR 12
#define QPG_MQ 4

/* where code k of a block sits in a 4-bit kind's activation row: k0 k2 k1 k3 per group of 4 */
#define QPG_XPOS(k) (((k) & ~3) | (((k) & 1) << 1) | (((k) >> 1) & 1))

typedef void (*qpg_tile_fn)(int kind, int mr, size_t nb, const void *xq, size_t ldq,
                            const float *xs, const float *xc, const uint8_t *P, float *y);

typedef struct {
    qpg_tile_fn tile;
    qpg_tile_fn tile_vnni;   /* vpdpbusd / vpdpwssd; NULL outside the AVX-512 table */
    int (*quant_row)(int kind, size_t nb, const float *x, void *q, float *xs, float *xc);
} qpgemm_kernels_t;

DL_KERNEL_TABLE(qpgemm_kernels_t, qpgemm_kernels)

void qgemv_packed_gemm_tile_vnni(int kind, int mr, size_t nb, const void *xq, size_t ldq,
                                 const float *xs, const float *xc, const uint8_t *P, float *y);

#endif
