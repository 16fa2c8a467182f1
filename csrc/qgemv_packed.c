/* Driver of the packed quantised GEMV (dlcore/qgemv.h): the row-interleaved copy of a GGUF
 * weight (dl_qpack), x rounded to int16 per block once per call, and OpenMP over tiles of
 * DL_QP_ROWS rows.  The per-ISA tile kernel is qgemv_packed_simd.c.
 *
 * Why a second layout: in GGUF's layout each 32-weight block of a row carries its own f16
 * scale, so a float kernel pays, per 32 weights, the widening and conversion of the codes, two
 * FMAs and a scale multiply-add, and a horizontal sum per row.  Interleaving 16 rows puts the
 * rows in the vector lanes (no horizontal sums, one scale step per 16 rows), and x in int16
 * parts turns the float work per weight into integer multiply-adds of 2 x 16 weights.
 */
#include <math.h>
#include <string.h>
#include "dlcore/qgemv.h"
#include "dlcore/runtime.h"
#include "qgemv_packed_kernels.h"

/* widths of x whose int16 parts (8 KiB per 2048) live on the stack */
#define QP_STACK_K 2048
/* multiply-adds per thread below which a second thread costs more than it saves */
#define QP_GRAIN ((size_t)1 << 16)

static int qp_cpu_has_vnni(void)
{
#if defined(__x86_64__) || defined(__i386__)
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512vnni") ? 1 : 0;
    }
    return cached;
#else
    return 0;
#endif
}

/* whether the AVX-512 path may take the VNNI tile (tests turn it off to check the other) */
static int qp_vnni_allowed = 1;

int qp_use_vnni(void)
{
    return dl_isa() == DL_ISA_AVX512 && qp_vnni_allowed && qp_cpu_has_vnni();
}

int dl_qgemv_packed_allow_vnni(int allow)
{
    int prev = qp_vnni_allowed;
    qp_vnni_allowed = allow != 0;
    return prev;
}

const char *dl_qgemv_packed_kernel_name(void)
{
    const qpack_kernels_t *kt = qpack_kernels();
    if (kt->tile_vnni && qp_vnni_allowed && qp_cpu_has_vnni()) return "avx512-vnni";
    return dl_isa() == DL_ISA_AVX512 ? "avx512" : dl_isa() == DL_ISA_AVX2 ? "avx2" : "generic";
}

static size_t qp_tile_block_bytes(int kind)
{
    switch (kind) {
    case DL_Q4_0:
    case DL_Q4_1: return QP_TB4;
    case DL_Q8_0: return QP_TB8;
    default: return 0;
    }
}

size_t dl_qpack_bytes(int kind, size_t N, size_t K)
{
    size_t tb = qp_tile_block_bytes(kind);
    if (tb == 0 || K % DL_QK != 0) return 0;
    return (N + DL_QP_ROWS - 1) / DL_QP_ROWS * (K / DL_QK) * tb;
}

/* code of weight k (0..31) of a GGUF block's codes */
static inline int qp_code(int kind, const uint8_t *qs, int k)
{
    if (kind == DL_Q8_0) return (int8_t)qs[k];
    return k < 16 ? qs[k] & 0x0F : qs[k - 16] >> 4;
}

int dl_qpack(int kind, size_t N, size_t K, const uint8_t *W, size_t ldw, uint8_t *P)
{
    const size_t tb = qp_tile_block_bytes(kind), bb = dl_qblock_bytes(kind);
    if (tb == 0 || K % DL_QK != 0 || ldw < K / DL_QK * bb) return -1;
    const size_t nb = K / DL_QK, ntiles = (N + DL_QP_ROWS - 1) / DL_QP_ROWS;
    memset(P, 0, ntiles * nb * tb);
    for (size_t j = 0; j < N; j++) {
        const size_t tile = j / DL_QP_ROWS, r = j % DL_QP_ROWS;
        for (size_t b = 0; b < nb; b++) {
            const uint8_t *src = W + j * ldw + b * bb;
            uint8_t *t = P + (tile * nb + b) * tb;
            memcpy(t + 2 * r, src, 2);                                  /* d */
            if (kind == DL_Q4_1) memcpy(t + 32 + 2 * r, src + 2, 2);   /* m */
            const uint8_t *qs = src + (kind == DL_Q4_1 ? 4 : 2);
            if (kind == DL_Q8_0) {
                for (int k = 0; k < DL_QK; k++)
                    t[QP_HEAD8 + 32 * (k >> 1) + 2 * r + (k & 1)] = (uint8_t)qp_code(kind, qs, k);
            } else {
                for (int k = 0; k < DL_QK; k++)
                    t[QP_HEAD4 + 32 * (k >> 2) + 2 * r + (k & 1)] |=
                        (uint8_t)(qp_code(kind, qs, k) << ((k & 2) ? 4 : 0));
            }
        }
    }
    return 0;
}

