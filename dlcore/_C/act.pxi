# Activations and softmax (csrc/act.c, csrc/act_simd.c).
cdef extern from "dlcore/act.h":
    int dl_act_bwd_uses_output(int kind)
    int dl_act_fwd_f32(int kind, const float *x, float *y, size_t n, float a, float b,
                       float c) nogil
    int dl_act_fwd_f64(int kind, const double *x, double *y, size_t n, double a, double b,
                       double c) nogil
    int dl_act_bwd_f32(int kind, const float *x, const float *y, const float *gy, float *gx,
                       size_t n, float a, float b, float c) nogil
    int dl_act_bwd_f64(int kind, const double *x, const double *y, const double *gy,
                       double *gx, size_t n, double a, double b, double c) nogil
    void dl_softmax_fwd_f32(const float *x, float *y, size_t outer, size_t dim, size_t inner,
                            int log_) nogil
    void dl_softmax_fwd_f64(const double *x, double *y, size_t outer, size_t dim,
                            size_t inner, int log_) nogil
    void dl_softmax_bwd_f32(const float *y, const float *gy, float *gx, size_t outer,
                            size_t dim, size_t inner, int log_) nogil
    void dl_softmax_bwd_f64(const double *y, const double *gy, double *gx, size_t outer,
                            size_t dim, size_t inner, int log_) nogil

# kinds, in csrc/include/dlcore/act.h order
(AF_RELU, AF_LEAKY_RELU, AF_SIGMOID, AF_TANH, AF_GELU, AF_GELU_TANH, AF_SILU, AF_ELU,
 AF_SOFTPLUS, AF_HARDTANH, AF_HARDSWISH, AF_HARDSIGMOID, AF_MISH) = range(13)


cdef inline int _ew_operand(cnp.ndarray a, str fname, str name, int typ, Py_ssize_t size,
                            bint write) except -1:
    """Checks one operand of an elementwise kernel: float dtype `typ`, contiguous, `size`."""
    if a is None:
        raise ValueError("%s: %s is required" % (fname, name))
    if cnp.PyArray_TYPE(a) != typ:
        raise TypeError("%s: %s must be %s like the input, got %s"
                        % (fname, name, "float32" if typ == cnp.NPY_FLOAT32 else "float64",
                           a.dtype))
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError("%s: %s must be C-contiguous" % (fname, name))
    if cnp.PyArray_SIZE(a) != size:
        raise ValueError("%s: %s must have %d elements, got %d"
                         % (fname, name, size, cnp.PyArray_SIZE(a)))
    if write and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError("%s: %s must be writeable" % (fname, name))
    return 0


cdef inline int _float_type(cnp.ndarray a, str fname) except -1:
    cdef int t = cnp.PyArray_TYPE(a)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError("%s: input must be float32 or float64, got %s" % (fname, a.dtype))
    return t


def act_bwd_uses_output(int kind):
    """True if activation `kind`'s backward reads the forward output, False if the input."""
    cdef int r = dl_act_bwd_uses_output(kind)
    if r < 0:
        raise ValueError("act: unknown activation kind %d" % kind)
    return bool(r)


def act_forward(int kind, cnp.ndarray x not None, cnp.ndarray out not None, double a=0.0,
                double b=0.0, double c=0.0):
    """out = f(x) for activation `kind` (AF_*); x and out contiguous, same dtype and size."""
    cdef int t = _float_type(x, "act_forward")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    _ew_operand(x, "act_forward", "x", t, n, False)
    _ew_operand(out, "act_forward", "out", t, n, True)
    if dl_act_bwd_uses_output(kind) < 0:
        raise ValueError("act_forward: unknown activation kind %d" % kind)
    cdef void *px = cnp.PyArray_DATA(x)
    cdef void *py = cnp.PyArray_DATA(out)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_act_fwd_f32(kind, <float*>px, <float*>py, n, <float>a, <float>b, <float>c)
    else:
        with nogil:
            dl_act_fwd_f64(kind, <double*>px, <double*>py, n, a, b, c)
    return out


