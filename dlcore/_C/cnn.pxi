# Convolution, pooling, upsampling and batch-norm kernels (csrc/conv.c, pool.c, batchnorm.c).
# The Python layer (dlcore.ops.conv / pool / batchnorm) validates user arguments; these
# wrappers re-check what memory safety depends on: dtypes, C-contiguity, and that every
# array's shape matches the sizes handed to C.
from libc.stdint cimport int64_t, uint64_t

cdef extern from "dlcore/conv.h":
    ctypedef struct dl_conv_params:
        int64_t N, C, H, W, K, R, S, OH, OW, sh, sw, ph, pw, dh, dw, groups
    int dl_conv2d_fwd_f32(const dl_conv_params *p, const float *x, const float *w,
                          const float *bias, float *y) nogil
    int dl_conv2d_fwd_f64(const dl_conv_params *p, const double *x, const double *w,
                          const double *bias, double *y) nogil
    int dl_conv2d_bwd_data_f32(const dl_conv_params *p, const float *gy, const float *w,
                               const float *bias_init, float *gx) nogil
    int dl_conv2d_bwd_data_f64(const dl_conv_params *p, const double *gy, const double *w,
                               const double *bias_init, double *gx) nogil
    int dl_conv2d_bwd_weight_f32(const dl_conv_params *p, const float *x, const float *gy,
                                 float *gw, float *gb) nogil
    int dl_conv2d_bwd_weight_f64(const dl_conv_params *p, const double *x, const double *gy,
                                 double *gw, double *gb) nogil
    size_t dl_conv_col_bytes() nogil
    void dl_conv_set_algo(int algo) nogil
    int dl_conv_get_algo() nogil
    int dl_conv2d_algo_f32(const dl_conv_params *p, int pass_) nogil
    int dl_conv2d_algo_cached_f32(const dl_conv_params *p) nogil
    int dl_conv_cache_weights(int on) nogil
    uint64_t dl_conv_weight_token(uint64_t token) nogil
    size_t dl_wino_cache_trusted() nogil
    void dl_wino_cache_clear() nogil
    void dl_wino_cache_stats(size_t *entries, size_t *nbytes, size_t *hits, size_t *misses) nogil
    void dl_conv_set_col_bytes(size_t b) nogil
    void dl_channel_sum_f32(int64_t N, int64_t C, int64_t L, const float *x, float *out) nogil
    void dl_channel_sum_f64(int64_t N, int64_t C, int64_t L, const double *x, double *out) nogil

cdef extern from "dlcore/pool.h":
    ctypedef struct dl_pool_params:
        int64_t planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw
    void dl_maxpool2d_fwd_f32(const dl_pool_params *p, const float *x, float *y, int64_t *idx) nogil
    int dl_maxpool2d_route_f32(const dl_pool_params *p, const float *x, float *y, int *rc) nogil
    void dl_maxpool2d_fwd_f64(const dl_pool_params *p, const double *x, double *y, int64_t *idx) nogil
    int64_t dl_index_scatter2d_f32(int64_t planes, int64_t in_size, int64_t out_size,
                                   const float *gy, const int64_t *idx, float *gx) nogil
    int64_t dl_index_scatter2d_f64(int64_t planes, int64_t in_size, int64_t out_size,
                                   const double *gy, const int64_t *idx, double *gx) nogil
    int64_t dl_index_gather2d_f32(int64_t planes, int64_t in_size, int64_t out_size,
                                  const float *x, const int64_t *idx, float *y) nogil
    int64_t dl_index_gather2d_f64(int64_t planes, int64_t in_size, int64_t out_size,
                                  const double *x, const int64_t *idx, double *y) nogil
    void dl_avgpool2d_fwd_f32(const dl_pool_params *p, const float *x, float *y, int cip,
                              int64_t divisor) nogil
    void dl_avgpool2d_fwd_f64(const dl_pool_params *p, const double *x, double *y, int cip,
                              int64_t divisor) nogil
    void dl_avgpool2d_bwd_f32(const dl_pool_params *p, const float *gy, float *gx, int cip,
                              int64_t divisor) nogil
    void dl_avgpool2d_bwd_f64(const dl_pool_params *p, const double *gy, double *gx, int cip,
                              int64_t divisor) nogil
    void dl_adaptive_avgpool2d_fwd_f32(const dl_pool_params *p, const float *x, float *y) nogil
    void dl_adaptive_avgpool2d_fwd_f64(const dl_pool_params *p, const double *x, double *y) nogil
    void dl_adaptive_avgpool2d_bwd_f32(const dl_pool_params *p, const float *gy, float *gx) nogil
    void dl_adaptive_avgpool2d_bwd_f64(const dl_pool_params *p, const double *gy, double *gx) nogil
    void dl_adaptive_maxpool2d_fwd_f32(const dl_pool_params *p, const float *x, float *y,
                                       int64_t *idx) nogil
    void dl_adaptive_maxpool2d_fwd_f64(const dl_pool_params *p, const double *x, double *y,
                                       int64_t *idx) nogil
    void dl_upsample_nearest2d_fwd_f32(const dl_pool_params *p, float sh, float sw,
                                       const float *x, float *y) nogil
    void dl_upsample_nearest2d_fwd_f64(const dl_pool_params *p, float sh, float sw,
                                       const double *x, double *y) nogil
    void dl_upsample_nearest2d_bwd_f32(const dl_pool_params *p, float sh, float sw,
                                       const float *gy, float *gx) nogil
    void dl_upsample_nearest2d_bwd_f64(const dl_pool_params *p, float sh, float sw,
                                       const double *gy, double *gx) nogil
    void dl_upsample_bilinear2d_fwd_f32(const dl_pool_params *p, int align, double sh, double sw,
                                        const float *x, float *y) nogil
    void dl_upsample_bilinear2d_fwd_f64(const dl_pool_params *p, int align, double sh, double sw,
                                        const double *x, double *y) nogil
    void dl_upsample_bilinear2d_bwd_f32(const dl_pool_params *p, int align, double sh, double sw,
                                        const float *gy, float *gx) nogil
    void dl_upsample_bilinear2d_bwd_f64(const dl_pool_params *p, int align, double sh, double sw,
                                        const double *gy, double *gx) nogil

