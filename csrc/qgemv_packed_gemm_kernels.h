/* Per-ISA kernels of the packed quantised GEMM with 8-bit activations (prompt processing:
 * several rows of x against the row-interleaved weights of dl_qpack), reached through
 * qpgemm_kernels() (see dispatch.h), with AVX512-VNNI tiles in qgemv_packed_gemm_avx512vnni.c;
 * the driver is qgemv_packed_gemm.c, the scheme in dlcore/qgemv.h.
 *   quant_row: one row of x (nb blocks of 32) to codes q in [-127, 127] (int8; int16 for
 *         Q8_0), per 32-block scale s_b = max|x_b| / 127, q = round(x / s_b); block b's 32
 *         codes at q + b * qstride (in codes), its xs[b * sstride] = s_b and xc[b * sstride]
 *         the kind's per-block term (Q4_0: -8 sum_k q_k; Q4_1: s_b sum_k q_k, the rounded
 *         x's sum; Q8_0: unused, 0); for the 4-bit kinds the codes of each group of 4 k are
 *         stored in the order k0 k2 k1 k3 (QPG_XPOS), the order of a weight lane's bytes (see
 *         qgemv_packed_gemm_simd.c); for Q8_0 in natural order.  Returns 1 when the row must
 *         take the exact float loop instead (a NaN or Inf, or a block so small, max <
 *         QP_TINY, that its scales would leave float32's normal range), else 0.
 *   The driver stores a step of up to QPG_MR rows as a panel: block b of the step's row i at
 *   codes + (b * QPG_MR + i) * 32, its scale and term at xs / xc + b * QPG_MR + i, so that a
 *   tile reads every row's codes at fixed offsets from one pointer.
 *   tile: y[i * ldy + r] = (or += with accumulate) the dots of the panel's rows i < mr (1 <=
 *         mr <= QPG_MR) with one 16-row tile's weights, for r < n (1 <= n <= 16): W the tile's
 *         nb packed blocks, unless the table has `unpacks` and buf is NULL: then W is a buffer
 *         that an earlier call with buf filled.  With `unpacks` (the AVX-512 table) and buf
 *         not NULL the tile also writes buf (QPG_PREP_BYTES(kind) per block): the blocks in
 *         the form it multiplies straight from memory (codes widened to a byte per lane,
 *         int16 pairs for Q8_0; scales and minimums as float32), so that a tile's later steps
 *         of rows skip the unpacking.  A tile may compute (not store) up to QPG_MQ - 1 panel
 *         rows past mr: the driver keeps them zero. */
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

/* bytes of one block of a tile's unpacked buffer: 16 float32 scales and 16 minimums, then 32
 * codes per lane as bytes (4-bit kinds) or int16 (Q8_0, no minimums) */
#define QPG_PREP_BYTES(kind) ((kind) == DL_Q8_0 ? 64 + 1024 : 128 + 512)

typedef void (*qpg_tile_fn)(int kind, int mr, size_t nb, const void *xq, const float *xs,
                            const float *xc, const uint8_t *W, uint8_t *buf, float *y,
                            size_t ldy, int n, int accumulate);

typedef struct {
    qpg_tile_fn tile;
    qpg_tile_fn tile_vnni;   /* vpdpbusd / vpdpwssd; NULL outside the AVX-512 table */
    int (*quant_row)(int kind, size_t nb, const float *x, void *q, size_t qstride, float *xs,
                     float *xc, size_t sstride);
    int unpacks;             /* the tiles fill and read the unpacked buffer (see tile) */
} qpgemm_kernels_t;

DL_KERNEL_TABLE(qpgemm_kernels_t, qpgemm_kernels)

void qgemv_packed_gemm_tile_vnni(int kind, int mr, size_t nb, const void *xq, const float *xs,
                                 const float *xc, const uint8_t *W, uint8_t *buf, float *y,
                                 size_t ldy, int n, int accumulate);

#endif
