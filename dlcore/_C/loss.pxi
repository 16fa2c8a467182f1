# Losses (csrc/loss.c, csrc/loss_simd.c).  Arrays are checked here; user-facing arguments
# (shapes, reductions, options) are validated first in dlcore/ops/loss.py.
from libc.stdint cimport int64_t

cdef extern from "dlcore/loss.h":
    int64_t dl_ce_fwd_f32(const float *x, const int64_t *target, const float *weight, size_t N,
                          size_t C, int64_t ignore_index, float smoothing, float *loss,
                          float *lse, double *sum_loss, double *sum_weight) nogil
    int64_t dl_ce_fwd_f64(const double *x, const int64_t *target, const double *weight,
                          size_t N, size_t C, int64_t ignore_index, double smoothing,
                          double *loss, double *lse, double *sum_loss, double *sum_weight) nogil
    void dl_ce_bwd_f32(const float *x, const int64_t *target, const float *weight,
                       const float *lse, size_t N, size_t C, int64_t ignore_index,
                       float smoothing, const float *g, float gscale, float *gx) nogil
    void dl_ce_bwd_f64(const double *x, const int64_t *target, const double *weight,
                       const double *lse, size_t N, size_t C, int64_t ignore_index,
                       double smoothing, const double *g, double gscale, double *gx) nogil
    void dl_ce_prob_fwd_f32(const float *x, const float *q, const float *weight, size_t N,
                            size_t C, float smoothing, float *loss, float *lse,
                            double *sum_loss) nogil
    void dl_ce_prob_fwd_f64(const double *x, const double *q, const double *weight, size_t N,
                            size_t C, double smoothing, double *loss, double *lse,
                            double *sum_loss) nogil
    void dl_ce_prob_bwd_f32(const float *x, const float *q, const float *weight,
                            const float *lse, size_t N, size_t C, float smoothing,
                            const float *g, float gscale, float *gx) nogil
    void dl_ce_prob_bwd_f64(const double *x, const double *q, const double *weight,
                            const double *lse, size_t N, size_t C, double smoothing,
                            const double *g, double gscale, double *gx) nogil
    int64_t dl_nll_fwd_f32(const float *x, const int64_t *target, const float *weight,
                           size_t N, size_t C, int64_t ignore_index, float *loss,
                           double *sum_loss, double *sum_weight) nogil
    int64_t dl_nll_fwd_f64(const double *x, const int64_t *target, const double *weight,
                           size_t N, size_t C, int64_t ignore_index, double *loss,
                           double *sum_loss, double *sum_weight) nogil
    void dl_nll_bwd_f32(const int64_t *target, const float *weight, size_t N, size_t C,
                        int64_t ignore_index, const float *g, float gscale, float *gx) nogil
    void dl_nll_bwd_f64(const int64_t *target, const double *weight, size_t N, size_t C,
                        int64_t ignore_index, const double *g, double gscale, double *gx) nogil
    int dl_ploss_fwd_f32(int kind, const float *x, const float *t, const float *w,
                         const float *pw, size_t n, float param, float *out, double *sum) nogil
    int dl_ploss_fwd_f64(int kind, const double *x, const double *t, const double *w,
                         const double *pw, size_t n, double param, double *out,
                         double *sum) nogil
    int dl_ploss_bwd_f32(int kind, const float *x, const float *t, const float *w,
                         const float *pw, size_t n, float param, const float *g, float gscale,
                         float *gx) nogil
    int dl_ploss_bwd_f64(int kind, const double *x, const double *t, const double *w,
                         const double *pw, size_t n, double param, const double *g,
                         double gscale, double *gx) nogil

# pointwise loss kinds, in csrc/include/dlcore/loss.h order
(PL_MSE, PL_L1, PL_SMOOTH_L1, PL_HUBER, PL_BCE, PL_BCE_LOGITS, PL_KL,
 PL_KL_LOG_TARGET) = range(8)


cdef inline int _logits2d(cnp.ndarray x, str fname) except -1:
    if x is None or cnp.PyArray_NDIM(x) != 2:
        raise ValueError("%s: input must be a 2-D (N, C) array" % fname)
    cdef int t = float_type(x, fname, "input")
    checked_ptr(x, fname, "input", t)
    return t