cdef extern from "dlcore/batchnorm.h":
    int dl_batchnorm_fwd_train_f32(int64_t N, int64_t C, int64_t L, const float *x,
                                   const float *weight, const float *bias, double eps, float *y,
                                   float *save_mean, float *save_invstd, float *running_mean,
                                   float *running_var, double momentum) nogil
    int dl_batchnorm_fwd_train_f64(int64_t N, int64_t C, int64_t L, const double *x,
                                   const double *weight, const double *bias, double eps,
                                   double *y, double *save_mean, double *save_invstd,
                                   double *running_mean, double *running_var,
                                   double momentum) nogil
    void dl_batchnorm_fwd_eval_f32(int64_t N, int64_t C, int64_t L, const float *x,
                                   const float *weight, const float *bias, const float *mean,
                                   const float *invstd, float *y) nogil
    void dl_batchnorm_fwd_eval_f64(int64_t N, int64_t C, int64_t L, const double *x,
                                   const double *weight, const double *bias,
                                   const double *mean, const double *invstd, double *y) nogil
    void dl_batchnorm_bwd_f32(int64_t N, int64_t C, int64_t L, const float *x, const float *gy,
                              const float *weight, const float *mean, const float *invstd,
                              int batch_stats, float *gx, float *gw, float *gb) nogil
    void dl_batchnorm_bwd_f64(int64_t N, int64_t C, int64_t L, const double *x,
                              const double *gy, const double *weight, const double *mean,
                              const double *invstd, int batch_stats, double *gx, double *gw,
                              double *gb) nogil


cdef int _cnn_conv_setup(str fname, dl_conv_params *p, object x, object w, object y, tuple stride,
                     tuple padding, tuple dilation, int64_t groups) except -1:
    """Fills p from x (N, C, H, W), w (K, C/groups, R, S) and y (N, K, OH, OW)."""
    if x.ndim != 4 or w.ndim != 4 or y.ndim != 4:
        raise ValueError("%s: x, w, y must be 4-D, got shapes %s, %s, %s"
                         % (fname, x.shape, w.shape, y.shape))
    if groups < 1:
        raise ValueError("%s: groups must be >= 1, got %d" % (fname, groups))
    p.N, p.C, p.H, p.W = x.shape
    p.K, _, p.R, p.S = w.shape
    p.OH, p.OW = y.shape[2], y.shape[3]
    p.sh, p.sw = stride
    p.ph, p.pw = padding
    p.dh, p.dw = dilation
    p.groups = groups
    if p.C % groups or p.K % groups or w.shape[1] * groups != p.C:
        raise ValueError("%s: weight %s does not fit input %s with groups=%d"
                         % (fname, w.shape, x.shape, groups))
    if y.shape[0] != p.N or y.shape[1] != p.K:
        raise ValueError("%s: output %s does not fit input %s and weight %s"
                         % (fname, y.shape, x.shape, w.shape))
    if min(p.N, p.C, p.H, p.W, p.K, p.R, p.S, p.OH, p.OW) < 1:
        raise ValueError("%s: every size must be positive: input %s, weight %s, output %s"
                         % (fname, x.shape, w.shape, y.shape))
    if min(p.sh, p.sw, p.dh, p.dw) < 1:
        raise ValueError("%s: stride and dilation must be >= 1, got %s, %s"
                         % (fname, stride, dilation))
    return 0