#include "half_scalar.h"

/* the exact float32 product from the packed copy, for x the int16 form cannot hold */
void qp_exact(int kind, size_t N, size_t K, const float *x, const uint8_t *P,
                     float *y, int accumulate)
{
    const size_t tb = qp_tile_block_bytes(kind), nb = K / DL_QK;
    for (size_t j = 0; j < N; j++) {
        const size_t r = j % DL_QP_ROWS;
        const uint8_t *tile = P + j / DL_QP_ROWS * nb * tb;
        float acc = 0.0f;
        for (size_t b = 0; b < nb; b++) {
            const uint8_t *t = tile + b * tb;
            const float d = qp_half(t + 2 * r);
            const float m = kind == DL_Q4_1 ? qp_half(t + 32 + 2 * r)
                            : kind == DL_Q4_0 ? -8.0f * d : 0.0f;
            for (int k = 0; k < DL_QK; k++) {
                int q;
                if (kind == DL_Q8_0) {
                    q = (int8_t)t[QP_HEAD8 + 32 * (k >> 1) + 2 * r + (k & 1)];
                } else {
                    uint8_t byte = t[QP_HEAD4 + 32 * (k >> 2) + 2 * r + (k & 1)];
                    q = (k & 2) ? byte >> 4 : byte & 0x0F;
                }
                acc += ((float)q * d + m) * x[b * DL_QK + k];
            }
        }
        y[j] = accumulate ? y[j] + acc : acc;
    }
}

int dl_qgemv_packed_f32(int kind, size_t N, size_t K, const float *x, const uint8_t *P,
                        float *y, int accumulate)
{
    const size_t tb = qp_tile_block_bytes(kind);
    if (tb == 0 || K % DL_QK != 0) return -1;
    if (N == 0) return 0;
    if (K == 0) {
        if (!accumulate) memset(y, 0, N * sizeof(float));
        return 0;
    }
    const size_t nb = K / DL_QK, ntiles = (N + DL_QP_ROWS - 1) / DL_QP_ROWS;
    /* x's parts on the stack for the usual widths (a decoding step makes ~100 calls) */
    _Alignas(64) int16_t local[2 * QP_STACK_K + 4 * QP_STACK_K / DL_QK];
    int16_t *xq = K <= QP_STACK_K ? local
                  : dl_alloc(2 * K * sizeof(int16_t) + 2 * nb * sizeof(float));
    if (!xq) return -2;
    int16_t *xl = xq + K;
    float *xs = (float *)(xl + K), *xsum = xs + nb;
    const qpack_kernels_t *kt = qpack_kernels();
    if (kt->split(nb, x, xq, xl, xs, xsum)) {
        qp_exact(kind, N, K, x, P, y, accumulate);
        if (xq != local) dl_free(xq);
        return 0;
    }
    const qp_tile_fn tile = kt->tile_vnni && qp_vnni_allowed && qp_cpu_has_vnni() ? kt->tile_vnni : kt->tile;
    const int nt = dl_threads_for(N * K, QP_GRAIN);
    #pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t t = 0; t < ntiles; t++) {
        float out[DL_QP_ROWS];
        tile(kind, nb, xq, xl, xs, xsum, P + t * nb * tb, out);
        const size_t j0 = t * DL_QP_ROWS;
        const size_t n = N - j0 < DL_QP_ROWS ? N - j0 : DL_QP_ROWS;
        for (size_t r = 0; r < n; r++) y[j0 + r] = accumulate ? y[j0 + r] + out[r] : out[r];
    }
    if (xq != local) dl_free(xq);
    return 0;
}
