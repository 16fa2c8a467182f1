/* 2-D convolution: im2col + GEMM, a pointwise path without im2col, and a direct depthwise
 * kernel (see dlcore/conv.h for the contract and the workspace bound).  The algorithms are
 * written once in conv_impl.h (and the parts it includes) and instantiated here for float and
 * double; float32's inner loops come from the ISA's table (conv_kernels.h). */
#include <stdlib.h>
#include <string.h>
#include "dlcore/conv.h"
#include "dlcore/gemm.h"
#include "dlcore/runtime.h"
#include "conv_kernels.h"
#include "conv_panels.h"
#include "conv_routes.h"
#include "winograd.h"
#include "winograd_kernels.h"

/* multiply-adds below which a call stays on one thread */
#define DL_CONV_GRAIN ((size_t)1 << 20)
/* output maps smaller than this many pixels pack several images into one GEMM, up to about
 * DL_CONV_PACK_COLS columns per tile */
#define DL_CONV_PACK_P ((int64_t)128)
#define DL_CONV_PACK_COLS ((int64_t)1024)
/* bytes at most of a forward column tile whose rows (C/groups x taps) fit one GEMM K block
 * (see fwd_col_tile in conv_fwd_impl.h) */
#define DL_CONV_FWD_TILE_BYTES ((size_t)1 << 20)
/* bytes of one im2col chunk (a few hundred rows of a small map's column tile; see
 * chunk_channels in conv_tiles_impl.h) */
#define DL_CONV_CHUNK_BYTES ((size_t)256 << 10)
/* elements in one thread's depthwise input band (256 KiB of float: about L2 per core) */
#define DW_BAND_ELEMS ((int64_t)1 << 16)

static size_t g_col_bytes = DL_CONV_COL_BYTES;
size_t dl_conv_col_bytes(void) { return g_col_bytes; }
void dl_conv_set_col_bytes(size_t bytes) { g_col_bytes = bytes ? bytes : DL_CONV_COL_BYTES; }

/* ---- algorithm choice: Winograd for float32 3x3 stride-1 convolutions ---- */

static int g_algo = -1;   /* -1: not read from the environment yet */
/* this thread's calls may use the filter-transform cache (see dl_conv_cache_weights) */
static __thread int t_cache_weights;
/* the seal token of those calls' weights (see dl_conv_weight_token) */
static __thread uint64_t t_weight_token;

uint64_t dl_conv_weight_token(uint64_t token)
{
    const uint64_t prev = t_weight_token;
    t_weight_token = token;
    return prev;
}

int dl_conv_cache_weights(int on)
{
    const int prev = t_cache_weights;
    t_cache_weights = on != 0;
    return prev;
}

void dl_conv_set_algo(int algo)
{
    g_algo = algo >= DL_CONV_ALGO_AUTO && algo <= DL_CONV_ALGO_WINOGRAD4 ? algo
                                                                          : DL_CONV_ALGO_AUTO;
}

int dl_conv_get_algo(void)
{
    if (g_algo < 0) {
        const char *e = getenv("DLCORE_CONV_ALGO");
        g_algo = !e ? DL_CONV_ALGO_AUTO
                 : !strcmp(e, "im2col") ? DL_CONV_ALGO_IM2COL
                 : !strcmp(e, "winograd") ? DL_CONV_ALGO_WINOGRAD
                 : !strcmp(e, "winograd2x2") ? DL_CONV_ALGO_WINOGRAD2
                 : !strcmp(e, "winograd4x4") ? DL_CONV_ALGO_WINOGRAD4 : DL_CONV_ALGO_AUTO;
    }
    return g_algo;
}

/* p's forward (pass 0), input gradient (1) or weight gradient (2) as a Winograd correlation
 * (see winograd.h); 0 when Winograd does not apply (not 3x3, stride or dilation not 1,
 * grouped). */