def conv2d_forward(x, w, bias, y, tuple stride, tuple padding, tuple dilation, int64_t groups,
                   bint cache_weights=False, uint64_t weight_token=0):
    """y = conv2d(x, w) + bias, written into y (N, K, OH, OW).  cache_weights: a Winograd
    call may keep / reuse w's filter transform (see winograd_cache_info); weight_token: w's
    seal token (dlcore/autograd/sealed.py), 0 for none."""
    cdef dl_conv_params p
    cdef int t = common_float_type("conv2d", (("input", x), ("weight", w), ("bias", bias), ("out", y)))
    _cnn_conv_setup("conv2d", &p, x, w, y, stride, padding, dilation, groups)
    cdef void *px = checked_ptr(x, "conv2d", "input", t)
    cdef void *pw_ = checked_ptr(w, "conv2d", "weight", t)
    cdef void *pb = checked_ptr(bias, "conv2d", "bias", t, (p.K,), OP_OPTIONAL)
    cdef void *py = checked_ptr(y, "conv2d", "out", t, None, OP_WRITE)
    cdef int rc, prev
    cdef uint64_t prev_token
    with nogil:
        if t == cnp.NPY_FLOAT32:
            prev = dl_conv_cache_weights(cache_weights)
            prev_token = dl_conv_weight_token(weight_token if cache_weights else 0)
            rc = dl_conv2d_fwd_f32(&p, <float*>px, <float*>pw_, <float*>pb, <float*>py)
            dl_conv_cache_weights(prev)
            dl_conv_weight_token(prev_token)
        else:
            rc = dl_conv2d_fwd_f64(&p, <double*>px, <double*>pw_, <double*>pb, <double*>py)
    if rc:
        raise MemoryError("conv2d: could not allocate the convolution workspace")
    return y


def conv2d_backward_data(gy, w, bias_init, gx, tuple stride, tuple padding, tuple dilation,
                         int64_t groups, bint cache_weights=False, uint64_t weight_token=0):
    """gx = the input gradient of conv2d for output gradient gy (plus bias_init per channel);
    cache_weights and weight_token as conv2d_forward's."""
    cdef dl_conv_params p
    cdef int t = common_float_type("conv2d_backward_data", (("grad_output", gy), ("weight", w),
                                                      ("bias", bias_init), ("grad_input", gx)))
    _cnn_conv_setup("conv2d_backward_data", &p, gx, w, gy, stride, padding, dilation, groups)
    cdef void *pgy = checked_ptr(gy, "conv2d_backward_data", "grad_output", t)
    cdef void *pw_ = checked_ptr(w, "conv2d_backward_data", "weight", t)
    cdef void *pb = checked_ptr(bias_init, "conv2d_backward_data", "bias", t, (p.C,), OP_OPTIONAL)
    cdef void *pgx = checked_ptr(gx, "conv2d_backward_data", "grad_input", t, None, OP_WRITE)
    cdef int rc, prev
    cdef uint64_t prev_token
    with nogil:
        if t == cnp.NPY_FLOAT32:
            prev = dl_conv_cache_weights(cache_weights)
            prev_token = dl_conv_weight_token(weight_token if cache_weights else 0)
            rc = dl_conv2d_bwd_data_f32(&p, <float*>pgy, <float*>pw_, <float*>pb, <float*>pgx)
            dl_conv_cache_weights(prev)
            dl_conv_weight_token(prev_token)
        else:
            rc = dl_conv2d_bwd_data_f64(&p, <double*>pgy, <double*>pw_, <double*>pb, <double*>pgx)
    if rc:
        raise MemoryError("conv2d: could not allocate the convolution workspace")
    return gx


