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


cdef void* _ln_arr(object a, str name, int t, Py_ssize_t size, bint write) except? NULL:
    """Data pointer of an optional C-contiguous array of dtype t and `size` elements."""
    if a is None:
        return NULL
    cdef cnp.ndarray arr = a
    if cnp.PyArray_TYPE(arr) != t:
        raise TypeError("layer_norm: %s must have the input's dtype, got %s" % (name, arr.dtype))
    need_contig(arr, name)
    if cnp.PyArray_SIZE(arr) != size:
        raise ValueError("layer_norm: %s must have %d elements, got %d"
                         % (name, size, cnp.PyArray_SIZE(arr)))
    if write:
        need_writeable(arr, name)
    return cnp.PyArray_DATA(arr)


cdef int _ln_type(cnp.ndarray x) except -1:
    cdef int t = cnp.PyArray_TYPE(x)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError("layer_norm: dtype must be float32 or float64, got %s" % x.dtype)
    need_contig(x, "input")
    return t


def layer_norm_forward(cnp.ndarray x, Py_ssize_t n, object weight, object bias, double eps,
                       cnp.ndarray y, object mean, object rstd, bint rms=False):
    """Normalizes each run of n trailing elements of C-contiguous x into y; saves per-row
    mean and rstd when given (rms: RMSNorm, mean and bias unused)."""
    cdef int t = _ln_type(x)
    cdef Py_ssize_t total = cnp.PyArray_SIZE(x)
    if n <= 0 or total % n != 0:
        raise ValueError("layer_norm: n must divide the input size, got n=%d, size=%d"
                         % (n, total))
    cdef size_t rows = total // n
    cdef void *px = cnp.PyArray_DATA(x)
    cdef void *py = _ln_arr(y, "out", t, total, True)
    cdef void *pw = _ln_arr(weight, "weight", t, n, False)
    cdef void *pb = _ln_arr(None if rms else bias, "bias", t, n, False)
    cdef void *pm = _ln_arr(None if rms else mean, "mean", t, rows, True)
    cdef void *ps = _ln_arr(rstd, "rstd", t, rows, True)
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
    cdef int t = _ln_type(x)
    cdef Py_ssize_t total = cnp.PyArray_SIZE(x)
    if n <= 0 or total % n != 0:
        raise ValueError("layer_norm: n must divide the input size, got n=%d, size=%d"
                         % (n, total))
    cdef size_t rows = total // n
    if not rms and mean is None:
        raise ValueError("layer_norm: mean is required")
    cdef void *px = cnp.PyArray_DATA(x)
    cdef void *pw = _ln_arr(weight, "weight", t, n, False)
    cdef void *pm = _ln_arr(None if rms else mean, "mean", t, rows, False)
    cdef void *ps = _ln_arr(rstd, "rstd", t, rows, False)
    cdef void *pg = _ln_arr(dy, "grad", t, total, False)
    cdef void *pdx = _ln_arr(dx, "dx", t, total, True)
    cdef void *pdw = _ln_arr(dweight, "dweight", t, n, True)
    cdef void *pdb = _ln_arr(None if rms else dbias, "dbias", t, n, True)
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