static int wino_describe(const dl_conv_params *p, int pass, const float *w,
                         dl_wino_conv *c)
{
    if (p->groups != 1 || p->R != 3 || p->S != 3 || p->sh != 1 || p->sw != 1 || p->dh != 1 ||
        p->dw != 1)
        return 0;
    c->N = p->N;
    c->w = w;
    c->cache = 0;
    c->token = 0;
    if (pass != 1) {
        c->C = p->C, c->H = p->H, c->W = p->W, c->K = p->K, c->OH = p->OH, c->OW = p->OW;
        c->ph = p->ph, c->pw = p->pw;
        c->wk = p->C * 9, c->wc = 9, c->flip = 0;
    } else {
        /* gx = gy correlated with w[k][c] flipped, padding 2 - p (see winograd.h) */
        c->C = p->K, c->H = p->OH, c->W = p->OW, c->K = p->C, c->OH = p->H, c->OW = p->W;
        c->ph = 2 - p->ph, c->pw = 2 - p->pw;
        c->wk = 9, c->wc = p->C * 9, c->flip = 1;
    }
    return 1;
}

static int wino_tile_for(const dl_wino_conv *c, int pass)
{
    const int algo = dl_conv_get_algo(), isa = (int)dl_isa();
    if (algo == DL_CONV_ALGO_IM2COL) return 0;
    if (algo == DL_CONV_ALGO_WINOGRAD2) return 2;
    if (algo == DL_CONV_ALGO_WINOGRAD4) return 4;
    if (pass == 2)
        return algo == DL_CONV_ALGO_WINOGRAD ? dl_winograd_wgrad_tile_size(c, isa)
                                             : dl_winograd_wgrad_pick(c, isa);
    if (algo == DL_CONV_ALGO_WINOGRAD) return dl_winograd_tile_size(c, isa);
    return dl_winograd_pick(c, isa);
}

int dl_conv2d_algo_f32(const dl_conv_params *p, int pass)
{
    dl_wino_conv c;
    return wino_describe(p, pass, NULL, &c) ? wino_tile_for(&c, pass) : 0;
}

int dl_conv2d_wino_fwd_cached(const dl_conv_params *p, const float *w, dl_wino_conv *c)
{
    if (!wino_describe(p, 0, w, c)) return 0;
    c->cache = 1;
    return wino_tile_for(c, 0);
}

int dl_conv2d_algo_cached_f32(const dl_conv_params *p)
{
    dl_wino_conv c;
    return dl_conv2d_wino_fwd_cached(p, NULL, &c);
}

/* Runs p's forward / input gradient by Winograd when chosen: 1 and *rc set, else 0. */
static int try_winograd_f32(const dl_conv_params *p, int bwd, const float *in, const float *w,
                            const float *bias, float *out, int *rc)
{
    dl_wino_conv c;
    if (!wino_describe(p, bwd, w, &c)) return 0;
    c.cache = t_cache_weights;   /* the cost model leaves a cached transform out */
    c.token = c.cache ? t_weight_token : 0;
    const int m = wino_tile_for(&c, bwd);
    if (!m) return 0;
    /* a tile's transforms mix its values: inf - inf would put NaN where im2col gives a
     * finite output, so non-finite operands take im2col (the input is read once here, ~1%
     * of the call; the weights are checked as they are transformed: -2) */
    if (!winograd_kernels()->all_finite(in, (size_t)(c.N * c.C * c.H * c.W))) return 0;
    *rc = dl_winograd_conv_f32(&c, m, in, bias, out);
    return *rc != -2;
}

