/* Driver of the packed quantised GEMM with 8-bit activations (dlcore/qgemv.h): prompt
 * processing on the same row-interleaved weights the decoding GEMV reads (dl_qpack).  Each row
 * of x is rounded once per call to int8 codes per 32-block (qgemv_packed_gemm_simd.c); OpenMP
 * splits the 16-row weight tiles, and each tile multiplies all rows of x, up to QPG_MR at a
 * time, so its codes are read from memory once per call; the AVX-512 tiles unpack them once
 * (on the first step of rows, into a per-thread buffer the later steps read), the others
 * once per step.  A step's rows are one panel (see qgemv_packed_gemm_kernels.h).
 *
 * The AVX-512 tiles are bound by the vector units that run both the integer dot products and
 * the float scaling (measured on Zen 4: vpdpbusd and FMA share them; conversions and integer
 * shuffles run on others): per row and 32-block, 8 dot instructions and 3 float ones (Q4_1).
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

/* the step of rows row i falls in, of `steps` near-equal steps of M rows */
static size_t qpg_step_of(size_t i, size_t M, size_t steps)
{
    size_t st = i * steps / M;
    while (st > 0 && M * st / steps > i) st--;
    while (M * (st + 1) / steps <= i) st++;
    return st;
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
     * short one), each step's codes a panel of QPG_MR row slots per block (the slots past
     * the step's rows zero: a tile may compute up to QPG_MQ - 1 of them) */
    const size_t steps = (M + QPG_MR - 1) / QPG_MR, slots = steps * nb * QPG_MR;
    const size_t esz = kind == DL_Q8_0 ? 2 : 1;
    const qpgemm_kernels_t *kt = qpgemm_kernels();
    const qpg_tile_fn tile = kt->tile_vnni && qp_use_vnni() ? kt->tile_vnni : kt->tile;
    const int nt = dl_threads_for(M * N * K, QPG_GRAIN);
    /* a tile's weights unpacked on its first step of rows, one buffer per thread */
    const size_t prep = kt->unpacks ? nb * QPG_PREP_BYTES(kind) : 0;
    /* scales and per-block terms, the codes, a flag per row, the unpacked buffers */
    const size_t head = (2 * slots * sizeof(float) + slots * DL_QK * esz + M + 63) & ~(size_t)63;
    float *xs = dl_alloc(head + (size_t)nt * prep);
    if (!xs) return -2;
    float *xc = xs + slots;
    char *codes = (char *)(xc + slots);
    char *bad = codes + slots * DL_QK * esz;
    uint8_t *prepbuf = (uint8_t *)xs + head;
    int nbad = 0;
    #pragma omp parallel num_threads(nt)
    {
    #pragma omp for schedule(static) reduction(+:nbad)
    for (size_t i = 0; i < M; i++) {
        const size_t st = qpg_step_of(i, M, steps), r = i - M * st / steps;
        const size_t mi = M * (st + 1) / steps - M * st / steps;
        char *q = codes + (st * nb * QPG_MR + r) * DL_QK * esz;
        float *s = xs + st * nb * QPG_MR + r, *c = xc + st * nb * QPG_MR + r;
        bad[i] = (char)kt->quant_row(kind, nb, x + i * ldx, q, QPG_MR * DL_QK, s, c, QPG_MR);
        if (bad[i]) nbad++;
        for (size_t b = 0; b < nb; b++) {
            /* a bad row as zeros (the exact loop writes its y below); the last row of a step
             * also zeroes the slots past the step's rows */
            const size_t z0 = bad[i] ? 0 : 1, z = r + 1 == mi ? QPG_MR - r : 1;
            if (z0 < z) {
                memset(q + (b * QPG_MR + z0) * DL_QK * esz, 0, (z - z0) * DL_QK * esz);
                memset(s + b * QPG_MR + z0, 0, (z - z0) * sizeof(float));
                memset(c + b * QPG_MR + z0, 0, (z - z0) * sizeof(float));
            }
        }
    }
    uint8_t *wbuf = prepbuf + (size_t)dl_thread_id() * prep;
    #pragma omp for schedule(static)
    for (size_t t = 0; t < ntiles; t++) {
        const uint8_t *Pt = P + t * nb * tb;
        const size_t j0 = t * DL_QP_ROWS;
        const int n = N - j0 < DL_QP_ROWS ? (int)(N - j0) : DL_QP_ROWS;
        for (size_t st = 0; st < steps; st++) {
            const size_t i0 = M * st / steps, mi = M * (st + 1) / steps - i0;
            /* the next tile's codes on their way from memory while this one computes: a
             * slice per step of rows (a prompt's weights are read once per call, from DRAM) */
            if (t + 1 < ntiles) {
                const size_t lines = (nb * tb + 63) / 64;
                for (size_t l = lines * st / steps; l < lines * (st + 1) / steps; l++)
                    __builtin_prefetch(Pt + nb * tb + 64 * l, 0, 2);
            }
            tile(kind, (int)mi, nb, codes + st * nb * QPG_MR * DL_QK * esz,
                 xs + st * nb * QPG_MR, xc + st * nb * QPG_MR, prep && st ? wbuf : Pt,
                 prep && !st ? wbuf : NULL, y + i0 * ldy + j0, ldy, n, accumulate);
        }
    }
    }
    for (size_t i = 0; nbad && i < M; i++)
        if (bad[i]) qp_exact(kind, N, K, x + i * ldx, P, y + i * ldy, accumulate);
    dl_free(xs);
    return 0;
}