cdef inline void _bad_target(int64_t row, cnp.ndarray target, Py_ssize_t C, int64_t ignore_index,
                             str fname) except *:
    if row >= 0:
        raise ValueError("%s: target %d (at position %d) is out of bounds for %d classes "
                         "(expected 0 <= target < %d, or ignore_index=%d)"
                         % (fname, target.reshape(-1)[row], row, C, C, ignore_index))


def ce_forward(cnp.ndarray x, cnp.ndarray target, cnp.ndarray weight, int64_t ignore_index,
               double smoothing, cnp.ndarray loss=None, cnp.ndarray lse=None):
    """Cross-entropy over rows of logits x (N, C) with int64 class indices; fills the optional
    per-row loss (N,) and lse (N, 2): each row's max and the log of its sum of exp(x - max),
    kept apart because their sum loses the log when the max is huge (1e30 + log 2 == 1e30);
    returns (total loss, total target weight)."""
    cdef int t = _logits2d(x, "cross_entropy")
    cdef Py_ssize_t N = cnp.PyArray_DIM(x, 0), C = cnp.PyArray_DIM(x, 1)
    cdef void *pt = checked_ptr(target, "cross_entropy", "target", cnp.NPY_INT64, N)
    cdef void *pw = checked_ptr(weight, "cross_entropy", "weight", t, C, OP_OPTIONAL)
    cdef void *pl = checked_ptr(loss, "cross_entropy", "loss", t, N, OP_WRITE | OP_OPTIONAL)
    cdef void *ps = checked_ptr(lse, "cross_entropy", "lse", t, 2 * N, OP_WRITE | OP_OPTIONAL)
    cdef void *px = cnp.PyArray_DATA(x)
    cdef double sl = 0.0, sw = 0.0
    cdef int64_t bad
    if t == cnp.NPY_FLOAT32:
        with nogil:
            bad = dl_ce_fwd_f32(<float*>px, <int64_t*>pt, <float*>pw, N, C, ignore_index,
                                <float>smoothing, <float*>pl, <float*>ps, &sl, &sw)
    else:
        with nogil:
            bad = dl_ce_fwd_f64(<double*>px, <int64_t*>pt, <double*>pw, N, C, ignore_index,
                                smoothing, <double*>pl, <double*>ps, &sl, &sw)
    _bad_target(bad, target, C, ignore_index, "cross_entropy")
    return sl, sw


def ce_backward(cnp.ndarray x, cnp.ndarray target, cnp.ndarray weight, cnp.ndarray lse,
                int64_t ignore_index, double smoothing, cnp.ndarray g, double gscale,
                cnp.ndarray gx not None):
    """gx (N, C) = scale_i * d loss_i / d x_i, scale_i = (g[i] if g is given else 1) * gscale."""
    cdef int t = _logits2d(x, "cross_entropy_backward")
    cdef Py_ssize_t N = cnp.PyArray_DIM(x, 0), C = cnp.PyArray_DIM(x, 1)
    cdef void *pt = checked_ptr(target, "cross_entropy_backward", "target", cnp.NPY_INT64, N)
    cdef void *pw = checked_ptr(weight, "cross_entropy_backward", "weight", t, C, OP_OPTIONAL)
    cdef void *pl = checked_ptr(lse, "cross_entropy_backward", "lse", t, 2 * N)
    cdef void *pg = checked_ptr(g, "cross_entropy_backward", "grad", t, N, OP_OPTIONAL)
    cdef void *pgx = checked_ptr(gx, "cross_entropy_backward", "grad_input", t, N * C, OP_WRITE)
    cdef void *px = cnp.PyArray_DATA(x)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_ce_bwd_f32(<float*>px, <int64_t*>pt, <float*>pw, <float*>pl, N, C, ignore_index,
                          <float>smoothing, <float*>pg, <float>gscale, <float*>pgx)
    else:
        with nogil:
            dl_ce_bwd_f64(<double*>px, <int64_t*>pt, <double*>pw, <double*>pl, N, C,
                          ignore_index, smoothing, <double*>pg, gscale, <double*>pgx)
    return gx


