/* The inference executor: a plan is a flat list of steps (kernel calls with their sizes fixed
 * at planning time) over "slots" (constant arrays, one arena of intermediate buffers per call,
 * and the caller's input/output arrays).  dl_plan_run walks the steps in C: no Python, no
 * allocation beyond what a kernel needs for itself.
 *
 * A step names up to DL_PLAN_MAX_OPS operands; operand j is slot[j] (-1: absent) at byte
 * offset off[j] in it.  Every size, stride and flag is in i[] / f[], laid out per op as
 * listed below (strides in elements).  The planner (dlcore/jit/plan.py) fills them; the
 * executor trusts them (the planner derives them from shapes it has checked).
 *
 * Thread safety: a plan is read-only once made; each call gets its own arena
 * (dl_plan_arena_acquire keeps released arenas for reuse, under a lock), so several threads
 * may run one plan at once.  nthreads > 0 caps the kernels' OpenMP threads for the calling
 * thread only (dl_set_local_num_threads).  Steps too small to split run on the calling thread
 * alone (dl_plan_step_wants_team); a call with a step that does use the team binds the team
 * to cores for its length (dlcore/affinity.h).
 */
#ifndef DLCORE_PLAN_H
#define DLCORE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define DL_PLAN_MAX_OPS 14
#define DL_PLAN_MAX_INTS 40
#define DL_PLAN_MAX_FLOATS 6
#define DL_PLAN_MAX_DIMS 8

enum { DL_SLOT_CONST = 0, DL_SLOT_ARENA = 1, DL_SLOT_IO = 2 };

typedef struct {
    int32_t kind;     /* DL_SLOT_* */
    int32_t index;    /* DL_SLOT_IO: index into the call's io pointers */
    int64_t offset;   /* DL_SLOT_ARENA: byte offset in the arena */
    void *ptr;        /* DL_SLOT_CONST: the data */
} dl_plan_slot;

typedef struct {
    int32_t op;
    int32_t slot[DL_PLAN_MAX_OPS];
    int64_t off[DL_PLAN_MAX_OPS];
    int64_t i[DL_PLAN_MAX_INTS];
    double f[DL_PLAN_MAX_FLOATS];
} dl_plan_step;