def conv2d_backward_weight(x, gy, gw, gb, tuple wshape, tuple stride, tuple padding,
                           tuple dilation, int64_t groups):
    """gw (shape wshape) and gb (K) = conv2d's weight and bias gradients; either may be None."""
    cdef dl_conv_params p
    cdef int t = common_float_type("conv2d_backward_weight", (("input", x), ("grad_output", gy),
                                                        ("grad_weight", gw), ("grad_bias", gb)))
    dummy = np.lib.stride_tricks.as_strided(np.empty(1, np.float32), wshape, (0, 0, 0, 0))
    _cnn_conv_setup("conv2d_backward_weight", &p, x, dummy, gy, stride, padding, dilation, groups)
    cdef str fn = "conv2d_backward_weight"
    cdef void *px = checked_ptr(x, fn, "input", t)
    cdef void *pgy = checked_ptr(gy, fn, "grad_output", t)
    cdef void *pgw = checked_ptr(gw, fn, "grad_weight", t, wshape, OP_WRITE | OP_OPTIONAL)
    cdef void *pgb = checked_ptr(gb, fn, "grad_bias", t, (p.K,), OP_WRITE | OP_OPTIONAL)
    cdef int rc
    with nogil:
        if t == cnp.NPY_FLOAT32:
            rc = dl_conv2d_bwd_weight_f32(&p, <float*>px, <float*>pgy, <float*>pgw, <float*>pgb)
        else:
            rc = dl_conv2d_bwd_weight_f64(&p, <double*>px, <double*>pgy, <double*>pgw,
                                          <double*>pgb)
    if rc:
        raise MemoryError("conv2d: could not allocate the convolution workspace")


def channel_sum(x, out):
    """out[c] = x[:, c].sum() for x of shape (N, C, ...)."""
    cdef int t = common_float_type("channel_sum", (("x", x), ("out", out)))
    if x.ndim < 2:
        raise ValueError("channel_sum: x must have >= 2 dims, got shape %s" % (x.shape,))
    cdef int64_t N = x.shape[0], C = x.shape[1], L = x.size // max(N * C, 1)
    cdef void *px = checked_ptr(x, "channel_sum", "x", t)
    cdef void *po = checked_ptr(out, "channel_sum", "out", t, (C,), OP_WRITE)
    if N * C == 0:
        out[...] = 0
        return out
    with nogil:
        if t == cnp.NPY_FLOAT32:
            dl_channel_sum_f32(N, C, L, <float*>px, <float*>po)
        else:
            dl_channel_sum_f64(N, C, L, <double*>px, <double*>po)
    return out


cdef int _cnn_pool_setup(str fname, dl_pool_params *p, object x, object y, tuple kernel,
                     tuple stride, tuple padding, tuple dilation) except -1:
    if x.ndim != 4 or y.ndim != 4 or x.shape[:2] != y.shape[:2]:
        raise ValueError("%s: input %s and output %s must be 4-D with the same (N, C)"
                         % (fname, x.shape, y.shape))
    p.planes = x.shape[0] * x.shape[1]
    p.H, p.W = x.shape[2], x.shape[3]
    p.OH, p.OW = y.shape[2], y.shape[3]
    p.kh, p.kw = kernel
    p.sh, p.sw = stride
    p.ph, p.pw = padding
    p.dh, p.dw = dilation
    if min(p.H, p.W, p.OH, p.OW) < 1 and p.planes > 0:
        raise ValueError("%s: spatial sizes must be positive: input %s, output %s"
                         % (fname, x.shape, y.shape))
    if min(p.kh, p.kw, p.sh, p.sw, p.dh, p.dw) < 1 or min(p.ph, p.pw) < 0:
        raise ValueError("%s: bad kernel %s / stride %s / padding %s / dilation %s"
                         % (fname, kernel, stride, padding, dilation))
    return 0


def maxpool2d_forward(x, y, idx, tuple kernel, tuple stride, tuple padding, tuple dilation):
    """y = max pooling of x; idx (int64, y's shape) gets the flat argmax in each plane unless None."""
    cdef dl_pool_params p
    cdef int t = common_float_type("max_pool2d", (("input", x), ("out", y)))
    _cnn_pool_setup("max_pool2d", &p, x, y, kernel, stride, padding, dilation)
    cdef void *px = checked_ptr(x, "max_pool2d", "input", t)
    cdef void *py = checked_ptr(y, "max_pool2d", "out", t, None, OP_WRITE)
    cdef int64_t *pi = <int64_t*>checked_ptr(idx, "max_pool2d", "indices", cnp.NPY_INT64,
                                             tuple(y.shape), OP_WRITE | OP_OPTIONAL)
    cdef int rc = 0
    with nogil:
        if t == cnp.NPY_FLOAT32:
            # no indices (inference): the plan executor's kernels where they take the window
            if pi != NULL or not dl_maxpool2d_route_f32(&p, <float*>px, <float*>py, &rc):
                dl_maxpool2d_fwd_f32(&p, <float*>px, <float*>py, pi)
        else:
            dl_maxpool2d_fwd_f64(&p, <double*>px, <double*>py, pi)
    if rc:
        raise MemoryError("max_pool2d: could not allocate scratch memory")
    return y


