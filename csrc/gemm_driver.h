/* Private interface between the GEMM driver (csrc/gemm.c) and the products by a right operand
 * packed in advance (csrc/gemm_prepacked.c): a plan, a product's arguments and the blocked loop
 * nest, so that both run one set of loops, packing routines and thread heuristics.
 */
#ifndef DLCORE_GEMM_DRIVER_H
#define DLCORE_GEMM_DRIVER_H

#include <stddef.h>
#include "dlcore/gemm_bpack.h"
#include "dlcore/gemm_prepacked.h"
#include "gemm_kernels.h"

/* A micro-kernel and the blocking that goes with it. */
typedef struct {
    dl_gemm_kernel_fn kernel;
    size_t mr, nr;      /* register tile of the kernel */
    size_t kc, mc, nc;  /* cache blocks; mc is a multiple of mr, nc of nr */
    int f64;            /* element type: 0 float, 1 double */
    dl_gemm_pack_t_fn pack_t;   /* float32 transposing pack for this ISA, or NULL (portable) */
    dl_gemm_pack_n_fn pack_n;   /* float32 row-copy pack for this ISA, or NULL (portable) */
    dl_gemm_kernel_sa_fn sa;    /* float32 kernel reading A in place, or NULL */
} gemm_plan;

/* float32: writes rows [i0, i0 + m) of op(A), its columns [k0, k0 + kc), as ceil(m / mr)
 * panels at dst + q*mr*kc, dst[q*mr*kc + k*mr + i] = op(A)[i0 + q*mr + i][k0 + k] (zero past
 * m): an op(A) that is no single strided matrix (gemm_prepacked.c's channel-major A). */
typedef struct {
    void (*fn)(const void *ctx, size_t k0, size_t kc, size_t i0, size_t m, size_t mr,
               float *dst);
    const void *ctx;
} gemm_apacker;

/* C[M,N] = act(alpha * op(A) @ op(B) + beta * C + bias), then post (or NULL) on each finished
 * strip of C (float32 only). */
typedef struct {
    int transa, transb;
    size_t M, N, K;
    const void *A, *B;
    ptrdiff_t lda, ldb, ldc;
    void *C;
    double alpha, beta;
    const void *bias;
    dl_bias_t bias_kind;
    dl_act_t act;
    const dl_gemm_post *post;
    const dl_sgemm_bpacker *bpacker;   /* float32: packs op(B)'s blocks instead of B (or NULL) */
    int a_in_place;   /* float32: A (not transposed) may be read where it is, not packed, by a
                       * run of few column tiles (gemm.c, A_IN_PLACE_COLS) */
    const gemm_apacker *apacker;       /* float32: packs op(A)'s blocks instead of A (or NULL) */
} gemm_args;

/* op(B) packed in advance, K block after K block (the plan's K blocks, evened out): the block
 * of rows [pc, pc + kc) holds all np NR-wide column panels (zero past N), panel q at element
 * pc * np * NR + q * NR * kc of p.  A view may start at panel q0 (its column 0 is q0 * NR). */
typedef struct {
    char *p;
    size_t np, q0;
} packed_b;

gemm_plan dl_gemm_plan_for_isa(int f64, dl_isa_t isa);
/* The K block of a K-long product (the blocked loop nest's, also the packed_b layout's). */
size_t dl_gemm_k_block(const gemm_plan *p, size_t K);
/* Threads for an M x N x K product: at most `cap` (<= 0: the engine's count), at most one per
 * grain of multiply-adds, one inside an enclosing parallel region. */
int dl_gemm_auto_threads(size_t M, size_t N, size_t K, int cap);
/* All of op(B) (K x N, float32) into `dst` in the packed_b layout. */
void dl_gemm_pack_b_all(const gemm_plan *p, int transb, size_t K, size_t N, const float *B,
                        ptrdiff_t ldb, float *dst);
/* One thread's product with B read from `pb` when it is packed already (then g->B is read
 * only if no packing buffer for A can be had).  -1 only when g->bpacker or g->apacker is set
 * and the packing buffers cannot be had (nothing is written then); otherwise 0. */
int dl_gemm_single(const gemm_args *g, const gemm_plan *p, const packed_b *pb);

#endif