/* ops and their operands / parameters */
enum {
    /* src, dst | i: elsize, ndim, shape[8], src strides[8], dst strides[8] */
    DL_PLAN_COPY = 1,
    /* dst | i: n, elsize | f: value (written as the element type: 4: float, 8: int64) */
    DL_PLAN_FILL = 2,
    /* A, B, bias, C | i: transA, transB, M, N, K, lda, ldb, ldc, gemm act (dl_act_t),
     * post act kind (DL_AF_*, -1 none), nbatch (0-4), batch sizes[4], A/B/C batch strides[4]
     * each, bias kind (dl_bias_t) | f: post act a, b, c, alpha, beta.
     * With beta != 0, C holds the addend on entry (a residual). */
    DL_PLAN_GEMM = 3,
    /* x, w, bias, y | i: N C H W K R S OH OW sh sw ph pw dh dw groups, post act kind
     * | f: act a, b, c */
    DL_PLAN_CONV = 4,
    /* x, w, bias, y | i: as CONV, describing the convolution from y to x */
    DL_PLAN_CONV_T = 5,
    /* x, y | i: kind (DL_AF_*), n | f: a, b, c */
    DL_PLAN_ACT = 6,
    /* x, y | i: outer, dim, inner, log */
    DL_PLAN_SOFTMAX = 7,
    /* a, b, y | i: op (DL_BIN_*), ndim (1-6), shape[6], a strides[6], b strides[6],
     * post act kind | f: act a, b, c.  y is contiguous. */
    DL_PLAN_BINARY = 8,
    /* x, y | i: op (DL_UN_*), n */
    DL_PLAN_UNARY = 9,
    /* x, gamma, beta, y | i: rows, n, rms | f: eps */
    DL_PLAN_LAYERNORM = 10,
    /* a, b, gamma, beta, y, sum, qrows | i: rows, n, qmax | f: eps;  sum = a + b (if given),
     * y = LN(a + b); qrows (if given): y also quantized per row to codes 0..qmax (255 or 127)
     * as QLINEAR's DL_QLIN_QROWS input, each row block while it is in cache */
    DL_PLAN_SKIP_LAYERNORM = 11,
    /* x, y | i: planes H W OH OW kh kw sh sw ph pw dh dw, count_include_pad, divisor */
    DL_PLAN_MAXPOOL = 12,
    DL_PLAN_AVGPOOL = 13,
    DL_PLAN_ADAPTIVE_AVGPOOL = 14,
    DL_PLAN_ADAPTIVE_MAXPOOL = 15,
    /* x, y | i: pool params, mode (0 nearest, 1 bilinear), align_corners | f: scale h, w */
    DL_PLAN_RESIZE = 16,
    /* x, w, b, mean, invstd, y | i: N, C, L */
    DL_PLAN_BATCHNORM = 17,
    /* q, k, v, mask, out, lse | i: B H L S D Dv, q strides[3], k strides[3], v strides[3],
     * mask kind, mask strides[4], causal | f: scale */
    DL_PLAN_ATTENTION = 18,
    /* x, w_ih, w_hh, b_x, b_h, w_hr, h0, c0, out, hn, cn, work, batch_sizes
     * | i: mode, T, B, I, H, P, reverse, ldx, ldo, packed form (0: none, weights as given;
     * 1: joint, 2: split; packed when the plan is made, see csrc/rnn_packed.c; work then holds
     * rows x G floats for the split form) */
    DL_PLAN_RNN = 19,
    /* data, indices, out | i: outer, axis size, inner bytes, n indices, index elsize */
    DL_PLAN_GATHER = 20,
    /* x, y | i: from, to (DL_TYPE_*), n */
    DL_PLAN_CAST = 21,
    /* cond (uint8), a, b, y | i: elsize, ndim (1-6), shape[6], cond/a/b strides[6] each */
    DL_PLAN_WHERE = 22,
    /* x, y | i: op (DL_RED_*), outer, red, inner */
    DL_PLAN_REDUCE = 23,
    /* x, w (constant: packed when the plan is made), bias, y, col (scratch) | i: as CONV
     * (groups 1), post act kind, gemm act (dl_act_t), tile columns (0: pointwise), images per
     * product (> 1: col holds (C*R*S + K) x images*OH*OW floats), transposed (1: a pointwise
     * conv as the product x^T W^T, W packed as its right operand, col holds (C + K) x
     * images*OH*OW floats; csrc/plan_pointwise.c; 2: another conv on a small map, one image
     * per product, as col^T W^T after im2col, col holds (2*C*R*S + K) x OH*OW floats;
     * csrc/plan_conv.c), residual (1: a pointwise conv, no activation, whose y holds the skip
     * value on entry and gets the product added, csrc/plan_pointwise.c) | f: act */
    DL_PLAN_CONV_GEMM = 24,
    /* x, w (constant: packed when the plan is made, dl_plan_direct_pack), bias, y | i: as
     * CONV with stride 1 and groups 1, act kind (Relu fused, any other applied per image) |
     * f: act.  The direct small-map convolution (plan_direct_simd.c): the padded planes
     * (C*Hp*Wp + 64 floats) within DL_PLAN_DIRECT_MAX_FLOATS, C*R*S within
     * DL_PLAN_DIRECT_MAX_TAPS (the planner checks both).  With stride 2 (i[9] == 2): a 3x3
     * filter, padding 0 or 1, dilation 1, any map size (plan_direct_s2_simd.c, a first layer on
     * a few input channels); any other filter of sides up to DL_PLAN_S2W_MAX_RS, padding
     * below them, on up to DL_PLAN_S2W_MAX_C channels (plan_direct_s2w_simd.c: ResNet's 7x7
     * first layer) */
    DL_PLAN_CONV_DIRECT = 25,
    /* x, w_expand, b_expand, w_dw, b_dw, w_project, b_project, y | i: N Cin H W Ce Cout R S
     * stride ph pw OH OW expand act (dl_act_t) dw act (DL_AF_* or -1) residual rows_per_strip |
     * f: dw act a, b, c.  A MobileNet inverted-residual block, 1x1 -> depthwise -> 1x1, fused
     * a strip of output rows at a time (csrc/plan_mbconv_simd.c); the weights constant
     * (packed when the plan is made); residual: y holds the skip value on entry */
    DL_PLAN_MBCONV = 26,
    /* x (float32, or u8 codes), packed, colsum, w_scale (an int8 weight, dlcore/qgemm.h),
     * bias, y (float32 or u8), scratch (dl_plan_qlinear_scratch bytes) | i: M, N, K, input
     * mode (DL_QLIN_*), act (DL_QACT_*), u8 output, input zero point, output zero point,
     * reduce_range (7-bit input codes, plan_quant.c), 7-bit u8 output, y as quantized rows,
     * their work rows | f: input scale (codes), output scale (u8 output) */
    DL_PLAN_QLINEAR = 40,
    /* x (u8 NHWC), w (packed, or (KH*KW, C) depthwise), colsum, w_scale, bias, y (u8 NHWC) |
     * i: N H W C OC KH KW SH SW PT PL DH DW OH OW groups, depthwise, x_zp, y_zp, relu, x_u7,
     * y_u7 |
     * f: x_scale, y_scale (dlcore/qconv.h) */
    DL_PLAN_QCONV = 41,
    /* a, b, y (u8, n elements) | i: n, a_zp, b_zp, y_zp, relu, y_u7 | f: a_scale, b_scale,
     * y_scale */
    DL_PLAN_QADD = 42,
    /* x float32 (N, C, P), y u8 ((N, P, C) with nhwc, else (N, C, P)) | i: N, C, P, nhwc,
     * zero point, 7-bit codes (0..127) | f: scale */
    DL_PLAN_QUANTIZE = 43,
    /* x u8, y float32: the inverse layouts of QUANTIZE | i, f: as QUANTIZE */
    DL_PLAN_DEQUANTIZE = 44,
    /* x, y (u8 NHWC) | i: N H W C OH OW: adaptive average pooling of codes */
    DL_PLAN_QAVGPOOL = 45,
    /* x, y (u8 NHWC) | i: as QCONV's first 16 (OC, groups unread): max pooling of codes */
    DL_PLAN_QMAXPOOL = 46,
};
/* the direct convolution's limits (its per-thread stack buffers) and its weight blocks */
enum {
    DL_PLAN_DIRECT_MAX_FLOATS = 8192,
    DL_PLAN_DIRECT_MAX_TAPS = 1024,
    DL_PLAN_DIRECT_ROWS = 16,
    /* the stride-2 direct convolution with a wide filter (plan_direct_s2w_simd.c): input
     * channels and filter sides at most */
    DL_PLAN_S2W_MAX_C = 4,
    DL_PLAN_S2W_MAX_RS = 7
};
enum { DL_QLIN_PER_ROW = 0, DL_QLIN_PER_TENSOR = 1, DL_QLIN_CODES = 2, DL_QLIN_QROWS = 3 };

