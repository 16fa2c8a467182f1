/* Driver of the int8 GEMM (dlcore/qgemm.h): weight packing, activation quantization, and the
 * blocked product (packed_gemm_impl.h: OpenMP over (row block, column block) tiles, each K
 * block's packed weights in L1 while the tile's integer sums stay on the stack); after the last
 * K block the ISA's epilogue turns each row's sums into floats (or u8): the output is written
 * once.  Tiles, best first: AMX (qgemm_amx.c, where dlcore/amx.h allows), AVX512-VNNI, AVX2
 * (for activations promised in 0..127, the 7-bit vpmaddubsw tile, which checks that promise
 * per tile), portable C; all give the same integer sums. */
#include <math.h>
#include <string.h>
#include "dlcore/amx.h"
#include "dlcore/qgemm.h"
#include "dlcore/runtime.h"
#include "amx_tiles.h"
#include "qgemm_kernels.h"

#define PG_FN qgemm_blocked
#define PG_A uint8_t
#define PG_B int8_t
#define PG_C int32_t
#define PG_TILE_T qg_tile_fn
#define PG_NR QG_NR
#define PG_LDC QG_LDC
#define PG_MC QG_MC
#define PG_KC QG_KC
#define PG_GRAIN QG_GRAIN
#define PG_PREFETCH_OUT qgemm_prefetch_out
#define PG_KEEP_FAMILY
static void qgemm_prefetch_out(const void *ctx, size_t r, size_t n0, size_t nc);
#include "packed_gemm_impl.h"

/* the same loop for the folded u8 epilogue, whose rows' context is qgemm_fold_t */
#define PG_FN qgemm_blocked_fold
#define PG_KC QG_KC
#undef PG_PREFETCH_OUT
#define PG_PREFETCH_OUT qgemm_fold_prefetch
#define PG_KEEP_FAMILY
static void qgemm_fold_prefetch(const void *ctx, size_t r, size_t n0, size_t nc);
#include "packed_gemm_impl.h"
#undef PG_PREFETCH_OUT
#define PG_PREFETCH_OUT qgemm_prefetch_out

/* the same loop for the AMX tile: 16-row tiles, longer K blocks, and each thread releases
 * its tile configuration after its last tile */
#define PG_FN qgemm_blocked_amx
#define PG_KC QG_KC_AMX
#define PG_THREAD_END dl_amx_tiles_release()
#include "packed_gemm_impl.h"

/* the AMX tile stores 16 rows from every row tile: a row block must be whole 16-row tiles */
_Static_assert(QG_MC % QG_MR_AMX == 0, "QG_MC must be a multiple of the AMX tile height");
_Static_assert(QG_KC_AMX % 64 == 0, "an AMX K block is whole 64-byte chunks");

PG_CPU_FEATURE_FN(cpu_has_vnni, "avx512vnni")

/* whether this call may take the AMX tile: the ISA in use has one (the AVX-512 table), tests
 * have not forbidden it, and the CPU, OS and self-check allow it (dlcore/amx.h) */
static int qgemm_use_amx(const qgemm_kernels_t *kt)
{
    return kt->tile_amx && dl_amx_allowed() && dl_amx_ready(DL_AMX_INT8);
}

qg_tile_fn qgemm_pick_tile(const qgemm_kernels_t *kt, int a_u7, size_t *mr)
{
    if (kt->tile_vnni && cpu_has_vnni()) {
        *mr = QG_MR_VNNI;
        return kt->tile_vnni;
    }
    if (a_u7 && kt->tile_u7) {
        *mr = kt->mr_u7;
        return kt->tile_u7;
    }
    *mr = kt->mr_max;
    return kt->tile;
}

const char *dl_u8s8_kernel_name(int a_u7)
{
    const qgemm_kernels_t *kt = qgemm_kernels();
    if (qgemm_use_amx(kt)) return "amx";
    if (kt->tile_vnni && cpu_has_vnni()) return "avx512-vnni";
    if (a_u7 && kt->tile_u7) return "avx2-u7";
    return dl_isa() == DL_ISA_GENERIC ? "generic" : "avx2";
}

size_t dl_u8s8_kpad(size_t K) { return (K + 3) / 4 * 4; }

size_t dl_u8s8_packed_bytes(size_t N, size_t K)
{
    return (N + QG_NR - 1) / QG_NR * QG_NR * dl_u8s8_kpad(K);
}

int dl_u8s8_pack(size_t N, size_t K, const int8_t *W, size_t ldw, int8_t *packed,
                 int32_t *colsum)
{
    if (ldw < K || K > DL_QGEMM_MAX_K) return -1;
    const size_t Kp = dl_u8s8_kpad(K), np = (N + QG_NR - 1) / QG_NR;
    memset(packed, 0, np * QG_NR * Kp);
    for (size_t n = 0; n < N; n++) {
        int8_t *panel = packed + n / QG_NR * QG_NR * Kp;
        size_t j = n % QG_NR;
        int32_t s = 0;
        for (size_t k = 0; k < K; k++) {
            panel[k / 4 * 64 + j * 4 + k % 4] = W[n * ldw + k];
            s += W[n * ldw + k];
        }
        colsum[n] = s;
    }
    return 0;
}

