cdef extern from "dlcore/layernorm.h":
    int dl_layernorm_fwd_f32(size_t rows, size_t n, const float *x, const float *gamma,
                             const float *beta, double eps, float *y, float *mean,
                             float *rstd) nogil
    int dl_layernorm_bwd_f32(size_t rows, size_t n, const float *x, const float *gamma,
                             const float *mean, const float *rstd, const float *dy, float *dx,
                             float *dgamma, float *dbeta) nogil
    int dl_layernorm_fwd_f64(size_t rows, size_t n, const double *x, const double *gamma,
                             const double *beta, double eps, double *y, double *mean,
                             double *rstd) nogil
    int dl_layernorm_bwd_f64(size_t rows, size_t n, const double *x, const double *gamma,
                             const double *mean, const double *rstd, const double *dy,
                             double *dx, double *dgamma, double *dbeta) nogil
    int dl_rmsnorm_fwd_f32(size_t rows, size_t n, const float *x, const float *gamma,
                           double eps, float *y, float *rstd) nogil
    int dl_rmsnorm_bwd_f32(size_t rows, size_t n, const float *x, const float *gamma,
                           const float *rstd, const float *dy, float *dx, float *dgamma) nogil
    int dl_rmsnorm_fwd_f64(size_t rows, size_t n, const double *x, const double *gamma,
                           double eps, double *y, double *rstd) nogil
    int dl_rmsnorm_bwd_f64(size_t rows, size_t n, const double *x, const double *gamma,
                           const double *rstd, const double *dy, double *dx,
                           double *dgamma) nogil


def layer_norm_forward(cnp.ndarray x, Py_ssize_t n, object weight, object bias, double eps,
                       cnp.ndarray y, object mean, object rstd, bint rms=False):
    """Normalizes each run of n trailing elements of C-contiguous x into y; saves per-row
    mean and rstd when given (rms: RMSNorm, mean and bias unused)."""
    cdef int t = float_type(x, "layer_norm", "input")
    cdef void *px = checked_ptr(x, "layer_norm", "input", t)
    cdef Py_ssize_t total = cnp.PyArray_SIZE(x)
    if n <= 0 or total % n != 0:
        raise ValueError("layer_norm: n must divide the input size, got n=%d, size=%d"
                         % (n, total))
    cdef size_t rows = total // n
    cdef void *py = checked_ptr(y, "layer_norm", "out", t, total, OP_WRITE)
    cdef void *pw = checked_ptr(weight, "layer_norm", "weight", t, n, OP_OPTIONAL)
    cdef void *pb = checked_ptr(None if rms else bias, "layer_norm", "bias", t, n, OP_OPTIONAL)
    cdef void *pm = checked_ptr(None if rms else mean, "layer_norm", "mean", t, rows,
                                OP_WRITE | OP_OPTIONAL)
    cdef void *ps = checked_ptr(rstd, "layer_norm", "rstd", t, rows, OP_WRITE | OP_OPTIONAL)
    cdef size_t nn = n
    cdef int rc
    with nogil:
        if t == cnp.NPY_FLOAT32:
            if rms:
                rc = dl_rmsnorm_fwd_f32(rows, nn, <float*>px, <float*>pw, eps, <float*>py,
                                        <float*>ps)
            else:
                rc = dl_layernorm_fwd_f32(rows, nn, <float*>px, <float*>pw, <float*>pb, eps,
                                          <float*>py, <float*>pm, <float*>ps)
        else:
            if rms:
                rc = dl_rmsnorm_fwd_f64(rows, nn, <double*>px, <double*>pw, eps, <double*>py,
                                        <double*>ps)
            else:
                rc = dl_layernorm_fwd_f64(rows, nn, <double*>px, <double*>pw, <double*>pb, eps,
                                          <double*>py, <double*>pm, <double*>ps)
    if rc != 0:
        raise MemoryError("layer_norm: could not allocate scratch memory")
    return y


def layer_norm_backward(cnp.ndarray x, Py_ssize_t n, object weight, object mean,
                        cnp.ndarray rstd, cnp.ndarray dy, cnp.ndarray dx, object dweight,
                        object dbias, bint rms=False):
    """dx (and dweight, dbias when given, overwritten) from the forward's mean and rstd."""
    cdef int t = float_type(x, "layer_norm", "input")
    cdef void *px = checked_ptr(x, "layer_norm", "input", t)
    cdef Py_ssize_t total = cnp.PyArray_SIZE(x)
    if n <= 0 or total % n != 0:
        raise ValueError("layer_norm: n must divide the input size, got n=%d, size=%d"
                         % (n, total))
    cdef size_t rows = total // n
    if not rms and mean is None:
        raise ValueError("layer_norm: mean is required")
    cdef void *pw = checked_ptr(weight, "layer_norm", "weight", t, n, OP_OPTIONAL)
    cdef void *pm = checked_ptr(None if rms else mean, "layer_norm", "mean", t, rows, OP_OPTIONAL)
    cdef void *ps = checked_ptr(rstd, "layer_norm", "rstd", t, rows)
    cdef void *pg = checked_ptr(dy, "layer_norm", "grad", t, total)
    cdef void *pdx = checked_ptr(dx, "layer_norm", "dx", t, total, OP_WRITE)
    cdef void *pdw = checked_ptr(dweight, "layer_norm", "dweight", t, n, OP_WRITE | OP_OPTIONAL)
    cdef void *pdb = checked_ptr(None if rms else dbias, "layer_norm", "dbias", t, n,
                                 OP_WRITE | OP_OPTIONAL)
    cdef size_t nn = n
    cdef int rc
    with nogil:
        if t == cnp.NPY_FLOAT32:
            if rms:
                rc = dl_rmsnorm_bwd_f32(rows, nn, <float*>px, <float*>pw, <float*>ps,
                                        <float*>pg, <float*>pdx, <float*>pdw)
            else:
                rc = dl_layernorm_bwd_f32(rows, nn, <float*>px, <float*>pw, <float*>pm,
                                          <float*>ps, <float*>pg, <float*>pdx, <float*>pdw,
                                          <float*>pdb)
        else:
            if rms:
                rc = dl_rmsnorm_bwd_f64(rows, nn, <double*>px, <double*>pw, <double*>ps,
                                        <double*>pg, <double*>pdx, <double*>pdw)
            else:
                rc = dl_layernorm_bwd_f64(rows, nn, <double*>px, <double*>pw, <double*>pm,
                                          <double*>ps, <double*>pg, <double*>pdx,
                                          <double*>pdw, <double*>pdb)
    if rc != 0:
        raise MemoryError("layer_norm: could not allocate scratch memory")
    return dx, dweight, dbias