enum { DL_BIN_ADD = 0, DL_BIN_SUB = 1, DL_BIN_MUL = 2, DL_BIN_DIV = 3, DL_BIN_MAX = 4,
       DL_BIN_MIN = 5, DL_BIN_POW = 6 };
enum { DL_UN_NEG = 0, DL_UN_EXP = 1, DL_UN_LOG = 2, DL_UN_LOG1P = 3, DL_UN_SQRT = 4,
       DL_UN_ABS = 5, DL_UN_SIN = 6, DL_UN_COS = 7 };
enum { DL_RED_SUM = 0, DL_RED_MEAN = 1, DL_RED_MAX = 2, DL_RED_MIN = 3 };
enum { DL_TYPE_F32 = 0, DL_TYPE_F64 = 1, DL_TYPE_I64 = 2, DL_TYPE_I32 = 3, DL_TYPE_U8 = 4 };

/* errors dl_plan_run reports through *err */
enum { DL_PLAN_OK = 0, DL_PLAN_ENOMEM = 1, DL_PLAN_EINDEX = 2, DL_PLAN_EOP = 3 };

typedef struct dl_plan dl_plan;

/* A plan owning copies of `steps` and `slots` (the constants' memory stays the caller's). */
dl_plan *dl_plan_new(int nsteps, const dl_plan_step *steps, int nslots,
                     const dl_plan_slot *slots, size_t arena_bytes);
void dl_plan_free(dl_plan *p);
size_t dl_plan_arena_bytes(const dl_plan *p);
/* 1 if step k may use the thread team, 0 if it runs on the calling thread (-1: no step k) */
int dl_plan_step_team(const dl_plan *p, int k);
/* 1 if step k keeps the threads a call asks for on an oversubscribed machine
 * (dl_plan_step_ignores_load), 0 if not (-1: no step k) */
int dl_plan_step_keeps_threads(const dl_plan *p, int k);
/* The Winograd tile size (2 or 4) step k runs on filters transformed when the plan was made,
 * 0 when it has none (-1: no step k) */
int dl_plan_step_winograd(const dl_plan *p, int k);

/* An arena for one call (64-byte aligned; NULL when out of memory), and its return. */
char *dl_plan_arena_acquire(dl_plan *p);
void dl_plan_arena_release(dl_plan *p, char *arena);

/* Runs steps [begin, end).  io: the call's input and output pointers.  Returns 0, or k + 1
 * when step k failed (*err says why; *detail is the offending index value for EINDEX). */
int dl_plan_run(const dl_plan *p, int begin, int end, char *arena, char *const *io,
                int nthreads, int *err, int64_t *detail);

/* Runs a plan made for one slice of a batch on `nslices` consecutive slices of the call's
 * arrays at once: slice c's io pointer k is io[k] + c * slice_bytes[k] (n_io pointers, at
 * most 64).  The slices are shared out over `nthreads` threads, each running whole slices
 * single-threaded in its own arena, so a call synchronises its team once instead of at every
 * step.  Returns 0, or k + 1 when step k failed in some slice (*err, *detail as above). */
