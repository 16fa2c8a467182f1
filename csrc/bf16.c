/* Driver of the 16-bit float family (dlcore/bf16.h): conversions split over threads, weight
 * packing, and the bf16 GEMM, blocked as the int8 one (packed_gemm_impl.h) with float sums
 * and the bias/activation epilogue. */
#include <string.h>
#include "dlcore/amx.h"
#include "dlcore/bf16.h"
#include "dlcore/qgemm.h"
#include "dlcore/runtime.h"
#include "amx_tiles.h"
#include "bf16_kernels.h"

#define BF_GRAIN ((size_t)1 << 17)
#define BF_CONV_GRAIN ((size_t)1 << 16)

#define PG_FN bf16_blocked
#define PG_A uint16_t
#define PG_B uint16_t
#define PG_C float
#define PG_TILE_T bf_tile_fn
#define PG_NR BF_NR
#define PG_LDC BF_LDC
#define PG_MC BF_MC
#define PG_KC BF_KC
#define PG_GRAIN BF_GRAIN
#define PG_KEEP_FAMILY
#include "packed_gemm_impl.h"

/* the same loop for the AMX tile: 16-row tiles, longer K blocks, and each thread releases
 * its tile configuration after its last tile */
#define PG_FN bf16_blocked_amx
#define PG_KC BF_KC_AMX
#define PG_THREAD_END dl_amx_tiles_release()
#include "packed_gemm_impl.h"

_Static_assert(BF_MC % BF_MR_AMX == 0, "BF_MC must be a multiple of the AMX tile height");
_Static_assert(BF_KC_AMX % 32 == 0, "an AMX K block is whole 32-element chunks");

PG_CPU_FEATURE_FN(cpu_has_bf16, "avx512bf16")

/* whether this call may take the AMX tile (as qgemm.c's qgemm_use_amx) */
static int bf16_use_amx(const bf16_kernels_t *kt)
{
    return kt->tile_amx && dl_amx_allowed() && dl_amx_ready(DL_AMX_BF16);
}

const char *dl_bf16_kernel_name(void)
{
    const bf16_kernels_t *kt = bf16_kernels();
    if (bf16_use_amx(kt)) return "amx";
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

/* what the epilogue of each output row needs */
typedef struct {
    const bf16_kernels_t *kt;
    const float *bias;
    int act;
    float *out;
    size_t ldo;
} bf16_rows_t;

static void bf16_row(const void *ctx, size_t r, size_t n0, size_t nc, const float *sums)
{
    const bf16_rows_t *c = ctx;
    c->kt->epilogue(nc, sums, c->bias ? c->bias + n0 : NULL, c->act, c->out + r * c->ldo + n0);
}

int dl_bf16_gemm(size_t M, size_t N, size_t K, const uint16_t *A, size_t lda,
                 const uint16_t *packed, const float *bias, int act, float *out, size_t ldo)
{
    if (act < DL_QACT_NONE || act > DL_QACT_GELU) return -1;
    if (M == 0 || N == 0) return 0;
    if (lda < K || ldo < N) return -1;
    const bf16_kernels_t *kt = bf16_kernels();
    const bf16_rows_t rows = {kt, bias, act, out, ldo};
    /* decided before any parallel region (the first call runs the AMX checks here) */
    if (bf16_use_amx(kt)) {
        bf16_blocked_amx(M, N, K, A, lda, packed, BF_NR * kpad(K), kt->tile_amx, BF_MR_AMX,
                         bf16_row, &rows);
        return 0;
    }
    size_t MR = kt->mr_max;
    bf_tile_fn tile = kt->tile;
    if (kt->tile_bf16 && cpu_has_bf16()) {
        tile = kt->tile_bf16;
        MR = BF_MR_AVX512;
    }
    bf16_blocked(M, N, K, A, lda, packed, BF_NR * kpad(K), tile, MR, bf16_row, &rows);
    return 0;
}
