/* Matrix-vector kernels for GEMM's direct path (M == 1 or N == 1: batch-1 inference).
 *
 * These shapes are memory-bound (each element of the matrix is used once), so packing would
 * only add a second pass over it: the matrix is streamed once, in place, and the vector is what
 * stays in cache.  Written once against the SIMD vocabulary (simd.h) and compiled per ISA.
 * They produce raw sums; the driver applies alpha, beta, bias and the activation.
 */
#include "simd.h"
#include "gemm_kernels.h"

/* y[j] = sum_k x[k] * W[j*ldw + k]: four rows of W at a time share each load of x, with two
 * accumulators per row so eight independent FMA chains hide the FMA latency. */
void DL_ISA_FN(dl_sgemv_dots)(size_t n, size_t K, const float *x, const float *W, ptrdiff_t ldw,
                              float *y)
{
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        /* eight rows share each load of x: eight independent FMA chains */
        const float *w = W + j * ldw;
        vf s[8];
        for (int r = 0; r < 8; r++) s[r] = vf_zero();
        size_t k = 0;
        for (; k + DL_VF_LEN <= K; k += DL_VF_LEN) {
            vf xa = vf_loadu(x + k);
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++) s[r] = vf_fma(xa, vf_loadu(w + r * ldw + k), s[r]);
        }
        for (int r = 0; r < 8; r++) {
            float acc = vf_reduce_add(s[r]);
            for (size_t kk = k; kk < K; kk++) acc += x[kk] * w[r * ldw + kk];
            y[j + r] = acc;
        }
    }
    for (; j + 4 <= n; j += 4) {
        const float *w0 = W + j * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
        vf s0 = vf_zero(), s1 = vf_zero(), s2 = vf_zero(), s3 = vf_zero();
        vf t0 = vf_zero(), t1 = vf_zero(), t2 = vf_zero(), t3 = vf_zero();
        size_t k = 0;
        for (; k + 2 * DL_VF_LEN <= K; k += 2 * DL_VF_LEN) {
            vf xa = vf_loadu(x + k), xb = vf_loadu(x + k + DL_VF_LEN);
            s0 = vf_fma(xa, vf_loadu(w0 + k), s0);
            s1 = vf_fma(xa, vf_loadu(w1 + k), s1);
            s2 = vf_fma(xa, vf_loadu(w2 + k), s2);
            s3 = vf_fma(xa, vf_loadu(w3 + k), s3);
            t0 = vf_fma(xb, vf_loadu(w0 + k + DL_VF_LEN), t0);
            t1 = vf_fma(xb, vf_loadu(w1 + k + DL_VF_LEN), t1);
            t2 = vf_fma(xb, vf_loadu(w2 + k + DL_VF_LEN), t2);
            t3 = vf_fma(xb, vf_loadu(w3 + k + DL_VF_LEN), t3);
        }
        for (; k + DL_VF_LEN <= K; k += DL_VF_LEN) {
            vf xa = vf_loadu(x + k);
            s0 = vf_fma(xa, vf_loadu(w0 + k), s0);
            s1 = vf_fma(xa, vf_loadu(w1 + k), s1);
            s2 = vf_fma(xa, vf_loadu(w2 + k), s2);
            s3 = vf_fma(xa, vf_loadu(w3 + k), s3);
        }
        float r0 = vf_reduce_add(vf_add(s0, t0)), r1 = vf_reduce_add(vf_add(s1, t1));
        float r2 = vf_reduce_add(vf_add(s2, t2)), r3 = vf_reduce_add(vf_add(s3, t3));
        for (; k < K; k++) {
            r0 += x[k] * w0[k];
            r1 += x[k] * w1[k];
            r2 += x[k] * w2[k];
            r3 += x[k] * w3[k];
        }
        y[j] = r0;
        y[j + 1] = r1;
        y[j + 2] = r2;
        y[j + 3] = r3;
    }
    for (; j < n; j++) {
        const float *w0 = W + j * ldw;
        vf s0 = vf_zero();
        size_t k = 0;
        for (; k + DL_VF_LEN <= K; k += DL_VF_LEN) s0 = vf_fma(vf_loadu(x + k), vf_loadu(w0 + k), s0);
        float r0 = vf_reduce_add(s0);
        for (; k < K; k++) r0 += x[k] * w0[k];
        y[j] = r0;
    }
}