int dl_plan_run_sliced(dl_plan *p, int nslices, char *const *io, int n_io,
                       const int64_t *slice_bytes, int nthreads, int *err, int64_t *detail);

/* Whether step s may run on the thread team: 0 when its work (multiply-adds, or 8 per element
 * of a streaming step) is below DL_PLAN_TEAM_MIN_WORK, then it runs on the calling thread
 * alone (plan_team.c gives the reasoning). */
#define DL_PLAN_TEAM_MIN_WORK ((int64_t)1 << 19)
int dl_plan_step_wants_team(const dl_plan_step *s);
/* Whether step s is an unbatched product of at most DL_PLAN_SPLIT_MAX_ROWS rows whose matrix
 * has at least DL_PLAN_SPLIT_MIN_WEIGHTS elements: its columns split over the executor's
 * helper threads (plan_gemm_split.c) in a plan that uses no OpenMP team. */
#define DL_PLAN_SPLIT_MAX_ROWS 4
#define DL_PLAN_SPLIT_MIN_WEIGHTS ((int64_t)1 << 17)
int dl_plan_step_splits_columns(const dl_plan_step *s);
/* Whether step s keeps the threads a call asks for when the machine is oversubscribed and
 * the call's team shrinks (dl_team_size_for_load): a step whose threads join once and share
 * nothing before (plan_team.c). */
int dl_plan_step_ignores_load(const dl_plan_step *s);
/* Where each step of a plan runs (plan_team.c): DL_PLAN_ALONE on the calling thread,
 * DL_PLAN_ON_TEAM with the OpenMP team (the call then binds it to cores), DL_PLAN_ON_HELPERS
 * split by columns over the helpers (only in plans where no step is DL_PLAN_ON_TEAM). */
enum { DL_PLAN_ALONE = 0, DL_PLAN_ON_TEAM = 1, DL_PLAN_ON_HELPERS = 2 };
void dl_plan_team_flags(int nsteps, const dl_plan_step *steps, unsigned char *team);
/* a few-row product's columns split over nthreads threads (the caller and helpers) */
void dl_plan_gemm_split(const dl_plan_step *s, const float *A, const float *B,
                        const float *bias, float *C, int nthreads);

/* The weight buffers plans share now (csrc/plan_shared.h): how many and their bytes. */
void dl_plan_shared_stats(int64_t *buffers, int64_t *bytes);
/* The columns of the float32 GEMM's register tile on the SIMD path in use (plan_conv.c): the
 * lowering sizes its choices of product orientation by it. */
int dl_plan_gemm_columns(void);

/* The element kernels of the executor (plan_ops.c, plan_simd.c). */
void dl_plan_copy(const dl_plan_step *s, const char *src, char *dst);
void dl_plan_fill(const dl_plan_step *s, char *dst);
void dl_plan_cast(const dl_plan_step *s, const char *x, char *y);
void dl_plan_where(const dl_plan_step *s, const uint8_t *c, const char *a, const char *b,
                   char *y);
int dl_plan_gather(const dl_plan_step *s, const char *data, const char *idx, char *out,
                   int64_t *bad);
void dl_plan_reduce(const dl_plan_step *s, const float *x, float *y);
void dl_plan_unary(const dl_plan_step *s, const float *x, float *y);
/* the int8 Linear step (plan_quant.c) and its scratch bytes */
int dl_plan_qlinear(const dl_plan_step *s, const char *x, const int8_t *packed,
                    const int32_t *colsum, const float *w_scale, const float *bias, char *y,
                    char *scratch);
size_t dl_plan_qlinear_scratch(size_t M, size_t K);
/* rows [r0, r1) of the float (M, K) x into a blob of quantized rows (QLINEAR's DL_QLIN_QROWS
 * input), per row as QLINEAR quantizes them itself; no threads */
void dl_plan_qrows_fill(char *blob, size_t M, size_t K, int qmax, const float *x, size_t r0,
                        size_t r1);
/* the static int8 CNN steps (plan_quant.c) */
int dl_plan_qconv(const dl_plan_step *s, const uint8_t *x, const int8_t *w,
                  const int32_t *colsum, const float *w_scale, const float *bias, uint8_t *y);
int dl_plan_qadd(const dl_plan_step *s, const uint8_t *a, const uint8_t *b, uint8_t *y);
void dl_plan_quantize(const dl_plan_step *s, const float *x, uint8_t *y);
void dl_plan_dequantize(const dl_plan_step *s, const uint8_t *x, float *y);
void dl_plan_qavgpool(const dl_plan_step *s, const uint8_t *x, uint8_t *y);
int dl_plan_qmaxpool(const dl_plan_step *s, const uint8_t *x, uint8_t *y);

#endif