def act_backward(int kind, cnp.ndarray x, cnp.ndarray y, cnp.ndarray g not None,
                 cnp.ndarray gx not None, double a=0.0, double b=0.0, double c=0.0):
    """gx = g * f'(.) from the input x or the output y (whichever act_bwd_uses_output says)."""
    cdef int uses_y = dl_act_bwd_uses_output(kind)
    if uses_y < 0:
        raise ValueError("act_backward: unknown activation kind %d" % kind)
    cdef int t = _float_type(g, "act_backward")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(g)
    _ew_operand(g, "act_backward", "grad", t, n, False)
    _ew_operand(gx, "act_backward", "grad_input", t, n, True)
    cdef void *px = NULL
    cdef void *py = NULL
    if uses_y:
        _ew_operand(y, "act_backward", "output", t, n, False)
        py = cnp.PyArray_DATA(y)
    else:
        _ew_operand(x, "act_backward", "input", t, n, False)
        px = cnp.PyArray_DATA(x)
    cdef void *pg = cnp.PyArray_DATA(g)
    cdef void *pgx = cnp.PyArray_DATA(gx)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_act_bwd_f32(kind, <float*>px, <float*>py, <float*>pg, <float*>pgx, n, <float>a,
                           <float>b, <float>c)
    else:
        with nogil:
            dl_act_bwd_f64(kind, <double*>px, <double*>py, <double*>pg, <double*>pgx, n, a, b, c)
    return gx


cdef inline int _sm_dims(Py_ssize_t outer, Py_ssize_t dim, Py_ssize_t inner,
                         Py_ssize_t size, str fname) except -1:
    if outer < 0 or dim < 0 or inner < 0 or outer * dim * inner != size:
        raise ValueError("%s: (outer, dim, inner) = (%d, %d, %d) does not match %d elements"
                         % (fname, outer, dim, inner, size))
    return 0


def softmax_forward(cnp.ndarray x not None, cnp.ndarray y not None, Py_ssize_t outer,
                    Py_ssize_t dim, Py_ssize_t inner, bint log=False):
    """y = softmax (or log_softmax) of x viewed as (outer, dim, inner), over the middle axis."""
    cdef int t = _float_type(x, "softmax")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    _ew_operand(x, "softmax", "input", t, n, False)
    _ew_operand(y, "softmax", "out", t, n, True)
    _sm_dims(outer, dim, inner, n, "softmax")
    cdef void *px = cnp.PyArray_DATA(x)
    cdef void *py = cnp.PyArray_DATA(y)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_softmax_fwd_f32(<float*>px, <float*>py, outer, dim, inner, log)
    else:
        with nogil:
            dl_softmax_fwd_f64(<double*>px, <double*>py, outer, dim, inner, log)
    return y


def softmax_backward(cnp.ndarray y not None, cnp.ndarray g not None, cnp.ndarray gx not None,
                     Py_ssize_t outer, Py_ssize_t dim, Py_ssize_t inner, bint log=False):
    """gx from the forward output y and the incoming gradient g (same layout as forward)."""
    cdef int t = _float_type(y, "softmax_backward")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(y)
    _ew_operand(y, "softmax_backward", "output", t, n, False)
    _ew_operand(g, "softmax_backward", "grad", t, n, False)
    _ew_operand(gx, "softmax_backward", "grad_input", t, n, True)
    _sm_dims(outer, dim, inner, n, "softmax_backward")
    cdef void *py = cnp.PyArray_DATA(y)
    cdef void *pg = cnp.PyArray_DATA(g)
    cdef void *pgx = cnp.PyArray_DATA(gx)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_softmax_bwd_f32(<float*>py, <float*>pg, <float*>pgx, outer, dim, inner, log)
    else:
        with nogil:
            dl_softmax_bwd_f64(<double*>py, <double*>pg, <double*>pgx, outer, dim, inner, log)
    return gx