def index_scatter2d(gy, idx, gx):
    """gx[n, c].flat[idx[n, c, o]] += gy[n, c, o] with gx zeroed first (max-pool backward,
    max-unpool forward).  Returns the number of out-of-range indices (skipped)."""
    cdef int t = common_float_type("index_scatter2d", (("src", gy), ("out", gx)))
    if gy.ndim < 2 or gx.ndim < 2 or gy.shape[:2] != gx.shape[:2]:
        raise ValueError("index_scatter2d: src %s and out %s must share (N, C)" % (gy.shape, gx.shape))
    cdef int64_t *pi = <int64_t*>checked_ptr(idx, "index_scatter2d", "indices", cnp.NPY_INT64,
                                             tuple(gy.shape))
    cdef void *pg = checked_ptr(gy, "index_scatter2d", "src", t)
    cdef void *po = checked_ptr(gx, "index_scatter2d", "out", t, None, OP_WRITE)
    cdef int64_t planes = gx.shape[0] * gx.shape[1]
    cdef int64_t ins = gx.size // planes if planes else 0
    cdef int64_t outs = gy.size // planes if planes else 0
    cdef int64_t bad = 0
    if planes == 0:
        return 0
    with nogil:
        if t == cnp.NPY_FLOAT32:
            bad = dl_index_scatter2d_f32(planes, ins, outs, <float*>pg, pi, <float*>po)
        else:
            bad = dl_index_scatter2d_f64(planes, ins, outs, <double*>pg, pi, <double*>po)
    return bad


def index_gather2d(x, idx, y):
    """y[n, c, o] = x[n, c].flat[idx[n, c, o]]; returns the number of out-of-range indices."""
    cdef int t = common_float_type("index_gather2d", (("src", x), ("out", y)))
    if x.ndim < 2 or y.ndim < 2 or x.shape[:2] != y.shape[:2]:
        raise ValueError("index_gather2d: src %s and out %s must share (N, C)" % (x.shape, y.shape))
    cdef int64_t *pi = <int64_t*>checked_ptr(idx, "index_gather2d", "indices", cnp.NPY_INT64,
                                             tuple(y.shape))
    cdef void *px = checked_ptr(x, "index_gather2d", "src", t)
    cdef void *py = checked_ptr(y, "index_gather2d", "out", t, None, OP_WRITE)
    cdef int64_t planes = x.shape[0] * x.shape[1]
    cdef int64_t ins = x.size // planes if planes else 0
    cdef int64_t outs = y.size // planes if planes else 0
    cdef int64_t bad = 0
    if planes == 0:
        return 0
    with nogil:
        if t == cnp.NPY_FLOAT32:
            bad = dl_index_gather2d_f32(planes, ins, outs, <float*>px, pi, <float*>py)
        else:
            bad = dl_index_gather2d_f64(planes, ins, outs, <double*>px, pi, <double*>py)
    return bad


def avgpool2d_forward(x, y, tuple kernel, tuple stride, tuple padding, bint count_include_pad,
                      int64_t divisor):
    cdef dl_pool_params p
    cdef int t = common_float_type("avg_pool2d", (("input", x), ("out", y)))
    _cnn_pool_setup("avg_pool2d", &p, x, y, kernel, stride, padding, (1, 1))
    cdef void *px = checked_ptr(x, "avg_pool2d", "input", t)
    cdef void *py = checked_ptr(y, "avg_pool2d", "out", t, None, OP_WRITE)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            dl_avgpool2d_fwd_f32(&p, <float*>px, <float*>py, count_include_pad, divisor)
        else:
            dl_avgpool2d_fwd_f64(&p, <double*>px, <double*>py, count_include_pad, divisor)
    return y


