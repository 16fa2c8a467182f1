/* The AMX model (emu.h), the engine's run-time stubs the two families need, and the tests:
 * the self-checks, the AMX GEMMs against exact / float64 products and against the vector
 * path on odd sizes at 1 and 2 threads, every epilogue, every tile released after each call,
 * and the fallback when a thread's tile configuration does not read back.  Prints one line
 * per group and "ALL OK" at the end; any failure exits non-zero with the reason. */
#include "emu.h"
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dlcore/amx.h"
#include "dlcore/bf16.h"
#include "dlcore/qgemm.h"
#include "dlcore/runtime.h"
#include "../../csrc/tilecfg_amx.c"
#include "../../csrc/amx_selfcheck.c"

int emu_allow_amx = 1, emu_threads = 1, emu_corrupt_readback = 0, emu_live = 0,
    emu_failures = 0;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* ---- the model ------------------------------------------------------------------------- */
typedef struct {
    int configured;
    uint8_t raw[64];
    int rows[8], colsb[8];
    uint8_t data[8][16][64];
} emu_state_t;

static __thread emu_state_t E;

void emu_loadconfig(const void *cfg)
{
    const uint8_t *p = cfg;
    if (p[0] != 1) die("ldtilecfg: palette %d (only 1 is used)", p[0]);
    if (p[1] != 0) die("ldtilecfg: start_row %d", p[1]);
    for (int i = 2; i < 16; i++)
        if (p[i]) die("ldtilecfg: reserved byte %d is %d", i, p[i]);
    for (int t = 0; t < 16; t++) {
        int colsb = p[16 + 2 * t] | p[17 + 2 * t] << 8, rows = p[48 + t];
        if (t >= 8 && (colsb || rows)) die("ldtilecfg: tile %d beyond palette 1", t);
        if (t < 8) {
            if (rows > 16 || colsb > 64) die("ldtilecfg: tile %d is %dx%d", t, rows, colsb);
            if ((rows == 0) != (colsb == 0)) die("ldtilecfg: tile %d half configured", t);
            E.rows[t] = rows;
            E.colsb[t] = colsb;
        }
    }
    if (!E.configured) __atomic_add_fetch(&emu_live, 1, __ATOMIC_SEQ_CST);
    E.configured = 1;
    memcpy(E.raw, p, 64);
    memset(E.data, 0, sizeof E.data);
}

void emu_storeconfig(void *cfg)
{
    if (E.configured) memcpy(cfg, E.raw, 64);
    else memset(cfg, 0, 64);
    if (emu_corrupt_readback) ((uint8_t *)cfg)[49] ^= 1;
}

void emu_release(void)
{
    if (E.configured) __atomic_sub_fetch(&emu_live, 1, __ATOMIC_SEQ_CST);
    E.configured = 0;
    memset(E.rows, 0, sizeof E.rows);
    memset(E.colsb, 0, sizeof E.colsb);
}

static void need(int t)
{
    if (!E.configured) die("tile instruction on tmm%d without a configuration (#UD)", t);
    if (t < 0 || t > 7 || E.rows[t] == 0) die("tmm%d is not configured", t);
}

void emu_loadd(int t, const void *base, long stride)
{
    need(t);
    memset(E.data[t], 0, sizeof E.data[t]);
    for (int r = 0; r < E.rows[t]; r++)
        memcpy(E.data[t][r], (const uint8_t *)base + r * stride, (size_t)E.colsb[t]);
}

void emu_stored(int t, void *base, long stride)
{
    need(t);
    for (int r = 0; r < E.rows[t]; r++)
        memcpy((uint8_t *)base + r * stride, E.data[t][r], (size_t)E.colsb[t]);
}

void emu_zero(int t)
{
    need(t);
    memset(E.data[t], 0, sizeof E.data[t]);
}

static void shapes(int c, int a, int b)
{
    need(c);
    need(a);
    need(b);
    if (c == a || c == b || a == b) die("dot product on tmm%d, tmm%d, tmm%d", c, a, b);
    if (E.rows[c] != E.rows[a] || E.colsb[c] != E.colsb[b] || E.colsb[a] != 4 * E.rows[b])
        die("dot product shapes: dst %dx%d, a %dx%d, b %dx%d", E.rows[c], E.colsb[c], E.rows[a],
            E.colsb[a], E.rows[b], E.colsb[b]);
}

