/* The quantised-product family's per-ISA kernels (qgemv_simd.c, one copy per ISA), reached
 * through qgemv_kernels() (see dispatch.h); the driver is csrc/qgemv.c.  The products write
 * y, or add to it when accumulate is set.
 *   dot_rows:    y[j] = dot(W row j, x) for j < n (rows ldw bytes apart); xsum[b] is the sum of
 *                x over block b
 *   dequant_row: out[k] = the K weights of one row as float32
 *   dot_rows_multi: y[i * ldy + j] = dot(W row j, x row i) for i < M, j < n (x rows ldx
 *                apart): a few rows of x at once, each block expanded once for up to
 *                QG_MROWS of them */
#ifndef DLCORE_QGEMV_KERNELS_H
#define DLCORE_QGEMV_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "dispatch.h"

typedef struct {
    void (*dot_rows)(int kind, size_t n, size_t K, const float *x, const float *xsum,
                     const uint8_t *W, size_t ldw, float *y, int accumulate);
    void (*dequant_row)(int kind, size_t K, const uint8_t *w, float *out);
    void (*dot_rows_multi)(int kind, size_t M, size_t n, size_t K, const float *x, size_t ldx,
                           const uint8_t *W, size_t ldw, float *y, size_t ldy, int accumulate);
} qgemv_kernels_t;

/* Rows of x that dot_rows_multi carries through one pass over a weight row. */
#define QG_MROWS 12

DL_KERNEL_TABLE(qgemv_kernels_t, qgemv_kernels)

#endif
