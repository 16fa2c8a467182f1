/* The int8 GEMM family's per-ISA kernels (qgemm_simd.c, one copy per ISA; the VNNI tile in
 * qgemm_avx512vnni.c), reached through qgemm_kernels() (dispatch.h); the driver is qgemm.c.
 *   tile:      C (mr, 16*nv; row stride QG_LDC) (+)= A rows x packed panels, integer sums
 *              over Kp (a multiple of 4; one K block); mr <= mr_max, nv <= QG_NV; panels
 *              pstride bytes apart; accumulate: add to C, else overwrite it
 *   tile_vnni: the same with vpdpbusd, NULL outside the AVX-512 table; used only when the CPU
 *              reports AVX512-VNNI
 *   tile_u7:   the same for activations expected in 0..127 (reduce_range): vpmaddubsw on rows
 *              whose codes it checks are all <= 127, else the tile above (qgemm_tile_u7.h);
 *              rows <= mr_u7; NULL where the table has no such tile (generic, AVX-512)
 *   tile_amx:  the same on AMX tiles (qgemm_amx.c; mr <= 16, and C must have room for 16
 *              rows), NULL outside the AVX-512 table; used only after dl_amx_ready(DL_AMX_INT8)
 *   epilogue:  one output row from its integer sums (see dlcore/qgemm.h); u8 codes clamped to
 *              out_max (255, or 127 for 7-bit outputs)
 *   epilogue_u8: the u8 epilogue of a call whose rows share one activation scale and zero
 *              point, its per-column constants folded (qgemm.c; see qgemm_simd.c)
 *   minmax:    min and max of n floats, and whether any is NaN or Inf
 *   quantize:  q[i] = clamp(rint(x[i] * inv_scale) + zp, 0, qmax), qmax 255 or 127 */
#ifndef DLCORE_QGEMM_KERNELS_H
#define DLCORE_QGEMM_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "dispatch.h"

#define QG_NR 16            /* columns per packed panel */
#define QG_NV 4             /* panels per tile */
#define QG_LDC (QG_NR * QG_NV)
#define QG_MR_VNNI 6
#define QG_MR_AMX 16
/* multiply-adds per thread below which a second thread costs more than it saves */
#define QG_GRAIN ((size_t)1 << 18)
/* rows per row block (a multiple of every tile height); its integer sums (MC x 64 x 4 bytes)
 * live on the thread's stack */
#define QG_MC 96
/* k per block: a block of one column group's packed weights (64 x KC bytes) stays in L1 while
 * every row tile of the row block passes over it */
#define QG_KC 256
/* k per block on AMX: 16 chunks of 64, so a tile's sums are loaded and stored once per 16
 * tdpbusd per panel (a guess, not measured on AMX hardware) */
#define QG_KC_AMX 1024

typedef void (*qg_tile_fn)(size_t mr, size_t nv, size_t Kp, const uint8_t *A, size_t lda,
                           const int8_t *B, size_t pstride, int32_t *C, int accumulate);

typedef struct {
    qg_tile_fn tile;
    qg_tile_fn tile_vnni;
    qg_tile_fn tile_amx;
    qg_tile_fn tile_u7;
    size_t mr_max;
    size_t mr_u7;
    void (*epilogue)(size_t n, const int32_t *acc, float a_scale, int32_t a_zp,
                     const float *w_scale, const int32_t *colsum, const float *bias, int act,
                     float *out, uint8_t *out_u8, float inv_out_scale, int32_t out_zp,
                     int32_t out_max);
    void (*epilogue_u8)(size_t n, const int32_t *acc, const int32_t *zcs, const float *fs,
                        const float *fo, float floor, int32_t out_max, uint8_t *out);
    void (*minmax)(size_t n, const float *x, float *mn, float *mx, int *nonfinite);
    void (*quantize)(size_t n, const float *x, float inv_scale, int32_t zp, float qmax,
                     uint8_t *q);
} qgemm_kernels_t;

DL_KERNEL_TABLE(qgemm_kernels_t, qgemm_kernels)

void qgemm_tile_vnni(size_t mr, size_t nv, size_t Kp, const uint8_t *A, size_t lda,
                     const int8_t *B, size_t pstride, int32_t *C, int accumulate);
void qgemm_tile_amx(size_t mr, size_t nv, size_t Kp, const uint8_t *A, size_t lda,
                    const int8_t *B, size_t pstride, int32_t *C, int accumulate);

/* the vector tile the CPU runs best (the VNNI one where it has AVX512-VNNI, else the 7-bit
 * one when a_u7 says the codes should be in 0..127 and the table has it) and its height;
 * never the AMX one (dl_u8s8_gemm chooses that itself, with its own blocking) */
qg_tile_fn qgemm_pick_tile(const qgemm_kernels_t *kt, int a_u7, size_t *mr);
/* one row of K floats to codes 0..qmax (Kp = dl_u8s8_kpad(K) bytes, zero padded) with its own
 * scale and zero point, as dl_quantize_rows_u8 does per row; no threads */
void qgemm_quantize_row(const qgemm_kernels_t *kt, size_t K, const float *x, int qmax,
                        uint8_t *q, float *scale, int32_t *zp);

#endif