/* the affine map of [min(lo, 0), max(hi, 0)] onto 0..qmax (255, or 127 for 7-bit codes) */
static void choose_params(float lo, float hi, int nonfinite, int qmax, float *scale,
                          int32_t *zp)
{
    if (nonfinite) {
        *scale = NAN;
        *zp = 0;
        return;
    }
    lo = lo < 0.0f ? lo : 0.0f;
    hi = hi > 0.0f ? hi : 0.0f;
    const float top = (float)qmax;
    float s = (hi - lo) / top;
    if (!(s > 0.0f) || !isfinite(s)) {
        /* all zeros; or a range so wide it overflows: then a row of +-FLT_MAX is not
         * representable and NaN is the honest answer */
        *scale = s > 0.0f ? NAN : 1.0f;
        *zp = 0;
        return;
    }
    float z = rintf(-lo / s);
    z = z < 0.0f ? 0.0f : (z > top ? top : z);
    *scale = s;
    *zp = (int32_t)z;
}

static void quantize_with(const qgemm_kernels_t *kt, size_t K, size_t Kp, const float *x,
                          int qmax, uint8_t *q, float scale, int32_t zp)
{
    if (scale != scale) memset(q, 0, K);
    else kt->quantize(K, x, 1.0f / scale, zp, (float)qmax, q);
    memset(q + K, 0, Kp - K);
}

void qgemm_quantize_row(const qgemm_kernels_t *kt, size_t K, const float *x, int qmax,
                        uint8_t *q, float *scale, int32_t *zp)
{
    float a, b;
    int nf;
    kt->minmax(K, x, &a, &b, &nf);
    choose_params(a, b, nf, qmax, scale, zp);
    quantize_with(kt, K, dl_u8s8_kpad(K), x, qmax, q, *scale, *zp);
}

int dl_quantize_rows_u8(size_t M, size_t K, const float *x, size_t ldx, int per_row, int qmax,
                        uint8_t *q, size_t ldq, float *scale, int32_t *zp)
{
    const size_t Kp = dl_u8s8_kpad(K);
    if ((M > 0 && (ldx < K || ldq < Kp)) || K > DL_QGEMM_MAX_K || (qmax != 255 && qmax != 127))
        return -1;
    const qgemm_kernels_t *kt = qgemm_kernels();
    const int nt = dl_threads_for(M * K, (size_t)1 << 16);
    if (!per_row) {
        float lo = INFINITY, hi = -INFINITY;
        int bad = 0;
        for (size_t i = 0; i < M; i++) {
            float a, b;
            int nf;
            kt->minmax(K, x + i * ldx, &a, &b, &nf);
            lo = a < lo ? a : lo;
            hi = b > hi ? b : hi;
            bad |= nf;
        }
        float s;
        int32_t z;
        choose_params(lo, hi, bad, qmax, &s, &z);
        for (size_t i = 0; i < M; i++) {
            scale[i] = s;
            zp[i] = z;
        }
    }
    #pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t i = 0; i < M; i++) {
        if (per_row) qgemm_quantize_row(kt, K, x + i * ldx, qmax, q + i * ldq, &scale[i], &zp[i]);
        else quantize_with(kt, K, Kp, x + i * ldx, qmax, q + i * ldq, scale[i], zp[i]);
    }
    return 0;
}

/* what the epilogue of each output row needs */
typedef struct {
    const qgemm_kernels_t *kt;
    const float *a_scale;
    const int32_t *a_zp;
    const float *w_scale;
    const int32_t *colsum;
    const float *bias;
    int act;
    float *out;
    size_t ldo;
    uint8_t *out_u8;
    float inv_out_scale;
    int32_t out_zp;
    int32_t out_max;
    size_t N;
    int32_t *raw_s32;
} qgemm_rows_t;

static void qgemm_prefetch_out(const void *ctx, size_t r, size_t n0, size_t nc)
{
    const qgemm_rows_t *c = ctx;
    if (c->out_u8) {
        const uint8_t *p = c->out_u8 + r * c->N + n0;
        for (size_t j = 0; j < nc; j += 64) __builtin_prefetch(p + j, 1, 3);
    } else {
        const float *p = c->out + r * c->ldo + n0;
        for (size_t j = 0; j < nc; j += 16) __builtin_prefetch(p + j, 1, 3);
    }
}

static void qgemm_row(const void *ctx, size_t r, size_t n0, size_t nc, const int32_t *sums)
{
    const qgemm_rows_t *c = ctx;
    if (c->raw_s32) memcpy(c->raw_s32 + r * c->N + n0, sums, nc * sizeof(int32_t));
    c->kt->epilogue(nc, sums, c->a_scale[r], c->a_zp[r], c->w_scale + n0, c->colsum + n0,
                    c->bias ? c->bias + n0 : NULL, c->act,
                    c->out_u8 ? NULL : c->out + r * c->ldo + n0,
                    c->out_u8 ? c->out_u8 + r * c->N + n0 : NULL, c->inv_out_scale, c->out_zp,
                    c->out_max);
}