/* Runs p's weight gradient by Winograd when chosen: 1 and *rc set, else 0. */
static int try_winograd_wgrad_f32(const dl_conv_params *p, const float *x, const float *gy,
                                  float *gw, int *rc)
{
    dl_wino_conv c;
    if (!wino_describe(p, 2, NULL, &c)) return 0;
    const int m = wino_tile_for(&c, 2);
    if (!m) return 0;
    /* non-finite operands take im2col, as above (both are read once here) */
    const winograd_kernels_t *wk = winograd_kernels();
    if (!wk->all_finite(x, (size_t)(c.N * c.C * c.H * c.W)) ||
        !wk->all_finite(gy, (size_t)(c.N * c.K * c.OH * c.OW)))
        return 0;
    *rc = dl_winograd_wgrad_f32(&c, m, x, gy, gw);
    return 1;
}

static int try_winograd_wgrad_f64(const dl_conv_params *p, const double *x,
                                  const double *gy, double *gw, int *rc)
{
    (void)p, (void)x, (void)gy, (void)gw, (void)rc;
    return 0;
}

static int try_winograd_f64(const dl_conv_params *p, int bwd, const double *in,
                            const double *w, const double *bias, double *out, int *rc)
{
    (void)p, (void)bwd, (void)in, (void)w, (void)bias, (void)out, (void)rc;
    return 0;
}

/* The forward's routes before im2col + GEMM, in the planner's order (dlcore/jit/
 * lower_layers.py's _conv), so that an eager call runs the kernel a plan of the same
 * convolution runs: the direct kernels, Winograd, the small-map transposed product
 * (conv_routes.h).  1 and *rc set when one ran. */
static int try_fwd_routes_f32(const dl_conv_params *p, const float *x, const float *w,
                              const float *bias, float *y, int *rc)
{
    return dl_conv_route_direct_f32(p, x, w, bias, y, rc) ||
           try_winograd_f32(p, 0, x, w, bias, y, rc) ||
           dl_conv_route_small_map_f32(p, x, w, bias, y, rc);
}

static int try_fwd_routes_f64(const dl_conv_params *p, const double *x, const double *w,
                              const double *bias, double *y, int *rc)
{
    return try_winograd_f64(p, 0, x, w, bias, y, rc);
}

static inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t roundup16(int64_t v) { return (v + 15) / 16 * 16; }

/* Split the tiles over threads (each GEMM then on one thread) when that balances well;
 * otherwise the caller runs tiles in order and lets each GEMM use the threads. */
static inline int split_outer(int64_t units, int nt)
{
    return nt > 1 && units >= nt && (units >= 4 * (int64_t)nt || units % nt == 0);
}

/* Inside a team whose threads each allocate scratch: whether every thread got it (`ok`: this
 * thread did).  Ends in a barrier, so all threads return the same answer and either all work
 * or all give up (no thread waits at a later barrier for one that left). */
static inline int team_all_ok(int ok, int *fail)
{
    if (!ok) {
        #pragma omp atomic write
        *fail = 1;
    }
    #pragma omp barrier
    return !*fail;
}

/* the depthwise inner loops: float stride 1 goes to the SIMD copy for this CPU */
static void dw_rows_f32(const float *buf, int64_t bw, float *out, int64_t oh, int64_t ow,
                        int64_t ldo, const float *wk, int64_t R, int64_t S, int64_t sh,
                        int64_t sw, int64_t dh, int64_t dw, float init, int accumulate);
static void dw_wgrad_f32(const float *buf, int64_t bw, const float *gy, int64_t ldg, int64_t oh,
                         int64_t ow, int64_t R, int64_t S, int64_t sh, int64_t sw, int64_t dh,
                         int64_t dw, float *gw);
static void dw_rows_f64(const double *buf, int64_t bw, double *out, int64_t oh, int64_t ow,
                        int64_t ldo, const double *wk, int64_t R, int64_t S, int64_t sh,
                        int64_t sw, int64_t dh, int64_t dw, double init, int accumulate);
static void dw_wgrad_f64(const double *buf, int64_t bw, const double *gy, int64_t ldg,
                         int64_t oh, int64_t ow, int64_t R, int64_t S, int64_t sh, int64_t sw,
                         int64_t dh, int64_t dw, double *gw);