def ce_prob_forward(cnp.ndarray x, cnp.ndarray q, cnp.ndarray weight, double smoothing,
                    cnp.ndarray loss=None, cnp.ndarray lse=None):
    """Cross-entropy against class probabilities q (N, C); returns the total loss."""
    cdef int t = _logits2d(x, "cross_entropy")
    cdef Py_ssize_t N = cnp.PyArray_DIM(x, 0), C = cnp.PyArray_DIM(x, 1)
    cdef void *pq = checked_ptr(q, "cross_entropy", "target", t, N * C)
    cdef void *pw = checked_ptr(weight, "cross_entropy", "weight", t, C, OP_OPTIONAL)
    cdef void *pl = checked_ptr(loss, "cross_entropy", "loss", t, N, OP_WRITE | OP_OPTIONAL)
    cdef void *ps = checked_ptr(lse, "cross_entropy", "lse", t, 2 * N, OP_WRITE | OP_OPTIONAL)
    cdef void *px = cnp.PyArray_DATA(x)
    cdef double sl = 0.0
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_ce_prob_fwd_f32(<float*>px, <float*>pq, <float*>pw, N, C, <float>smoothing,
                               <float*>pl, <float*>ps, &sl)
    else:
        with nogil:
            dl_ce_prob_fwd_f64(<double*>px, <double*>pq, <double*>pw, N, C, smoothing,
                               <double*>pl, <double*>ps, &sl)
    return sl


def ce_prob_backward(cnp.ndarray x, cnp.ndarray q, cnp.ndarray weight, cnp.ndarray lse,
                     double smoothing, cnp.ndarray g, double gscale, cnp.ndarray gx not None):
    cdef int t = _logits2d(x, "cross_entropy_backward")
    cdef Py_ssize_t N = cnp.PyArray_DIM(x, 0), C = cnp.PyArray_DIM(x, 1)
    cdef void *pq = checked_ptr(q, "cross_entropy_backward", "target", t, N * C)
    cdef void *pw = checked_ptr(weight, "cross_entropy_backward", "weight", t, C, OP_OPTIONAL)
    cdef void *pl = checked_ptr(lse, "cross_entropy_backward", "lse", t, 2 * N)
    cdef void *pg = checked_ptr(g, "cross_entropy_backward", "grad", t, N, OP_OPTIONAL)
    cdef void *pgx = checked_ptr(gx, "cross_entropy_backward", "grad_input", t, N * C, OP_WRITE)
    cdef void *px = cnp.PyArray_DATA(x)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_ce_prob_bwd_f32(<float*>px, <float*>pq, <float*>pw, <float*>pl, N, C,
                               <float>smoothing, <float*>pg, <float>gscale, <float*>pgx)
    else:
        with nogil:
            dl_ce_prob_bwd_f64(<double*>px, <double*>pq, <double*>pw, <double*>pl, N, C,
                               smoothing, <double*>pg, gscale, <double*>pgx)
    return gx


def nll_forward(cnp.ndarray x, cnp.ndarray target, cnp.ndarray weight, int64_t ignore_index,
                cnp.ndarray loss=None):
    """NLL over rows of log-probabilities x (N, C); returns (total loss, total target weight)."""
    cdef int t = _logits2d(x, "nll_loss")
    cdef Py_ssize_t N = cnp.PyArray_DIM(x, 0), C = cnp.PyArray_DIM(x, 1)
    cdef void *pt = checked_ptr(target, "nll_loss", "target", cnp.NPY_INT64, N)
    cdef void *pw = checked_ptr(weight, "nll_loss", "weight", t, C, OP_OPTIONAL)
    cdef void *pl = checked_ptr(loss, "nll_loss", "loss", t, N, OP_WRITE | OP_OPTIONAL)
    cdef void *px = cnp.PyArray_DATA(x)
    cdef double sl = 0.0, sw = 0.0
    cdef int64_t bad
    if t == cnp.NPY_FLOAT32:
        with nogil:
            bad = dl_nll_fwd_f32(<float*>px, <int64_t*>pt, <float*>pw, N, C, ignore_index,
                                 <float*>pl, &sl, &sw)
    else:
        with nogil:
            bad = dl_nll_fwd_f64(<double*>px, <int64_t*>pt, <double*>pw, N, C, ignore_index,
                                 <double*>pl, &sl, &sw)
    _bad_target(bad, target, C, ignore_index, "nll_loss")
    return sl, sw