/* The u8 output of a call whose rows all share one activation scale and zero point (a static
 * model's convolutions and Linears): the epilogue's per-column constants computed once per
 * call instead of per output (see epilogue_u8 in qgemm_simd.c). */
typedef struct {
    const qgemm_kernels_t *kt;
    const int32_t *zcs;
    const float *fs, *fo;
    float floor;
    int32_t out_max;
    uint8_t *out_u8;
    size_t N;
    int32_t *raw_s32;
} qgemm_fold_t;

static void qgemm_row_folded(const void *ctx, size_t r, size_t n0, size_t nc,
                             const int32_t *sums)
{
    const qgemm_fold_t *c = ctx;
    if (c->raw_s32) memcpy(c->raw_s32 + r * c->N + n0, sums, nc * sizeof(int32_t));
    c->kt->epilogue_u8(nc, sums, c->zcs + n0, c->fs + n0, c->fo + n0, c->floor, c->out_max,
                       c->out_u8 + r * c->N + n0);
}

static void qgemm_fold_prefetch(const void *ctx, size_t r, size_t n0, size_t nc)
{
    const qgemm_fold_t *c = ctx;
    for (size_t j = 0; j < nc; j += 64) __builtin_prefetch(c->out_u8 + r * c->N + n0 + j, 1, 3);
}

/* whether every row has the first row's (finite) scale and zero point */
static int rows_share_params(size_t M, const float *a_scale, const int32_t *a_zp)
{
    if (!(a_scale[0] == a_scale[0])) return 0;
    for (size_t i = 1; i < M; i++)
        if (a_scale[i] != a_scale[0] || a_zp[i] != a_zp[0]) return 0;
    return 1;
}

int dl_u8s8_gemm(size_t M, size_t N, size_t K, const uint8_t *A, size_t lda,
                 const int8_t *packed, const int32_t *colsum, const float *a_scale,
                 const int32_t *a_zp, const float *w_scale, const float *bias, int act,
                 float *out, size_t ldo, uint8_t *out_u8, float out_scale, int32_t out_zp,
                 int32_t *raw_s32, int a_u7, int out_u7)
{
    const size_t Kp = dl_u8s8_kpad(K);
    if (K > DL_QGEMM_MAX_K || act < DL_QACT_NONE || act > DL_QACT_GELU) return -1;
    if (M == 0 || N == 0) return 0;
    if (lda < Kp || (!out_u8 && ldo < N) || (out_u8 && !(out_scale > 0.0f))) return -1;
    const qgemm_kernels_t *kt = qgemm_kernels();
    const qgemm_rows_t rows = {kt, a_scale, a_zp, w_scale, colsum, bias, act, out, ldo, out_u8,
                               out_u8 ? 1.0f / out_scale : 0.0f, out_zp, out_u7 ? 127 : 255,
                               N, raw_s32};
    /* decided here, before any parallel region: the first call requests the tile permission
     * and runs the self-check on this thread */
    if (qgemm_use_amx(kt)) {
        qgemm_blocked_amx(M, N, Kp, A, lda, packed, QG_NR * Kp, kt->tile_amx, QG_MR_AMX,
                          qgemm_row, &rows);
        return 0;
    }
    size_t MR;
    qg_tile_fn tile = qgemm_pick_tile(kt, a_u7, &MR);
    if (out_u8 && kt->epilogue_u8 && act != DL_QACT_GELU && rows_share_params(M, a_scale, a_zp)) {
        /* the folded epilogue; without the memory for its constants, or in a kernel table
         * that has none (the VNNI one), the plain one */
        int32_t *zcs = dl_alloc(N * (sizeof(int32_t) + 2 * sizeof(float)));
        if (zcs) {
            float *fs = (float *)(zcs + N), *fo = fs + N;
            const float inv = rows.inv_out_scale;
            for (size_t j = 0; j < N; j++) {
                zcs[j] = a_zp[0] * colsum[j];
                fs[j] = a_scale[0] * w_scale[j] * inv;
                fo[j] = (bias ? bias[j] * inv : 0.0f) + (float)out_zp;
            }
            const qgemm_fold_t fold = {kt, zcs, fs, fo,
                                       act == DL_QACT_RELU ? (float)out_zp : -INFINITY,
                                       rows.out_max, out_u8, N, raw_s32};
            qgemm_blocked_fold(M, N, Kp, A, lda, packed, QG_NR * Kp, tile, MR, qgemm_row_folded,
                               &fold);
            dl_free(zcs);
            return 0;
        }
    }
    qgemm_blocked(M, N, Kp, A, lda, packed, QG_NR * Kp, tile, MR, qgemm_row, &rows);
    return 0;
}