def avgpool2d_backward(gy, gx, tuple kernel, tuple stride, tuple padding,
                       bint count_include_pad, int64_t divisor):
    cdef dl_pool_params p
    cdef int t = common_float_type("avg_pool2d_backward", (("grad_output", gy), ("grad_input", gx)))
    _cnn_pool_setup("avg_pool2d_backward", &p, gx, gy, kernel, stride, padding, (1, 1))
    cdef void *pg = checked_ptr(gy, "avg_pool2d_backward", "grad_output", t)
    cdef void *po = checked_ptr(gx, "avg_pool2d_backward", "grad_input", t, None, OP_WRITE)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            dl_avgpool2d_bwd_f32(&p, <float*>pg, <float*>po, count_include_pad, divisor)
        else:
            dl_avgpool2d_bwd_f64(&p, <double*>pg, <double*>po, count_include_pad, divisor)
    return gx


def adaptive_pool2d_forward(x, y, str mode, idx=None):
    """mode 'avg' or 'max' (idx: int64 argmax in each plane, or None)."""
    cdef dl_pool_params p
    cdef int t = common_float_type("adaptive_pool2d", (("input", x), ("out", y)))
    _cnn_pool_setup("adaptive_pool2d", &p, x, y, (1, 1), (1, 1), (0, 0), (1, 1))
    cdef void *px = checked_ptr(x, "adaptive_pool2d", "input", t)
    cdef void *py = checked_ptr(y, "adaptive_pool2d", "out", t, None, OP_WRITE)
    cdef int64_t *pi = <int64_t*>checked_ptr(idx, "adaptive_max_pool2d", "indices", cnp.NPY_INT64,
                                             tuple(y.shape), OP_WRITE | OP_OPTIONAL)
    cdef bint is_max = mode == "max"
    with nogil:
        if t == cnp.NPY_FLOAT32:
            if is_max:
                dl_adaptive_maxpool2d_fwd_f32(&p, <float*>px, <float*>py, pi)
            else:
                dl_adaptive_avgpool2d_fwd_f32(&p, <float*>px, <float*>py)
        else:
            if is_max:
                dl_adaptive_maxpool2d_fwd_f64(&p, <double*>px, <double*>py, pi)
            else:
                dl_adaptive_avgpool2d_fwd_f64(&p, <double*>px, <double*>py)
    return y


def adaptive_avgpool2d_backward(gy, gx):
    cdef dl_pool_params p
    cdef int t = common_float_type("adaptive_avg_pool2d_backward", (("grad_output", gy), ("grad_input", gx)))
    _cnn_pool_setup("adaptive_avg_pool2d_backward", &p, gx, gy, (1, 1), (1, 1), (0, 0), (1, 1))
    cdef void *pg = checked_ptr(gy, "adaptive_avg_pool2d_backward", "grad_output", t)
    cdef void *po = checked_ptr(gx, "adaptive_avg_pool2d_backward", "grad_input", t, None, OP_WRITE)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            dl_adaptive_avgpool2d_bwd_f32(&p, <float*>pg, <float*>po)
        else:
            dl_adaptive_avgpool2d_bwd_f64(&p, <double*>pg, <double*>po)
    return gx


def upsample2d(src, dst, str mode, bint backward, bint align_corners, double scale_h,
               double scale_w):
    """Nearest/bilinear upsampling of src (N, C, H, W) into dst (N, C, OH, OW); with backward,
    src is the output gradient (N, C, OH, OW) and dst the input gradient (N, C, H, W)."""
    cdef dl_pool_params p
    cdef int t = common_float_type("interpolate", (("src", src), ("dst", dst)))
    if backward:
        _cnn_pool_setup("interpolate", &p, dst, src, (1, 1), (1, 1), (0, 0), (1, 1))
    else:
        _cnn_pool_setup("interpolate", &p, src, dst, (1, 1), (1, 1), (0, 0), (1, 1))
    if mode not in ("nearest", "bilinear"):
        raise ValueError("interpolate: mode must be 'nearest' or 'bilinear', got %r" % mode)
    cdef bint near = mode == "nearest"
    cdef void *ps = checked_ptr(src, "interpolate", "src", t)
    cdef void *pd = checked_ptr(dst, "interpolate", "dst", t, None, OP_WRITE)
    cdef float fh = scale_h, fw = scale_w
    with nogil:
        if t == cnp.NPY_FLOAT32:
            if near and not backward:
                dl_upsample_nearest2d_fwd_f32(&p, fh, fw, <float*>ps, <float*>pd)
            elif near:
                dl_upsample_nearest2d_bwd_f32(&p, fh, fw, <float*>ps, <float*>pd)
            elif not backward:
                dl_upsample_bilinear2d_fwd_f32(&p, align_corners, scale_h, scale_w, <float*>ps, <float*>pd)
            else:
                dl_upsample_bilinear2d_bwd_f32(&p, align_corners, scale_h, scale_w, <float*>ps, <float*>pd)
        else:
            if near and not backward:
                dl_upsample_nearest2d_fwd_f64(&p, fh, fw, <double*>ps, <double*>pd)
            elif near:
                dl_upsample_nearest2d_bwd_f64(&p, fh, fw, <double*>ps, <double*>pd)
            elif not backward:
                dl_upsample_bilinear2d_fwd_f64(&p, align_corners, scale_h, scale_w, <double*>ps, <double*>pd)
            else:
                dl_upsample_bilinear2d_bwd_f64(&p, align_corners, scale_h, scale_w, <double*>ps, <double*>pd)
    return dst


