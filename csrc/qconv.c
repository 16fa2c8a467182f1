/* Driver of the static int8 CNN kernels (dlcore/qconv.h): shape checks, im2col of NHWC u8
 * rows for the u8s8 GEMM, and the OpenMP loops over output rows of the direct kernels. */
#include <string.h>
#include "dlcore/qconv.h"
#include "dlcore/qgemm.h"
#include "dlcore/runtime.h"
#include "qconv_kernels.h"

/* output bytes per thread below which a loop stays on one thread */
#define QC_GRAIN ((size_t)1 << 15)
/* im2col bytes per thread and GEMM call: the rows stay in L2 (512 KiB on Zen 3) between
 * im2col and the product; the whole matrix at once (1.8 MB for a 56x56x64 3x3 layer) went
 * through L3 */
#define QC_CHUNK_BYTES ((size_t)160 << 10)

static int shape_ok(const dl_qconv_shape_t *s)
{
    /* the kernels test every tap against the input's bounds, so any OH, OW is safe */
    return s->KH && s->KW && s->SH && s->SW && s->DH && s->DW;
}

static int qparams_ok(const dl_qparams_t *q)
{
    return q->x_scale > 0.0f && q->y_scale > 0.0f && q->x_zp >= 0 && q->x_zp <= 255
           && q->y_zp >= 0 && q->y_zp <= 255;
}

/* n bytes from src to dst; runs under 16 bytes (a first layer's 3 channels: 3 to 21 bytes a
 * window row) by two overlapping fixed-size moves the compiler inlines, where a memcpy call
 * cost more than the copy (im2col took as long as the GEMM in a 3-channel stem conv) */
static inline void copy_run(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n >= 16) {
        memcpy(dst, src, n);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + n - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + n - 4, &b, 4);
    } else {
        for (size_t i = 0; i < n; i++) dst[i] = src[i];
    }
}

/* rows [r0, r1) of the (OH*OW, Kp) im2col matrix of image x, group channels [c0, c0 + cg),
 * into A, whose first row is row a0 */
static void im2col_rows(const dl_qconv_shape_t *s, const uint8_t *x, size_t c0, size_t cg,
                        uint8_t zp, size_t Kp, size_t r0, size_t r1, size_t a0, uint8_t *A)
{
    const size_t K = s->KH * s->KW * cg;
    const int run = s->DW == 1 && cg == s->C;
    for (size_t r = r0; r < r1; r++) {
        const size_t oh = r / s->OW, ow = r % s->OW;
        uint8_t *row = A + (r - a0) * Kp;
        for (size_t kh = 0; kh < s->KH; kh++) {
            const ptrdiff_t ih = (ptrdiff_t)(oh * s->SH + kh * s->DH) - (ptrdiff_t)s->PT;
            uint8_t *dst = row + kh * s->KW * cg;
            if (ih < 0 || ih >= (ptrdiff_t)s->H) {
                memset(dst, zp, s->KW * cg);
                continue;
            }
            const ptrdiff_t iw0 = (ptrdiff_t)(ow * s->SW) - (ptrdiff_t)s->PL;
            if (run && iw0 >= 0 && iw0 + (ptrdiff_t)s->KW <= (ptrdiff_t)s->W) {
                /* the window row's taps are one run of KW C bytes of x */
                copy_run(dst, x + ((size_t)ih * s->W + (size_t)iw0) * s->C, s->KW * cg);
                continue;
            }
            for (size_t kw = 0; kw < s->KW; kw++) {
                const ptrdiff_t iw = (ptrdiff_t)(ow * s->SW + kw * s->DW) - (ptrdiff_t)s->PL;
                if (iw < 0 || iw >= (ptrdiff_t)s->W) memset(dst + kw * cg, zp, cg);
                else copy_run(dst + kw * cg, x + ((size_t)ih * s->W + (size_t)iw) * s->C + c0, cg);
            }
        }
        for (size_t k = K; k < Kp; k++) row[k] = 0;      /* 0..3 bytes */
    }
}