/* Depthwise with "same" padding read in place (conv_dw_same_simd.c), float32 only: 1 when p
 * is not a form they take (then the band kernel of conv_dw_impl.h runs), else 0 or -1.  The
 * executor's kernel splits planes over threads from 2^16 multiply-adds, where its team is
 * kept busy; an eager call keeps the conv grain (one thread below DL_CONV_GRAIN), as the
 * band kernel did. */
/* -1, or the thread setting to restore after a call kept on one thread */
static int dw_same_grain_begin(const dl_conv_params *p)
{
    const size_t work = (size_t)(p->N * p->K * p->OH * p->OW * p->R * p->S);
    return work < DL_CONV_GRAIN ? dl_set_local_num_threads(1) : -1;
}
static void dw_same_grain_end(int prev)
{
    if (prev >= 0) dl_set_local_num_threads(prev);
}
static int dw_same_fwd_f32(const dl_conv_params *p, const float *x, const float *w,
                           const float *bias, float *y)
{
    const int prev = dw_same_grain_begin(p);
    const int rc = conv_kernels()->dw_same_fwd(p, x, w, bias, y);
    dw_same_grain_end(prev);
    return rc;
}
static int dw_same_bwd_data_f32(const dl_conv_params *p, const float *gy, const float *w,
                                const float *bias_init, float *gx)
{
    const int prev = dw_same_grain_begin(p);
    const int rc = conv_kernels()->dw_same_bwd_data(p, gy, w, bias_init, gx);
    dw_same_grain_end(prev);
    return rc;
}
static int dw_same_wgrad_f32(const dl_conv_params *p, const float *x, const float *gy,
                             float *gw, float *gb);
static int dw_same_fwd_f64(const dl_conv_params *p, const double *x, const double *w,
                           const double *bias, double *y)
{
    (void)p, (void)x, (void)w, (void)bias, (void)y;
    return 1;
}
static int dw_same_bwd_data_f64(const dl_conv_params *p, const double *gy, const double *w,
                                const double *bias_init, double *gx)
{
    (void)p, (void)gy, (void)w, (void)bias_init, (void)gx;
    return 1;
}
static int dw_same_wgrad_f64(const dl_conv_params *p, const double *x, const double *gy,
                             double *gw, double *gb)
{
    (void)p, (void)x, (void)gy, (void)gw, (void)gb;
    return 1;
}

static void im2col_f32(const dl_conv_params *p, const float *x, int64_t Cg, int64_t p0,
                       int64_t np, float *col, int64_t ldc);
static void col2im_f32(const dl_conv_params *p, const float *col, int64_t Cg, int64_t p0,
                       int64_t np, float *x, int64_t ldc);
static void im2col_f64(const dl_conv_params *p, const double *x, int64_t Cg, int64_t p0,
                       int64_t np, double *col, int64_t ldc);
static void col2im_f64(const dl_conv_params *p, const double *col, int64_t Cg, int64_t p0,
                       int64_t np, double *x, int64_t ldc);

/* the small-map forms (conv_im2col_impl.h): float32 from the ISA's table, float64 portable */
static void im2col_image_f32(const dl_conv_params *p, const float *x, int64_t Cg, float *xp,
                             float *col, int64_t ldc);
static void col2im_image_f32(const dl_conv_params *p, const float *col, int64_t Cg, float *xp,
                             float *x, int64_t ldc);
static void im2col_image_f64(const dl_conv_params *p, const double *x, int64_t Cg, double *xp,
                             double *col, int64_t ldc);
static void col2im_image_f64(const dl_conv_params *p, const double *col, int64_t Cg,
                             double *xp, double *x, int64_t ldc);

/* A left GEMM operand used for several products (the weights for every image, an image's
 * output gradient for every im2col chunk): float32 packs it once (`pack`; unpacked, each
 * product packs its own), float64 hands it to the GEMM as it is. */