def batchnorm_forward(x, weight, bias, y, save_mean, save_invstd, running_mean, running_var,
                      bint training, double momentum, double eps):
    """x, y: (N, C, L).  training: batch statistics (saved; running ones updated if given);
    otherwise save_mean/save_invstd are inputs: the statistics to normalize with."""
    cdef int t = common_float_type("batch_norm", (("input", x), ("weight", weight), ("bias", bias),
                                            ("out", y), ("save_mean", save_mean),
                                            ("save_invstd", save_invstd),
                                            ("running_mean", running_mean),
                                            ("running_var", running_var)))
    if x.ndim != 3 or y.shape != x.shape:
        raise ValueError("batch_norm: x and y must be (N, C, L), got %s and %s" % (x.shape, y.shape))
    cdef int64_t N = x.shape[0], C = x.shape[1], L = x.shape[2]
    cdef str fn = "batch_norm"
    cdef void *px = checked_ptr(x, fn, "input", t)
    cdef void *py = checked_ptr(y, fn, "out", t, None, OP_WRITE)
    cdef void *pw_ = checked_ptr(weight, fn, "weight", t, (C,), OP_OPTIONAL)
    cdef void *pb = checked_ptr(bias, fn, "bias", t, (C,), OP_OPTIONAL)
    # the saved statistics are written when training, read otherwise
    cdef void *pm = checked_ptr(save_mean, fn, "save_mean", t, (C,), (OP_WRITE if training else 0))
    cdef void *pi = checked_ptr(save_invstd, fn, "save_invstd", t, (C,),
                                (OP_WRITE if training else 0))
    cdef void *prm = checked_ptr(running_mean, fn, "running_mean", t, (C,),
                                 (OP_WRITE if training else 0) | OP_OPTIONAL)
    cdef void *prv = checked_ptr(running_var, fn, "running_var", t, (C,),
                                 (OP_WRITE if training else 0) | OP_OPTIONAL)
    cdef int rc = 0
    if N * C * L == 0:
        return y
    with nogil:
        if training:
            if t == cnp.NPY_FLOAT32:
                rc = dl_batchnorm_fwd_train_f32(N, C, L, <float*>px, <float*>pw_, <float*>pb, eps,
                                                <float*>py, <float*>pm, <float*>pi, <float*>prm,
                                                <float*>prv, momentum)
            else:
                rc = dl_batchnorm_fwd_train_f64(N, C, L, <double*>px, <double*>pw_, <double*>pb,
                                                eps, <double*>py, <double*>pm, <double*>pi,
                                                <double*>prm, <double*>prv, momentum)
        else:
            if t == cnp.NPY_FLOAT32:
                dl_batchnorm_fwd_eval_f32(N, C, L, <float*>px, <float*>pw_, <float*>pb,
                                          <float*>pm, <float*>pi, <float*>py)
            else:
                dl_batchnorm_fwd_eval_f64(N, C, L, <double*>px, <double*>pw_, <double*>pb,
                                          <double*>pm, <double*>pi, <double*>py)
    if rc:
        raise MemoryError("batch_norm: out of memory")
    return y