void emu_dpbusd(int c, int a, int b)
{
    shapes(c, a, b);
    for (int m = 0; m < E.rows[c]; m++)
        for (int n = 0; n < E.colsb[c] / 4; n++) {
            uint32_t acc;
            memcpy(&acc, &E.data[c][m][4 * n], 4);
            for (int k = 0; k < E.colsb[a] / 4; k++)
                for (int i = 0; i < 4; i++)
                    acc += (uint32_t)((int32_t)E.data[a][m][4 * k + i]
                                      * (int32_t)(int8_t)E.data[b][k][4 * n + i]);
            memcpy(&E.data[c][m][4 * n], &acc, 4);
        }
}

static float bf(const uint8_t *p)
{
    uint32_t u = (uint32_t)(p[0] | p[1] << 8) << 16;
    if ((u & 0x7f800000u) == 0) u &= 0x80000000u;       /* denormal in: zero */
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float ftz(float f) { return fabsf(f) < 1.17549435e-38f ? copysignf(0.0f, f) : f; }

void emu_dpbf16ps(int c, int a, int b)
{
    shapes(c, a, b);
    for (int m = 0; m < E.rows[c]; m++)
        for (int n = 0; n < E.colsb[c] / 4; n++) {
            float acc;
            memcpy(&acc, &E.data[c][m][4 * n], 4);
            for (int k = 0; k < E.colsb[a] / 4; k++) {
                acc = ftz(acc + bf(&E.data[a][m][4 * k]) * bf(&E.data[b][k][4 * n]));
                acc = ftz(acc + bf(&E.data[a][m][4 * k + 2]) * bf(&E.data[b][k][4 * n + 2]));
            }
            memcpy(&E.data[c][m][4 * n], &acc, 4);
        }
}

/* ---- the run-time the families link against -------------------------------------------- */
dl_isa_t dl_isa(void) { return DL_ISA_AVX512; }
dl_isa_t dl_cpu_best_isa(void) { return DL_ISA_AVX512; }
const char *dl_isa_name(dl_isa_t isa) { (void)isa; return "avx512"; }
int dl_num_threads(void) { return emu_threads; }
void *dl_alloc(size_t bytes) { return malloc(bytes ? bytes : 64); }
void dl_free(void *p) { free(p); }
int dl_amx_ready(int kind) { (void)kind; return 1; }
int dl_amx_allowed(void) { return emu_allow_amx; }
void dl_amx_note_failure(const char *why) { (void)why; __atomic_add_fetch(&emu_failures, 1, __ATOMIC_SEQ_CST); }

/* ---- the tests ------------------------------------------------------------------------- */
static uint32_t seed = 1;
static uint32_t draw(void) { seed = seed * 1664525u + 1013904223u; return seed >> 8; }

static void int8_case(size_t M, size_t N, size_t K)
{
    /* rows zero padded to Kp as the GEMM requires, then 4 bytes of slack no tile may read */
    const size_t Kp = dl_u8s8_kpad(K), lda = Kp + 4;
    uint8_t *A = calloc(M * lda, 1);
    int8_t *W = malloc(N * K), *packed = malloc(dl_u8s8_packed_bytes(N, K));
    int32_t *colsum = malloc(N * 4), *raw = malloc(M * N * 4), *a_zp = malloc(M * 4);
    float *a_s = malloc(M * 4), *w_s = malloc(N * 4), *bias = malloc(N * 4);
    float *out = malloc(M * N * 4), *want = malloc(M * N * 4);
    uint8_t *q = malloc(M * N), *qwant = malloc(M * N);
    for (size_t i = 0; i < M; i++) {
        for (size_t k = 0; k < K; k++) A[i * lda + k] = (k + 3 * i) % 37 == 0 ? 255 : draw() & 255;
        memset(A + i * lda + Kp, 0xab, 4);
        a_zp[i] = draw() & 255;
        a_s[i] = 1e-3f + (draw() & 1023) * 1e-5f;
    }
    for (size_t n = 0; n < N; n++) {
        for (size_t k = 0; k < K; k++) W[n * K + k] = (k + n) % 41 == 0 ? -128 : (int8_t)draw();
        w_s[n] = 1e-3f + (draw() & 1023) * 1e-5f;
        bias[n] = ((int)(draw() & 2047) - 1024) * 1e-3f;
    }
    dl_u8s8_pack(N, K, W, K, packed, colsum);
    for (int act = DL_QACT_NONE; act <= DL_QACT_GELU; act++) {
        emu_allow_amx = 1;
        if (dl_u8s8_gemm(M, N, K, A, lda, packed, colsum, a_s, a_zp, w_s, act ? bias : NULL, act,
                         out, N, NULL, 0, 0, raw, 0, 0) != 0)
            die("int8 gemm rc");
        if (emu_live) die("int8 %zux%zux%zu: %d threads kept their tiles", M, N, K, emu_live);
        for (size_t i = 0; i < M && act == DL_QACT_NONE; i++)
            for (size_t n = 0; n < N; n++) {
                int64_t s = 0;
                for (size_t k = 0; k < K; k++) s += (int64_t)A[i * lda + k] * W[n * K + k];
                if (raw[i * N + n] != s)
                    die("int8 %zux%zux%zu: sum (%zu,%zu) %d, exact %ld", M, N, K, i, n,
                        raw[i * N + n], (long)s);
            }
        emu_allow_amx = 0;
        dl_u8s8_gemm(M, N, K, A, lda, packed, colsum, a_s, a_zp, w_s, act ? bias : NULL, act,
                     want, N, NULL, 0, 0, NULL, 0, 0);
        if (memcmp(out, want, M * N * 4) != 0)
            die("int8 %zux%zux%zu act %d: the epilogue output differs from the vector path", M,
                N, K, act);
        /* requantized to u8 */
        emu_allow_amx = 1;
        dl_u8s8_gemm(M, N, K, A, lda, packed, colsum, a_s, a_zp, w_s, bias, act, NULL, 0, q, 0.05f,
                     7, NULL, 0, 0);
        emu_allow_amx = 0;
        dl_u8s8_gemm(M, N, K, A, lda, packed, colsum, a_s, a_zp, w_s, bias, act, NULL, 0, qwant,
                     0.05f, 7, NULL, 0, 0);
        if (memcmp(q, qwant, M * N) != 0)
            die("int8 %zux%zux%zu act %d: the u8 output differs from the vector path", M, N, K,
                act);
    }
    emu_allow_amx = 1;
    free(A); free(W); free(packed); free(colsum); free(raw); free(a_zp); free(a_s); free(w_s);
    free(bias); free(out); free(want); free(q); free(qwant);
}

static uint16_t test_bf16(void)
{
    float f = ((int)(draw() & 0xffff) - 32768) / 16384.0f;
    uint32_t b;
    memcpy(&b, &f, 4);
    return (uint16_t)(b >> 16);
}

static double bfv(uint16_t h)
{
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static void bf16_case(size_t M, size_t N, size_t K)
{
    const size_t lda = K + 3;
    uint16_t *A = malloc(M * lda * 2), *W = malloc(N * K * 2 + 2);
    uint16_t *packed = malloc(dl_bf16_packed_elems(N, K) * 2 + 2);
    float *bias = malloc(N * 4), *out = malloc(M * N * 4), *vec = malloc(M * N * 4);
    /* the slack past K holds NaN: a product that reads it (even times a zero weight) shows */
    for (size_t i = 0; i < M * lda; i++) A[i] = i % lda < K ? test_bf16() : 0x7fc0;
    for (size_t i = 0; i < N * K; i++) W[i] = test_bf16();
    for (size_t n = 0; n < N; n++) bias[n] = ((int)(draw() & 2047) - 1024) * 1e-3f;
    dl_bf16_pack(N, K, W, K, packed);
    for (int act = DL_QACT_NONE; act <= DL_QACT_GELU; act += 2) {   /* none and gelu */
        emu_allow_amx = 1;
        if (dl_bf16_gemm(M, N, K, A, lda, packed, act ? bias : NULL, act, out, N) != 0)
            die("bf16 gemm rc");
        if (emu_live) die("bf16 %zux%zux%zu: %d threads kept their tiles", M, N, K, emu_live);
        emu_allow_amx = 0;
        dl_bf16_gemm(M, N, K, A, lda, packed, act ? bias : NULL, act, vec, N);
        for (size_t i = 0; i < M; i++)
            for (size_t n = 0; n < N; n++) {
                double s = 0, mag = 0;
                for (size_t k = 0; k < K; k++) {
                    double p = bfv(A[i * lda + k]) * bfv(W[n * K + k]);
                    s += p;
                    mag += fabs(p);
                }
                const double bound = 1e-6 * (mag + (act ? fabs(bias[n]) : 0))
                                     * fmax(1.0, log2(K + 1.0)) + 1e-6;
                if (act == DL_QACT_NONE && !(fabs(out[i * N + n] - s) <= bound))
                    die("bf16 %zux%zux%zu: (%zu,%zu) %.9g, float64 %.9g", M, N, K, i, n,
                        out[i * N + n], s);
                /* gelu's slope is at most 1.13: the two paths' outputs stay within the bound
                 * of their sums */
                if (!(fabs(out[i * N + n] - vec[i * N + n]) <= 2.3 * bound))
                    die("bf16 %zux%zux%zu act %d: (%zu,%zu) amx %.9g, vector %.9g", M, N, K, act,
                        i, n, out[i * N + n], vec[i * N + n]);
            }
    }
    emu_allow_amx = 1;
    free(A); free(W); free(packed); free(bias); free(out); free(vec);
}

static void *fallback_thread(void *arg)
{
    (void)arg;
    /* a fresh thread reads its configuration back once: make that fail */
    emu_corrupt_readback = 1;
    emu_threads = 1;
    int8_case(19, 35, 150);
    bf16_case(19, 35, 151);
    emu_corrupt_readback = 0;
    return NULL;
}

int main(void)
{
    char why[200] = "";
    if (dl_amx_selfcheck_int8(why, sizeof why) != 0) die("int8 self-check: %s", why);
    if (dl_amx_selfcheck_bf16(why, sizeof why) != 0) die("bf16 self-check: %s", why);
    if (emu_live) die("the self-checks kept their tiles");
    printf("self-checks pass on the model\n");

    pthread_t th;
    pthread_create(&th, NULL, fallback_thread, NULL);
    pthread_join(th, NULL);
    if (emu_failures == 0) die("a configuration that did not read back was not reported");
    if (emu_live) die("the fallback kept tiles configured");
    printf("fallback after a failed tile configuration: %d reports, results exact\n",
           emu_failures);

    /* every M from 1 to 37 on small N and K; the other N and K on M at and around the tile
     * height */
    static const size_t Ns[] = {1, 17, 13, 16, 64, 65, 99, 130};
    static const size_t Ks[] = {3, 67, 1, 4, 63, 64, 255, 1024, 1101};
    static const size_t Ms[2][4] = {{1, 16, 17, 37}, {5, 15, 32, 33}};
    size_t n_int8 = 0, n_bf16 = 0;
    for (int threads = 1; threads <= 2; threads++) {
        emu_threads = threads;
        for (size_t M = 1; M <= 37; M++)
            for (size_t ni = 0; ni < 2; ni++)
                for (size_t ki = 0; ki < 2; ki++) {
                    int8_case(M, Ns[ni], Ks[ki]);
                    bf16_case(M, Ns[ni], Ks[ki]);
                    n_int8++;
                    n_bf16++;
                }
        for (size_t mi = 0; mi < 4; mi++)
            for (size_t ni = 2; ni < sizeof Ns / sizeof *Ns; ni++)
                for (size_t ki = 2; ki < sizeof Ks / sizeof *Ks; ki += 1 + (ni % 2)) {
                    int8_case(Ms[threads - 1][mi], Ns[ni], Ks[ki]);
                    bf16_case(Ms[threads - 1][mi], Ns[ni], Ks[ki]);
                    n_int8++;
                    n_bf16++;
                }
        /* several row blocks (96 rows each) and K blocks, threads sharing the tiles */
        int8_case(100, 70, 2100);
        bf16_case(100, 70, 1101);
        n_int8++;
        n_bf16++;
    }
    printf("int8: %zu GEMMs exact and equal to the vector path (1 and 2 threads, every "
           "epilogue)\n", n_int8);
    printf("bf16: %zu GEMMs within the float32 bound\n", n_bf16);
    printf("ALL OK\n");
    return 0;
}