typedef dl_sgemm_packed_a lhs_f32;
static void lhs_init_f32(lhs_f32 *l, int transa, int64_t M, int64_t K, const float *A,
                         int64_t lda, int pack)
{
    if (pack) {
        /* on failure l still describes A, and runs on it unpacked */
        (void)dl_sgemm_pack_a(transa, (size_t)M, (size_t)K, A, lda, l);
        return;
    }
    l->p = NULL;
    l->transa = transa;
    l->M = (size_t)M;
    l->K = (size_t)K;
    l->A = A;
    l->lda = lda;
    l->isa = (int)dl_isa();
}
static void lhs_gemm_f32(const lhs_f32 *l, int transb, int64_t N, const float *B, int64_t ldb,
                         float beta, float *C, int64_t ldc, const float *bias,
                         dl_bias_t bias_kind)
{
    dl_sgemm_packed_run(l, transb, (size_t)N, 1.0f, B, ldb, beta, C, ldc, bias, bias_kind,
                        DL_ACT_NONE, 0);
}
static void lhs_free_f32(lhs_f32 *l) { dl_sgemm_packed_a_free(l); }

typedef struct {
    int transa;
    int64_t M, K, lda;
    const double *A;
} lhs_f64;
static void lhs_init_f64(lhs_f64 *l, int transa, int64_t M, int64_t K, const double *A,
                         int64_t lda, int pack)
{
    (void)pack;
    l->transa = transa;
    l->M = M;
    l->K = K;
    l->A = A;
    l->lda = lda;
}
static void lhs_gemm_f64(const lhs_f64 *l, int transb, int64_t N, const double *B,
                         int64_t ldb, double beta, double *C, int64_t ldc, const double *bias,
                         dl_bias_t bias_kind)
{
    dl_dgemm(l->transa, transb, (size_t)l->M, (size_t)N, (size_t)l->K, 1.0, l->A, l->lda, B,
             ldb, beta, C, ldc, bias, bias_kind, DL_ACT_NONE);
}
static void lhs_free_f64(lhs_f64 *l) { (void)l; }

#define DL_TEMPLATE "conv_impl.h"
#include "each_dtype.h"

/* 3x3, stride 1, padding 1, one filter per channel: each thread takes whole channels, each
 * plane pair one pass of the kernel, which sums the bias gradient (gb, may be NULL) on the way
 * (float32 sums per plane, a double sum over the batch, as the band kernel's) */
static int dw_same_wgrad_f32(const dl_conv_params *p, const float *x, const float *gy,
                             float *gw, float *gb)
{
    if (!(p->groups == p->C && p->K == p->C && p->R == 3 && p->S == 3 && p->sh == 1 &&
          p->sw == 1 && p->ph == 1 && p->pw == 1 && p->dh == 1 && p->dw == 1 &&
          p->OH == p->H && p->OW == p->W))
        return 1;
    void (*const plane)(const float *, const float *, int64_t, int64_t, float *, float *) =
        conv_kernels()->dw3_wgrad_plane;
    const int64_t HW = p->H * p->W;
    const int nt = dl_threads_for((size_t)(p->N * p->K * HW * 9), DL_CONV_GRAIN);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < p->K; k++) {
        double acc[9] = {0}, bsum = 0.0;
        for (int64_t n = 0; n < p->N; n++) {
            float part[9], gsum;
            plane(x + (n * p->C + k) * HW, gy + (n * p->K + k) * HW, p->H, p->W, part, &gsum);
            for (int q = 0; q < 9; q++) acc[q] += part[q];
            bsum += gsum;
        }
        for (int q = 0; q < 9; q++) gw[k * 9 + q] = (float)acc[q];
        if (gb) gb[k] = (float)bsum;
    }
    return 0;
}

