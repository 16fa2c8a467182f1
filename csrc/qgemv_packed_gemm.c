/* Driver of the packed quantised GEMM with 8-bit activations (dlcore/qgemv.h): prompt
 * processing on the same row-interleaved weights the decoding GEMV reads (dl_qpack).  Each row
 * of x is rounded once per call to int8 codes per 32-block (qgemv_packed_gemm_simd.c); OpenMP
 * splits the 16-row weight tiles, and each tile multiplies all rows of x, up to QPG_MR at a
 * time, so its codes are read from memory once per call and unpacked once per step of rows.
 *
 * Why int8 activations: the exact path (dl_qgemm_f32) expands every weight to float32 and
 * multiplies at float GEMM speed, 16 multiply-adds per instruction at AVX-512; integer dot
 * products take 64 (vpdpbusd: 16 lanes x 4 bytes), and the weights stay 4 or 8 bits wide.
 * The price is x's rounding: relative 2^-8 of each block's largest value (the bound in
 * dlcore/qgemv.h), as llama.cpp's Q8 activations pay.
 */
#include <string.h>
#include "dlcore/qgemv.h"
#include "dlcore/runtime.h"
#include "qgemv_packed_kernels.h"
#include "qgemv_packed_gemm_kernels.h"

/* multiply-adds per thread below which a second thread costs more than it saves */
#define QPG_GRAIN ((size_t)1 << 16)

const char *dl_qgemm_packed_kernel_name(void)
{
    if (qpgemm_kernels()->tile_vnni && qp_use_vnni()) return "avx512-vnni";
    return dl_isa() == DL_ISA_AVX512 ? "avx512" : dl_isa() == DL_ISA_AVX2 ? "avx2" : "generic";
}

int dl_qgemm_packed_f32(int kind, size_t M, size_t N, size_t K, const float *x, size_t ldx,
                        const uint8_t *P, float *y, size_t ldy, int accumulate)
{
    const size_t tb = kind == DL_Q8_0 ? QP_TB8 : (kind == DL_Q4_0 || kind == DL_Q4_1) ? QP_TB4 : 0;
    if (tb == 0 || K % DL_QK != 0 || (M > 0 && ldx < K) || (M > 0 && ldy < N)) return -1;
    if (M == 0 || N == 0) return 0;
    if (K == 0) {
        if (!accumulate)
            for (size_t i = 0; i < M; i++) memset(y + i * ldy, 0, N * sizeof(float));
        return 0;
    }
    const size_t nb = K / DL_QK, ntiles = (N + DL_QP_ROWS - 1) / DL_QP_ROWS;
    /* rows of x in near-equal steps of at most QPG_MR (50 rows: 5 of 10, not 4 of 12 and a
     * short one), and zero rows past the last for the tiles that step by QPG_MQ */
    const size_t steps = (M + QPG_MR - 1) / QPG_MR, Mp = M + QPG_MQ;
    const size_t esz = kind == DL_Q8_0 ? 2 : 1;
    /* scales and per-block terms, the codes (padded rows zero: they give zero), a flag per
     * row */
    float *xs = dl_alloc(2 * Mp * nb * sizeof(float) + Mp * K * esz + Mp);
    if (!xs) return -2;
    float *xc = xs + Mp * nb;
    char *codes = (char *)(xc + Mp * nb);
    char *bad = codes + Mp * K * esz;
    memset(xs, 0, 2 * Mp * nb * sizeof(float));
    memset(codes + M * K * esz, 0, (Mp - M) * K * esz);
    const qpgemm_kernels_t *kt = qpgemm_kernels();
    const qpg_tile_fn tile = kt->tile_vnni && qp_use_vnni() ? kt->tile_vnni : kt->tile;
    const int nt = dl_threads_for(M * N * K, QPG_GRAIN);
    int nbad = 0;
    #pragma omp parallel num_threads(nt)
    {
    #pragma omp for schedule(static) reduction(+:nbad)
    for (size_t i = 0; i < M; i++) {
        bad[i] = (char)kt->quant_row(kind, nb, x + i * ldx, codes + i * K * esz, xs + i * nb,
                                     xc + i * nb);
        if (bad[i]) {
            /* a zero row here; the exact loop writes this row's y below */
            nbad++;
            memset(codes + i * K * esz, 0, K * esz);
            memset(xs + i * nb, 0, nb * sizeof(float));
            memset(xc + i * nb, 0, nb * sizeof(float));
        }
    }
    #pragma omp for schedule(static)
    for (size_t t = 0; t < ntiles; t++) {
        _Alignas(64) float out[QPG_MR * DL_QP_ROWS];
        const uint8_t *Pt = P + t * nb * tb;
        const size_t j0 = t * DL_QP_ROWS;
        const size_t n = N - j0 < DL_QP_ROWS ? N - j0 : DL_QP_ROWS;
        for (size_t st = 0; st < steps; st++) {
            const size_t i0 = M * st / steps, mi = M * (st + 1) / steps - i0;
            const int mr = (int)mi;
            /* the next tile's codes on their way from memory while this one computes: a
             * slice per step of rows (a prompt's weights are read once per call, from DRAM) */
            if (t + 1 < ntiles) {
                const size_t lines = (nb * tb + 63) / 64;
                for (size_t l = lines * st / steps; l < lines * (st + 1) / steps; l++)
                    __builtin_prefetch(Pt + nb * tb + 64 * l, 0, 2);
            }
            tile(kind, mr, nb, codes + i0 * K * esz, K, xs + i0 * nb, xc + i0 * nb, Pt, out);
            for (size_t i = 0; i < mi; i++) {
                if (bad[i0 + i]) continue;
                float *yr = y + (i0 + i) * ldy + j0;
                const float *o = out + i * DL_QP_ROWS;
                if (accumulate)
                    for (size_t r = 0; r < n; r++) yr[r] += o[r];
                else
                    memcpy(yr, o, n * sizeof(float));
            }
        }
    }
    }
    for (size_t i = 0; nbad && i < M; i++)
        if (bad[i]) qp_exact(kind, N, K, x + i * ldx, P, y + i * ldy, accumulate);
    dl_free(xs);
    return 0;
}
