/* Winograd convolution's per-ISA transforms (winograd_simd.c, one copy per ISA), reached
 * through winograd_kernels() (see dispatch.h).  F(m x m, 3 x 3) with a = m + 2; every function
 * works on `n` lanes at once (tiles, or output channels for the filter), a vector at a time.
 *
 *   input   the n tiles of a run in one channel plane (H x W, rows of W): tile l's a x a
 *           window starts at row row0, column col0 + m*l (reads outside the plane are zero);
 *           writes V = B^T d B as v[xi*ldx + l], xi = i*a + j, for l < n, in whole vectors:
 *           lanes n .. (n rounded up to the vector length) - 1 of each slice are written too
 *           (unmasked stores; masked ones cost more than the transform's arithmetic on
 *           AVX2), so the caller leaves that room and writes runs in ascending order, each
 *           run's spill overwritten by the next (winograd_tiles.h)
 *   output  reads M (a x a per lane) from mm[xi*ldx + l] (whole vectors: lanes past n are
 *           read and dropped) and writes Y = A^T M A + bias for the run: out[i*ldo + q] for
 *           i < rows, q < cols (out is the run's first output pixel; rows <= m, cols <= m*n)
 *   all_finite  1 when x[0..n) holds no NaN and no infinity
 *   filter  reads the 9 taps g[t*ldg + l] (t = 3r + s, whole vectors) and writes
 *           U = G g G^T as u[xi*ldx + l] for l < n
 * and for the weight gradient (winograd_wgrad.c), the adjoints of output and filter:
 *   grad_out  the n m x m tiles of a run in one output-gradient plane (OH x OW): tile l's
 *           window starts at row row0, column col0 + m*l (reads outside the plane are zero);
 *           writes E = A e A^T as e[xi*ldx + l] for l < n, in whole vectors as input does
 *   filter_grad  reads M (a x a per lane) from mm[xi*ldx + l] (whole vectors) and writes the
 *           3 x 3 taps G^T M G as g[t*ldg + l], t = 3r + s, for l < n
 */
#ifndef DLCORE_WINOGRAD_KERNELS_H
#define DLCORE_WINOGRAD_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "dispatch.h"

typedef struct {
    void (*input)(const float *plane, int64_t H, int64_t W, int64_t row0, int64_t col0,
                  int64_t n, float *v, int64_t ldx);
    void (*output)(const float *mm, int64_t ldx, int64_t n, float bias, float *out,
                   int64_t ldo, int64_t rows, int64_t cols);
    void (*filter)(const float *g, int64_t ldg, int64_t n, float *u, int64_t ldx);
    void (*grad_out)(const float *plane, int64_t OH, int64_t OW, int64_t row0, int64_t col0,
                     int64_t n, float *e, int64_t ldx);
    void (*filter_grad)(const float *mm, int64_t ldx, int64_t n, float *g, int64_t ldg);
} winograd_tile_kernels;

typedef struct {
    winograd_tile_kernels f2, f4;   /* F(2x2, 3x3) and F(4x4, 3x3) */
    int (*all_finite)(const float *x, size_t n);   /* 1 when no x[i] is NaN or +-inf */
} winograd_kernels_t;

DL_KERNEL_TABLE(winograd_kernels_t, winograd_kernels)

#endif