static void dw_rows_f32(const float *buf, int64_t bw, float *out, int64_t oh, int64_t ow,
                        int64_t ldo, const float *wk, int64_t R, int64_t S, int64_t sh,
                        int64_t sw, int64_t dh, int64_t dw, float init, int accumulate)
{
    if (sh != 1 || sw != 1) {
        dw_rows_scalar_f32(buf, bw, out, oh, ow, ldo, wk, R, S, sh, sw, dh, dw, init, accumulate);
        return;
    }
    conv_kernels()->dw_rows_s1(buf, bw, out, oh, ow, ldo, wk, R, S, dh, dw, init, accumulate);
}

static void dw_wgrad_f32(const float *buf, int64_t bw, const float *gy, int64_t ldg, int64_t oh,
                         int64_t ow, int64_t R, int64_t S, int64_t sh, int64_t sw, int64_t dh,
                         int64_t dw, float *gw)
{
    if (sh != 1 || sw != 1) {
        dw_wgrad_scalar_f32(buf, bw, gy, ldg, oh, ow, R, S, sh, sw, dh, dw, gw);
        return;
    }
    conv_kernels()->dw_wgrad_s1(buf, bw, gy, ldg, oh, ow, R, S, dh, dw, gw);
}

static void dw_rows_f64(const double *buf, int64_t bw, double *out, int64_t oh, int64_t ow,
                        int64_t ldo, const double *wk, int64_t R, int64_t S, int64_t sh,
                        int64_t sw, int64_t dh, int64_t dw, double init, int accumulate)
{
    dw_rows_scalar_f64(buf, bw, out, oh, ow, ldo, wk, R, S, sh, sw, dh, dw, init, accumulate);
}

static void dw_wgrad_f64(const double *buf, int64_t bw, const double *gy, int64_t ldg,
                         int64_t oh, int64_t ow, int64_t R, int64_t S, int64_t sh, int64_t sw,
                         int64_t dh, int64_t dw, double *gw)
{
    dw_wgrad_scalar_f64(buf, bw, gy, ldg, oh, ow, R, S, sh, sw, dh, dw, gw);
}

static void im2col_f32(const dl_conv_params *p, const float *x, int64_t Cg, int64_t p0,
                       int64_t np, float *col, int64_t ldc)
{
    conv_kernels()->im2col(p, x, Cg, p0, np, col, ldc);
}

static void col2im_f32(const dl_conv_params *p, const float *col, int64_t Cg, int64_t p0,
                       int64_t np, float *x, int64_t ldc)
{
    conv_kernels()->col2im(p, col, Cg, p0, np, x, ldc);
}

static void im2col_f64(const dl_conv_params *p, const double *x, int64_t Cg, int64_t p0,
                       int64_t np, double *col, int64_t ldc)
{
    im2col_scalar_f64(p, x, Cg, p0, np, col, ldc);
}

static void col2im_f64(const dl_conv_params *p, const double *col, int64_t Cg, int64_t p0,
                       int64_t np, double *x, int64_t ldc)
{
    col2im_scalar_f64(p, col, Cg, p0, np, x, ldc);
}

static void im2col_image_f32(const dl_conv_params *p, const float *x, int64_t Cg, float *xp,
                             float *col, int64_t ldc)
{
    conv_kernels()->im2col_image(p, x, Cg, xp, col, ldc);
}

static void col2im_image_f32(const dl_conv_params *p, const float *col, int64_t Cg, float *xp,
                             float *x, int64_t ldc)
{
    conv_kernels()->col2im_image(p, col, Cg, xp, x, ldc);
}

static void im2col_image_f64(const dl_conv_params *p, const double *x, int64_t Cg, double *xp,
                             double *col, int64_t ldc)
{
    im2col_image_scalar_f64(p, x, Cg, xp, col, ldc);
}

static void col2im_image_f64(const dl_conv_params *p, const double *col, int64_t Cg,
                             double *xp, double *x, int64_t ldc)
{
    col2im_image_scalar_f64(p, col, Cg, xp, x, ldc);
}