/* y[j] = sum_k x[k] * W[k*ldw + j]: a strip of four vectors of y stays in registers while the
 * k loop walks down W, so W is read exactly once. */
void DL_ISA_FN(dl_sgemv_axpy)(size_t n, size_t K, const float *x, const float *W, ptrdiff_t ldw,
                              float *y)
{
    size_t j = 0;
    for (; j + 4 * DL_VF_LEN <= n; j += 4 * DL_VF_LEN) {
        vf s0 = vf_zero(), s1 = vf_zero(), s2 = vf_zero(), s3 = vf_zero();
        const float *w = W + j;
        for (size_t k = 0; k < K; k++, w += ldw) {
            vf xk = vf_set1(x[k]);
            s0 = vf_fma(xk, vf_loadu(w), s0);
            s1 = vf_fma(xk, vf_loadu(w + DL_VF_LEN), s1);
            s2 = vf_fma(xk, vf_loadu(w + 2 * DL_VF_LEN), s2);
            s3 = vf_fma(xk, vf_loadu(w + 3 * DL_VF_LEN), s3);
        }
        vf_storeu(y + j, s0);
        vf_storeu(y + j + DL_VF_LEN, s1);
        vf_storeu(y + j + 2 * DL_VF_LEN, s2);
        vf_storeu(y + j + 3 * DL_VF_LEN, s3);
    }
    for (; j + DL_VF_LEN <= n; j += DL_VF_LEN) {
        vf s0 = vf_zero();
        const float *w = W + j;
        for (size_t k = 0; k < K; k++, w += ldw) s0 = vf_fma(vf_set1(x[k]), vf_loadu(w), s0);
        vf_storeu(y + j, s0);
    }
    for (; j < n; j++) {
        float s = 0.0f;
        for (size_t k = 0; k < K; k++) s += x[k] * W[k * ldw + j];
        y[j] = s;
    }
}

/* Rows [0, R) of Y: Y[i*ldy + j] = sum_k X[i*ldx + k] * W[j*ldw + k], j < n.  R is a constant
 * at each call site (2, 3 or 4), so the accumulators stay in registers. */
static inline __attribute__((always_inline)) void
small_dots(const int R, size_t n, size_t K, const float *X, ptrdiff_t ldx, const float *W,
           ptrdiff_t ldw, float *Y, ptrdiff_t ldy)
{
    size_t j = 0;
    for (; j < n; j += 2) {
        /* two rows of W per pass (the second is the first again at an odd end: computed,
         * not stored) */
        const float *w0 = W + j * ldw, *w1 = j + 1 < n ? w0 + ldw : w0;
        vf s[4][2];
        for (int i = 0; i < R; i++) s[i][0] = s[i][1] = vf_zero();
        size_t k = 0;
        for (; k + DL_VF_LEN <= K; k += DL_VF_LEN) {
            vf a = vf_loadu(w0 + k), b = vf_loadu(w1 + k);
            for (int i = 0; i < R; i++) {
                vf x = vf_loadu(X + i * ldx + k);
                s[i][0] = vf_fma(x, a, s[i][0]);
                s[i][1] = vf_fma(x, b, s[i][1]);
            }
        }
        for (int i = 0; i < R; i++) {
            const float *x = X + i * ldx;
            float r0 = vf_reduce_add(s[i][0]), r1 = vf_reduce_add(s[i][1]);
            for (size_t kk = k; kk < K; kk++) {
                r0 += x[kk] * w0[kk];
                r1 += x[kk] * w1[kk];
            }
            Y[i * ldy + j] = r0;
            if (j + 1 < n) Y[i * ldy + j + 1] = r1;
        }
    }
}

/* Y = X W^T for a few rows of X (m <= 4: small-batch inference through a Linear layer): each
 * row of W is read once for all m rows of X instead of once per row. */
void DL_ISA_FN(dl_sgemm_small_dots)(size_t m, size_t n, size_t K, const float *X,
                                    ptrdiff_t ldx, const float *W, ptrdiff_t ldw, float *Y,
                                    ptrdiff_t ldy)
{
    if (m >= 4) small_dots(4, n, K, X, ldx, W, ldw, Y, ldy);
    else if (m == 3) small_dots(3, n, K, X, ldx, W, ldw, Y, ldy);
    else if (m == 2) small_dots(2, n, K, X, ldx, W, ldw, Y, ldy);
    else small_dots(1, n, K, X, ldx, W, ldw, Y, ldy);
}