def nll_backward(cnp.ndarray target, cnp.ndarray weight, int64_t ignore_index, cnp.ndarray g,
                 double gscale, cnp.ndarray gx not None):
    """gx (N, C): zeros except -w[t_i] * scale_i at each row's target."""
    if cnp.PyArray_NDIM(gx) != 2:
        raise ValueError("nll_loss_backward: grad_input must be 2-D (N, C)")
    cdef int t = float_type(gx, "nll_loss_backward", "grad_input")
    cdef Py_ssize_t N = cnp.PyArray_DIM(gx, 0), C = cnp.PyArray_DIM(gx, 1)
    cdef void *pgx = checked_ptr(gx, "nll_loss_backward", "grad_input", t, N * C, OP_WRITE)
    cdef void *pt = checked_ptr(target, "nll_loss_backward", "target", cnp.NPY_INT64, N)
    cdef void *pw = checked_ptr(weight, "nll_loss_backward", "weight", t, C, OP_OPTIONAL)
    cdef void *pg = checked_ptr(g, "nll_loss_backward", "grad", t, N, OP_OPTIONAL)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_nll_bwd_f32(<int64_t*>pt, <float*>pw, N, C, ignore_index, <float*>pg,
                           <float>gscale, <float*>pgx)
    else:
        with nogil:
            dl_nll_bwd_f64(<int64_t*>pt, <double*>pw, N, C, ignore_index, <double*>pg, gscale,
                           <double*>pgx)
    return gx


def ploss_forward(int kind, cnp.ndarray x, cnp.ndarray target, cnp.ndarray weight=None,
                  cnp.ndarray pos_weight=None, double param=0.0, cnp.ndarray out=None):
    """Pointwise loss `kind` (PL_*) of same-size contiguous x and target; weight / pos_weight
    are None or full-size.  Fills out if given; returns the total.  Raises ValueError for BCE
    inputs outside [0, 1]."""
    if x is None:
        raise ValueError("loss: input is required")
    cdef int t = float_type(x, "loss", "input")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef void *px = checked_ptr(x, "loss", "input", t, n)
    cdef void *pt = checked_ptr(target, "loss", "target", t, n)
    cdef void *pw = checked_ptr(weight, "loss", "weight", t, n, OP_OPTIONAL)
    cdef void *ppw = checked_ptr(pos_weight, "loss", "pos_weight", t, n, OP_OPTIONAL)
    cdef void *po = checked_ptr(out, "loss", "out", t, n, OP_WRITE | OP_OPTIONAL)
    cdef double s = 0.0
    cdef int r
    if t == cnp.NPY_FLOAT32:
        with nogil:
            r = dl_ploss_fwd_f32(kind, <float*>px, <float*>pt, <float*>pw, <float*>ppw, n,
                                 <float>param, <float*>po, &s)
    else:
        with nogil:
            r = dl_ploss_fwd_f64(kind, <double*>px, <double*>pt, <double*>pw, <double*>ppw, n,
                                 param, <double*>po, &s)
    if r < 0:
        raise ValueError("loss: unknown pointwise loss kind %d" % kind)
    if r > 0:
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1")
    return s


def ploss_backward(int kind, cnp.ndarray x, cnp.ndarray target, cnp.ndarray weight,
                   cnp.ndarray pos_weight, double param, cnp.ndarray g, double gscale,
                   cnp.ndarray gx not None):
    """gx = d loss / d x * (g if given else 1) * gscale."""
    if x is None:
        raise ValueError("loss_backward: input is required")
    cdef int t = float_type(x, "loss_backward", "input")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef void *px = checked_ptr(x, "loss_backward", "input", t, n)
    cdef void *pt = checked_ptr(target, "loss_backward", "target", t, n)
    cdef void *pw = checked_ptr(weight, "loss_backward", "weight", t, n, OP_OPTIONAL)
    cdef void *ppw = checked_ptr(pos_weight, "loss_backward", "pos_weight", t, n, OP_OPTIONAL)
    cdef void *pg = checked_ptr(g, "loss_backward", "grad", t, n, OP_OPTIONAL)
    cdef void *pgx = checked_ptr(gx, "loss_backward", "grad_input", t, n, OP_WRITE)
    cdef int r
    if t == cnp.NPY_FLOAT32:
        with nogil:
            r = dl_ploss_bwd_f32(kind, <float*>px, <float*>pt, <float*>pw, <float*>ppw, n,
                                 <float>param, <float*>pg, <float>gscale, <float*>pgx)
    else:
        with nogil:
            r = dl_ploss_bwd_f64(kind, <double*>px, <double*>pt, <double*>pw, <double*>ppw, n,
                                 param, <double*>pg, gscale, <double*>pgx)
    if r < 0:
        raise ValueError("loss_backward: unknown pointwise loss kind %d" % kind)
    return gx