int dl_qconv2d_u8(const dl_qconv_shape_t *s, const uint8_t *x, const int8_t *packed,
                  const int32_t *colsum, const float *w_scale, const float *bias,
                  const dl_qparams_t *q, uint8_t *y)
{
    if (!shape_ok(s) || !qparams_ok(q) || !s->groups || s->C % s->groups
        || s->OC % s->groups)
        return -1;
    const size_t G = s->groups, cg = s->C / G, og = s->OC / G;
    const size_t K = s->KH * s->KW * cg, Kp = dl_u8s8_kpad(K), M = s->OH * s->OW;
    if (K > DL_QGEMM_MAX_K) return -1;
    if (!s->N || !M || !s->OC) return 0;
    const size_t pbytes = dl_u8s8_packed_bytes(og, K);
    const int act = q->relu ? DL_QACT_RELU : DL_QACT_NONE;
    const int direct = G == 1 && s->KH == 1 && s->KW == 1 && s->SH == 1 && s->SW == 1
                       && s->PT == 0 && s->PL == 0 && s->C % 4 == 0;
    /* im2col rows per GEMM call: about QC_CHUNK_BYTES of them per thread (whole 96-row
     * blocks), all of M where that is less */
    const int team = dl_threads_for(M * Kp, QC_GRAIN);
    size_t chunk = Kp ? QC_CHUNK_BYTES / Kp / 96 * 96 : M;   /* Kp 0: C = 0, no bytes */
    chunk = (chunk ? chunk : 96) * (size_t)(team > 0 ? team : 1);
    chunk = chunk < M ? chunk : M;
    /* one GEMM over the whole batch when x is read in place, else one per image chunk */
    const size_t rows = direct ? s->N * M : chunk;
    float *a_scale = dl_alloc(rows * sizeof(float));
    int32_t *a_zp = dl_alloc(rows * sizeof(int32_t));
    uint8_t *A = direct ? NULL : dl_alloc(chunk * Kp);
    uint8_t *tmp = G > 1 ? dl_alloc(chunk * og) : NULL;
    int rc = 0;
    if (!a_scale || !a_zp || (!direct && !A) || (G > 1 && !tmp)) {
        rc = -2;
        goto done;
    }
    for (size_t i = 0; i < rows; i++) {
        a_scale[i] = q->x_scale;
        a_zp[i] = q->x_zp;
    }
    if (direct) {
        rc = dl_u8s8_gemm(rows, s->OC, K, x, s->C, packed, colsum, a_scale, a_zp, w_scale,
                          bias, act, NULL, 0, y, q->y_scale, q->y_zp, NULL, q->x_u7,
                          q->y_u7);
        goto done;
    }
    for (size_t n = 0; n < s->N && rc == 0; n++) {
        const uint8_t *xn = x + n * s->H * s->W * s->C;
        uint8_t *yn = y + n * M * s->OC;
        for (size_t g = 0; g < G && rc == 0; g++) {
            /* a chunk of rows at a time, so that the GEMM reads its im2col rows from L2 */
            for (size_t m0 = 0; m0 < M && rc == 0; m0 += chunk) {
                const size_t m = M - m0 < chunk ? M - m0 : chunk;
                const int nt = dl_threads_for(m * Kp, QC_GRAIN);
                #pragma omp parallel for num_threads(nt) schedule(static)
                for (int t = 0; t < nt; t++) {
                    const size_t r0 = m0 + m * (size_t)t / (size_t)nt;
                    const size_t r1 = m0 + m * (size_t)(t + 1) / (size_t)nt;
                    im2col_rows(s, xn, g * cg, cg, (uint8_t)q->x_zp, Kp, r0, r1, m0, A);
                }
                uint8_t *dst = G > 1 ? tmp : yn + m0 * s->OC;
                rc = dl_u8s8_gemm(m, og, K, A, Kp, packed + g * pbytes, colsum + g * og, a_scale,
                                  a_zp, w_scale + g * og, bias ? bias + g * og : NULL, act, NULL,
                                  0, dst, q->y_scale, q->y_zp, NULL, q->x_u7, q->y_u7);
                if (G > 1)
                    for (size_t r = 0; r < m; r++)
                        memcpy(yn + (m0 + r) * s->OC + g * og, tmp + r * og, og);
            }
        }
    }
done:
    dl_free(a_scale);
    dl_free(a_zp);
    dl_free(A);
    dl_free(tmp);
    return rc;
}

/* y's output rows (n, oh) over threads, each from `row` (x_n: image n of x, NHWC) */
typedef void (*qrow_fn)(const void *ctx, const dl_qconv_shape_t *s, const uint8_t *x_n,
                        size_t oh, uint8_t *y_row);

static void each_output_row(const dl_qconv_shape_t *s, const uint8_t *x, uint8_t *y,
                            qrow_fn row, const void *ctx)
{
    const size_t rows = s->N * s->OH, row_bytes = s->OW * s->C;
    const int nt = dl_threads_for(rows * row_bytes * s->KH * s->KW, QC_GRAIN * 8);
    #pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const size_t n = r / s->OH, oh = r % s->OH;
        row(ctx, s, x + n * s->H * s->W * s->C, oh, y + r * row_bytes);
    }
}

typedef struct {
    const qconv_kernels_t *kt;
    const int8_t *w;
    const float *w_scale, *bias;
    const dl_qparams_t *q;
} dw_args;

static void dw_row(const void *ctx, const dl_qconv_shape_t *s, const uint8_t *x_n, size_t oh,
                   uint8_t *y_row)
{
    const dw_args *a = ctx;
    a->kt->dw_row(s, x_n, a->w, a->w_scale, a->bias, a->q, oh, y_row);
}

static void max_row(const void *ctx, const dl_qconv_shape_t *s, const uint8_t *x_n, size_t oh,
                    uint8_t *y_row)
{
    ((const qconv_kernels_t *)ctx)->max_row(s, x_n, oh, y_row);
}

int dl_qconv2d_dw_u8(const dl_qconv_shape_t *s, const uint8_t *x, const int8_t *w,
                     const float *w_scale, const float *bias, const dl_qparams_t *q,
                     uint8_t *y)
{
    if (!shape_ok(s) || !qparams_ok(q) || s->groups != s->C || s->OC != s->C) return -1;
    const dw_args a = {qconv_kernels(), w, w_scale, bias, q};
    each_output_row(s, x, y, dw_row, &a);
    return 0;
}

int dl_qadd_u8(size_t n, const uint8_t *a, const uint8_t *b, float b_scale, int32_t b_zp,
               const dl_qparams_t *q, uint8_t *y)
{
    if (!qparams_ok(q) || !(b_scale > 0.0f) || b_zp < 0 || b_zp > 255) return -1;
    const qconv_kernels_t *kt = qconv_kernels();
    const size_t chunk = 1 << 14, nc = (n + chunk - 1) / chunk;
    const int nt = dl_threads_for(n, QC_GRAIN * 4);
    #pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t i = 0; i < nc; i++) {
        const size_t lo = i * chunk, len = n - lo < chunk ? n - lo : chunk;
        kt->add(len, a + lo, b + lo, b_scale, b_zp, q, y + lo);
    }
    return 0;
}

int dl_qmaxpool2d_u8(const dl_qconv_shape_t *s, const uint8_t *x, uint8_t *y)
{
    if (!shape_ok(s) || s->PT * 2 > s->KH || s->PL * 2 > s->KW) return -1;
    each_output_row(s, x, y, max_row, qconv_kernels());
    return 0;
}
