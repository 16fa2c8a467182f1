/* Driver of the 16-bit float family (dlcore/bf16.h): conversions split over threads, weight
 * packing, and the bf16 GEMM blocked like the int8 one (qgemm.c): OpenMP over (row block,
 * column block) tiles, column blocks fastest; per K block the tile's packed weights stay in L1
 * while its row tiles accumulate float sums in a stack buffer; then the bias/activation
 * epilogue writes each output once. */
#include <string.h>
#include "dlcore/bf16.h"
#include "dlcore/qgemm.h"
#include "dlcore/runtime.h"
#include "bf16_kernels.h"

#define BF_GRAIN ((size_t)1 << 17)
#define BF_CONV_GRAIN ((size_t)1 << 16)
/* rows per row block (their float sums, MC x 64 x 4 bytes, live on the thread's stack) */
#define BF_MC 96
/* k per block (even): one column group's packed weights, 64 x KC x 2 bytes, stay in L1 */
#define BF_KC 128

static int cpu_has_bf16(void)
{
#if defined(__x86_64__) || defined(__i386__)
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512bf16") ? 1 : 0;
    }
    return cached;
#else
    return 0;
#endif
}

const char *dl_bf16_kernel_name(void)
{
    const bf16_kernels_t *kt = bf16_kernels();
    if (kt->tile_bf16 && cpu_has_bf16()) return "avx512-bf16";
    return dl_isa() == DL_ISA_GENERIC ? "generic" : "avx2";
}

typedef void (*conv_fn)(size_t, const void *, void *);

static void convert(size_t n, const void *x, void *y, size_t in_size, size_t out_size,
                    void (*fn)(size_t, const void *, void *))
{
    const int nt = dl_threads_for(n, BF_CONV_GRAIN);
    if (nt <= 1) {
        fn(n, x, y);
        return;
    }
    const size_t chunk = (n + (size_t)nt - 1) / (size_t)nt;
    #pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; t++) {
        size_t s = (size_t)t * chunk;
        if (s < n)
            fn(n - s < chunk ? n - s : chunk, (const char *)x + s * in_size,
               (char *)y + s * out_size);
    }
}

void dl_f32_to_bf16(size_t n, const float *x, uint16_t *y)
{
    convert(n, x, y, 4, 2, (void (*)(size_t, const void *, void *))bf16_kernels()->to_bf16);
}
void dl_bf16_to_f32(size_t n, const uint16_t *x, float *y)
{
    convert(n, x, y, 2, 4, (void (*)(size_t, const void *, void *))bf16_kernels()->from_bf16);
}
void dl_f32_to_f16(size_t n, const float *x, uint16_t *y)
{
    convert(n, x, y, 4, 2, (void (*)(size_t, const void *, void *))bf16_kernels()->to_f16);
}
void dl_f16_to_f32(size_t n, const uint16_t *x, float *y)
{
    convert(n, x, y, 2, 4, (void (*)(size_t, const void *, void *))bf16_kernels()->from_f16);
}

static size_t kpad(size_t K) { return (K + 1) / 2 * 2; }

size_t dl_bf16_packed_elems(size_t N, size_t K)
{
    return (N + BF_NR - 1) / BF_NR * BF_NR * kpad(K);
}

int dl_bf16_pack(size_t N, size_t K, const uint16_t *W, size_t ldw, uint16_t *packed)
{
    if (ldw < K) return -1;
    const size_t Kp = kpad(K), np = (N + BF_NR - 1) / BF_NR;
    memset(packed, 0, np * BF_NR * Kp * sizeof(uint16_t));
    for (size_t n = 0; n < N; n++) {
        uint16_t *panel = packed + n / BF_NR * BF_NR * Kp;
        size_t j = n % BF_NR;
        for (size_t k = 0; k < K; k++) panel[k / 2 * 32 + j * 2 + k % 2] = W[n * ldw + k];
    }
    return 0;
}

int dl_bf16_gemm(size_t M, size_t N, size_t K, const uint16_t *A, size_t lda,
                 const uint16_t *packed, const float *bias, int act, float *out, size_t ldo)
{
    if (act < DL_QACT_NONE || act > DL_QACT_GELU) return -1;
    if (M == 0 || N == 0) return 0;
    if (lda < K || ldo < N) return -1;
    const bf16_kernels_t *kt = bf16_kernels();
    size_t MR = kt->mr_max;
    bf_tile_fn tile = kt->tile;
    if (kt->tile_bf16 && cpu_has_bf16()) {
        tile = kt->tile_bf16;
        MR = BF_MR_AVX512;
    }
    const size_t pstride = BF_NR * kpad(K);
    const size_t nmb = (M + BF_MC - 1) / BF_MC, nnb = (N + BF_LDC - 1) / BF_LDC;
    const int nt = dl_threads_for(M * N * (K ? K : 1), BF_GRAIN);

    #pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t t = 0; t < nmb * nnb; t++) {
        const size_t m0 = t / nnb * BF_MC, n0 = t % nnb * BF_LDC;
        const size_t m1 = m0 + BF_MC < M ? m0 + BF_MC : M;
        const size_t nc = N - n0 < BF_LDC ? N - n0 : BF_LDC;
        const size_t nv = (nc + BF_NR - 1) / BF_NR;
        const uint16_t *B = packed + n0 / BF_NR * pstride;
        float C[BF_MC * BF_LDC];
        if (K == 0) memset(C, 0, sizeof C);
        for (size_t k0 = 0; k0 < K; k0 += BF_KC) {
            const size_t kc = K - k0 < BF_KC ? K - k0 : BF_KC;
            for (size_t i0 = m0; i0 < m1; i0 += MR) {
                const size_t mr = m1 - i0 < MR ? m1 - i0 : MR;
                tile(mr, nv, kc, A + i0 * lda + k0, lda, B + k0 * BF_NR, pstride,
                     C + (i0 - m0) * BF_LDC, k0 > 0);
            }
        }
        for (size_t r = m0; r < m1; r++)
            kt->epilogue(nc, C + (r - m0) * BF_LDC, bias ? bias + n0 : NULL, act,
                         out + r * ldo + n0);
    }
    return 0;
}
