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
    int dl_silu_mul_f32(const float *gu, size_t ld, size_t rows, size_t F, float *out) nogil
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


def act_bwd_uses_output(int kind):
    """True if activation `kind`'s backward reads the forward output, False if the input."""
    cdef int r = dl_act_bwd_uses_output(kind)
    if r < 0:
        raise ValueError("act: unknown activation kind %d" % kind)
    return bool(r)


def act_forward(int kind, cnp.ndarray x not None, cnp.ndarray out=None, double a=0.0,
                double b=0.0, double c=0.0):
    """out = f(x) for activation `kind` (AF_*); x and out contiguous, same dtype and size.
    out None: a new array of x's shape, and x may be strided (read through a contiguous
    copy); made here, as np.empty_like costs more than a small activation."""
    cdef int t = float_type(x, "act_forward", "input")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    if out is None:
        if not cnp.PyArray_IS_C_CONTIGUOUS(x):
            x = np.ascontiguousarray(x)
        out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), t, 0)
    cdef void *px = checked_ptr(x, "act_forward", "x", t, n)
    cdef void *py = checked_ptr(out, "act_forward", "out", t, n, OP_WRITE)
    if dl_act_bwd_uses_output(kind) < 0:
        raise ValueError("act_forward: unknown activation kind %d" % kind)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_act_fwd_f32(kind, <float*>px, <float*>py, n, <float>a, <float>b, <float>c)
    else:
        with nogil:
            dl_act_fwd_f64(kind, <double*>px, <double*>py, n, a, b, c)
    return out


def silu_mul(cnp.ndarray gu not None, cnp.ndarray out not None):
    """out (M, F) = silu(gu[:, :F]) * gu[:, F:] for gu (M, 2F), float32, C-contiguous: SwiGLU
    over a stacked gate|up projection in one pass (the same roundings as act_forward's SiLU
    then the product)."""
    if gu.ndim != 2 or gu.shape[1] % 2:
        raise ValueError("silu_mul: gu must be 2-D (M, 2F) with an even number of columns, got "
                         "shape %s" % ((<object>gu).shape,))
    cdef size_t M = gu.shape[0], F = gu.shape[1] // 2
    cdef const float *pg = <const float*>checked_ptr(gu, "silu_mul", "gu", cnp.NPY_FLOAT32)
    cdef float *po = <float*>checked_ptr(out, "silu_mul", "out", cnp.NPY_FLOAT32, (M, F),
                                         OP_WRITE)
    with nogil:
        dl_silu_mul_f32(pg, 2 * F, M, F, po)
    return out


def act_backward(int kind, cnp.ndarray x, cnp.ndarray y, cnp.ndarray g not None,
                 cnp.ndarray gx=None, double a=0.0, double b=0.0, double c=0.0):
    """gx = g * f'(.) from the input x or the output y (whichever act_bwd_uses_output says);
    gx None: a new array of g's shape."""
    cdef int uses_y = dl_act_bwd_uses_output(kind)
    if uses_y < 0:
        raise ValueError("act_backward: unknown activation kind %d" % kind)
    cdef int t = float_type(g, "act_backward", "grad")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(g)
    if gx is None:
        gx = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(g), cnp.PyArray_DIMS(g), t, 0)
    cdef void *pg = checked_ptr(g, "act_backward", "grad", t, n)
    cdef void *pgx = checked_ptr(gx, "act_backward", "grad_input", t, n, OP_WRITE)
    cdef void *px = NULL
    cdef void *py = NULL
    if uses_y:
        py = checked_ptr(y, "act_backward", "output", t, n)
    else:
        px = checked_ptr(x, "act_backward", "input", t, n)
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
    cdef int t = float_type(x, "softmax", "input")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef void *px = checked_ptr(x, "softmax", "input", t, n)
    cdef void *py = checked_ptr(y, "softmax", "out", t, n, OP_WRITE)
    _sm_dims(outer, dim, inner, n, "softmax")
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
    cdef int t = float_type(y, "softmax_backward", "output")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(y)
    cdef void *py = checked_ptr(y, "softmax_backward", "output", t, n)
    cdef void *pg = checked_ptr(g, "softmax_backward", "grad", t, n)
    cdef void *pgx = checked_ptr(gx, "softmax_backward", "grad_input", t, n, OP_WRITE)
    _sm_dims(outer, dim, inner, n, "softmax_backward")
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_softmax_bwd_f32(<float*>py, <float*>pg, <float*>pgx, outer, dim, inner, log)
    else:
        with nogil:
            dl_softmax_bwd_f64(<double*>py, <double*>pg, <double*>pgx, outer, dim, inner, log)
    return gx