def batchnorm_backward(x, gy, weight, mean, invstd, bint batch_stats, gx, gw, gb):
    cdef int t = common_float_type("batch_norm_backward", (("input", x), ("grad_output", gy),
                                                     ("weight", weight), ("mean", mean),
                                                     ("invstd", invstd), ("grad_input", gx),
                                                     ("grad_weight", gw), ("grad_bias", gb)))
    if x.ndim != 3 or gy.shape != x.shape:
        raise ValueError("batch_norm_backward: x and grad must be (N, C, L), got %s and %s"
                         % (x.shape, gy.shape))
    cdef int64_t N = x.shape[0], C = x.shape[1], L = x.shape[2]
    cdef str fn = "batch_norm_backward"
    cdef void *px = checked_ptr(x, fn, "input", t)
    cdef void *pg = checked_ptr(gy, fn, "grad_output", t)
    cdef void *pw_ = checked_ptr(weight, fn, "weight", t, (C,), OP_OPTIONAL)
    cdef void *pm = checked_ptr(mean, fn, "mean", t, (C,))
    cdef void *pi = checked_ptr(invstd, fn, "invstd", t, (C,))
    cdef void *pgx = checked_ptr(gx, fn, "grad_input", t, tuple(x.shape), OP_WRITE | OP_OPTIONAL)
    cdef void *pgw = checked_ptr(gw, fn, "grad_weight", t, (C,), OP_WRITE | OP_OPTIONAL)
    cdef void *pgb = checked_ptr(gb, fn, "grad_bias", t, (C,), OP_WRITE | OP_OPTIONAL)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            dl_batchnorm_bwd_f32(N, C, L, <float*>px, <float*>pg, <float*>pw_, <float*>pm,
                                 <float*>pi, batch_stats, <float*>pgx, <float*>pgw, <float*>pgb)
        else:
            dl_batchnorm_bwd_f64(N, C, L, <double*>px, <double*>pg, <double*>pw_, <double*>pm,
                                 <double*>pi, batch_stats, <double*>pgx, <double*>pgw,
                                 <double*>pgb)


def conv_workspace_limit(limit=None):
    """The bytes one thread's im2col column tile may hold; with `limit`, set it first (0 restores
    the default, 8 MiB).  Returns the limit in force."""
    if limit is not None:
        if limit < 0:
            raise ValueError("conv_workspace_limit: limit must be >= 0, got %r" % (limit,))
        dl_conv_set_col_bytes(<size_t>limit)
    return dl_conv_col_bytes()


def winograd_cache_info(clear=False):
    """The Winograd filter-transform cache: dict(entries, bytes, hits, misses); with clear,
    empties it (and zeroes the counts) first."""
    cdef size_t e, b, h, m
    if clear:
        dl_wino_cache_clear()
    dl_wino_cache_stats(&e, &b, &h, &m)
    return dict(entries=e, bytes=b, hits=h, misses=m, trusted=dl_wino_cache_trusted())


_CONV_ALGOS = ("auto", "im2col", "winograd", "winograd2x2", "winograd4x4")


def conv_algo(name=None):
    """The algorithm float32 convolutions use: 'auto' (a cost model picks per shape),
    'im2col', or 'winograd' / 'winograd2x2' / 'winograd4x4' (wherever it applies: 3x3, stride
    1, dilation 1, groups 1; the cheaper tile size or the one named); with `name`, set it
    first.  Returns the setting in force."""
    if name is not None:
        if name not in _CONV_ALGOS:
            raise ValueError("conv_algo: name must be one of %s, got %r" % (_CONV_ALGOS, name))
        dl_conv_set_algo(_CONV_ALGOS.index(name))
    return _CONV_ALGOS[dl_conv_get_algo()]


def conv2d_algo_for(tuple x_shape, tuple w_shape, tuple out_hw, tuple stride, tuple padding,
                    tuple dilation, int64_t groups, bint input_grad=False,
                    bint weight_grad=False, bint cached=False):
    """What a float32 conv2d forward (or, with input_grad / weight_grad, its input / weight
    gradient) of these shapes runs now: 'im2col' (also the pointwise and depthwise paths),
    'winograd2x2' or 'winograd4x4'.  cached: the forward's choice when the filter transform
    is already made (inference on the same weights, an inference plan)."""
    cdef dl_conv_params p
    p.N, p.C, p.H, p.W = x_shape
    p.K, _, p.R, p.S = w_shape
    p.OH, p.OW = out_hw
    p.sh, p.sw = stride
    p.ph, p.pw = padding
    p.dh, p.dw = dilation
    p.groups = groups
    cdef int m
    if cached and not (input_grad or weight_grad):
        m = dl_conv2d_algo_cached_f32(&p)
    else:
        m = dl_conv2d_algo_f32(&p, 2 if weight_grad else (1 if input_grad else 0))
    return {0: "im2col", 2: "winograd2x2", 4: "winograd4x4"}[m]
