/* Winograd convolution's per-ISA transforms (winograd_simd.c, one copy per ISA), reached
 * through winograd_kernels() (see dispatch.h).  F(m x m, 3 x 3) with a = m + 2; every function
 * works on `n` lanes at once (tiles, or output channels for the filter), a vector at a time.
 *
 *   input   seg[(i*m + r)*ldr + u] holds input row i of a tile row, column m*u + r (the
 *           strip de-interleaved by column residue, so tile l's column j is lane l of
 *           seg[(i*m + j%m)*ldr + j/m + l]); writes V = B^T d B as v[xi*ldx + l], xi = i*a + j,
 *           for l < n.  ldr >= roundup(n, 16) + 1 (whole vectors are loaded).
 *   output  reads M (a x a per lane) from mm[xi*ldx + l] (whole vectors: lanes past n are
 *           read and dropped) and writes Y = A^T M A + bias as o[(i*m + j)*ldo + l] for whole
 *           vectors, ldo >= roundup(n, 16)
 *   all_finite  1 when x[0..n) holds no NaN and no infinity
 *   filter  reads the 9 taps g[t*ldg + l] (t = 3r + s, whole vectors) and writes
 *           U = G g G^T as u[xi*ldx + l] for l < n
 */
#ifndef DLCORE_WINOGRAD_KERNELS_H
#define DLCORE_WINOGRAD_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "dispatch.h"

typedef struct {
    void (*input)(const float *seg, int64_t ldr, int64_t n, float *v, int64_t ldx);
    void (*output)(const float *mm, int64_t ldx, int64_t n, float bias, float *o, int64_t ldo);
    void (*filter)(const float *g, int64_t ldg, int64_t n, float *u, int64_t ldx);
} winograd_tile_kernels;

typedef struct {
    winograd_tile_kernels f2, f4;   /* F(2x2, 3x3) and F(4x4, 3x3) */
    int (*all_finite)(const float *x, size_t n);   /* 1 when no x[i] is NaN or +-inf */
} winograd_kernels_t;

DL_KERNEL_TABLE(winograd_kernels_t, winograd_kernels)

#endif
