/* The AMX self-checks (amx_tiles.h): at the first use on a CPU that has AMX, each family's AMX
 * tile multiplies a fixed odd-sized problem on the calling thread (no OpenMP, so a fault
 * caught by amx.c's guard leaves no thread team half entered), through a serial copy of the
 * drivers' blocking: 16-row tiles with an edge of 5 rows, column blocks of 4 and 3 panels
 * (the last one part padding) or 1, K blocks of the AMX length with a tail of partial
 * chunks (and for bf16 an odd K).  The result is compared with a plain C product: int8 sums
 * bit for bit (they are exact on every path), bf16 within tests/test_bf16.py's float32 bound
 * 1e-6 * sum|a w| * max(1, log2(K + 1)) + 1e-6 of the float64 product.  Compiled with the
 * portable flags: the tile instructions are in the tiles it calls. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include "dlcore/bf16.h"
#include "dlcore/qgemm.h"
#include "dlcore/runtime.h"
#include "amx_tiles.h"
#include "bf16_kernels.h"
#include "qgemm_kernels.h"

/* (M, N, K): the first has every edge, the second one panel and a single K block */
static const size_t CASES[2][3] = {{37, 99, 1101}, {5, 13, 67}};

static uint32_t next(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static size_t round16(size_t m) { return (m + 15) / 16 * 16; }

static int check_int8(size_t M, size_t N, size_t K, char *why, size_t len)
{
    const qg_tile_fn tile = qgemm_kernels_for(DL_ISA_AVX512)->tile_amx;
    const size_t Kp = dl_u8s8_kpad(K), lda = Kp + 4, pstride = QG_NR * Kp;
    uint8_t *A = dl_alloc(M * lda);
    int8_t *W = dl_alloc(N * K), *packed = dl_alloc(dl_u8s8_packed_bytes(N, K));
    int32_t *colsum = dl_alloc(N * sizeof(int32_t));
    int32_t *C = dl_alloc(round16(M) * QG_LDC * sizeof(int32_t));
    int rc = -1;
    if (!tile || !A || !W || !packed || !colsum || !C) {
        snprintf(why, len, "int8: no AMX tile or no memory for the check");
        goto done;
    }
    uint32_t s = 12345;
    memset(A, 0, M * lda);      /* zero from K to Kp, as the GEMM requires */
    for (size_t i = 0; i < M; i++)
        for (size_t k = 0; k < K; k++) A[i * lda + k] = (k + i) % 29 == 0 ? 255 : next(&s) & 255;
    for (size_t n = 0; n < N; n++)
        for (size_t k = 0; k < K; k++) W[n * K + k] = (k + n) % 31 == 0 ? -128 : (int8_t)next(&s);
    dl_u8s8_pack(N, K, W, K, packed, colsum);
    rc = 0;
    for (size_t n0 = 0; n0 < N && rc == 0; n0 += QG_LDC) {
        const size_t nc = N - n0 < QG_LDC ? N - n0 : QG_LDC, nv = (nc + QG_NR - 1) / QG_NR;
        for (size_t k0 = 0; k0 < Kp; k0 += QG_KC_AMX) {
            const size_t kc = Kp - k0 < QG_KC_AMX ? Kp - k0 : QG_KC_AMX;
            for (size_t i0 = 0; i0 < M; i0 += QG_MR_AMX)
                tile(M - i0 < QG_MR_AMX ? M - i0 : QG_MR_AMX, nv, kc, A + i0 * lda + k0, lda,
                     packed + n0 / QG_NR * pstride + k0 * QG_NR, pstride, C + i0 * QG_LDC,
                     k0 > 0);
        }
        for (size_t i = 0; i < M && rc == 0; i++)
            for (size_t j = 0; j < nc; j++) {
                int64_t want = 0;
                for (size_t k = 0; k < K; k++)
                    want += (int64_t)A[i * lda + k] * W[(n0 + j) * K + k];
                if (C[i * QG_LDC + j] != want) {
                    snprintf(why, len, "int8 %zux%zux%zu: sum (%zu, %zu) is %ld, exact %ld", M,
                             N, K, i, n0 + j, (long)C[i * QG_LDC + j], (long)want);
                    rc = -1;
                    break;
                }
            }
    }
    dl_amx_tiles_release();
done:
    dl_free(A);
    dl_free(W);
    dl_free(packed);
    dl_free(colsum);
    dl_free(C);
    return rc;
}

static double bf16_value(uint16_t h)
{
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* a bf16 in [-2, 2] (no denormals: AMX reads those as zero) */
static uint16_t bf16_draw(uint32_t *s)
{
    float f = (float)((int32_t)(next(s) & 0xffff) - 32768) / 16384.0f;
    uint32_t b;
    memcpy(&b, &f, 4);
    return (uint16_t)(b >> 16);
}

static int check_bf16(size_t M, size_t N, size_t K, char *why, size_t len)
{
    const bf_tile_fn tile = bf16_kernels_for(DL_ISA_AVX512)->tile_amx;
    const size_t Kp = (K + 1) / 2 * 2, lda = K + 5, pstride = BF_NR * Kp;
    uint16_t *A = dl_alloc(M * lda * 2), *W = dl_alloc(N * K * 2);
    uint16_t *packed = dl_alloc(dl_bf16_packed_elems(N, K) * 2);
    float *C = dl_alloc(round16(M) * BF_LDC * sizeof(float));
    int rc = -1;
    if (!tile || !A || !W || !packed || !C) {
        snprintf(why, len, "bf16: no AMX tile or no memory for the check");
        goto done;
    }
    uint32_t s = 777;
    /* the slack past K holds NaN: a tile that reads past a row's end (even against a zero
     * weight) makes its sums NaN */
    for (size_t i = 0; i < M * lda; i++) A[i] = i % lda < K ? bf16_draw(&s) : 0x7fc0;
    for (size_t i = 0; i < N * K; i++) W[i] = bf16_draw(&s);
    dl_bf16_pack(N, K, W, K, packed);
    rc = 0;
    for (size_t n0 = 0; n0 < N && rc == 0; n0 += BF_LDC) {
        const size_t nc = N - n0 < BF_LDC ? N - n0 : BF_LDC, nv = (nc + BF_NR - 1) / BF_NR;
        for (size_t k0 = 0; k0 < K; k0 += BF_KC_AMX) {
            const size_t kc = K - k0 < BF_KC_AMX ? K - k0 : BF_KC_AMX;
            for (size_t i0 = 0; i0 < M; i0 += BF_MR_AMX)
                tile(M - i0 < BF_MR_AMX ? M - i0 : BF_MR_AMX, nv, kc, A + i0 * lda + k0, lda,
                     packed + n0 / BF_NR * pstride + k0 * BF_NR, pstride, C + i0 * BF_LDC,
                     k0 > 0);
        }
        for (size_t i = 0; i < M && rc == 0; i++)
            for (size_t j = 0; j < nc; j++) {
                double want = 0.0, mag = 0.0;
                for (size_t k = 0; k < K; k++) {
                    double p = bf16_value(A[i * lda + k]) * bf16_value(W[(n0 + j) * K + k]);
                    want += p;
                    mag += fabs(p);
                }
                const double got = C[i * BF_LDC + j];
                const double bound = 1e-6 * mag * fmax(1.0, log2((double)K + 1.0)) + 1e-6;
                if (!(fabs(got - want) <= bound)) {
                    snprintf(why, len, "bf16 %zux%zux%zu: sum (%zu, %zu) is %.9g, float64 %.9g "
                             "(bound %.3g)", M, N, K, i, n0 + j, got, want, bound);
                    rc = -1;
                    break;
                }
            }
    }
    dl_amx_tiles_release();
done:
    dl_free(A);
    dl_free(W);
    dl_free(packed);
    dl_free(C);
    return rc;
}

int dl_amx_selfcheck_int8(char *why, size_t len)
{
    for (int c = 0; c < 2; c++)
        if (check_int8(CASES[c][0], CASES[c][1], CASES[c][2], why, len) != 0) return -1;
    return 0;
}

int dl_amx_selfcheck_bf16(char *why, size_t len)
{
    for (int c = 0; c < 2; c++)
        if (check_bf16(CASES[c][0], CASES[c][1], CASES[c][2], why, len) != 0) return -1;
    return 0;
}
