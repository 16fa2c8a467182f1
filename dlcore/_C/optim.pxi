# Fused optimizer updates (csrc/optim*.c): one pass over param, grad and state per call.
# The Python optimizers (dlcore/optim) check hyper-parameters; these wrappers check what C
# relies on: same dtype (float32 or float64), same size, C-contiguous, writeable outputs.

cdef extern from "dlcore/optim.h":
    ctypedef struct dl_sgd_args:
        double lr, momentum, dampening, weight_decay
        int nesterov, maximize, first
    ctypedef struct dl_adam_args:
        double lr, beta1, beta2, eps, weight_decay
        int decoupled, maximize
        double step_size, bc2_sqrt
    ctypedef struct dl_rmsprop_args:
        double lr, alpha, eps, weight_decay, momentum
        int centered, maximize
    ctypedef struct dl_adagrad_args:
        double clr, eps, weight_decay
        int maximize
    void dl_sgd_f32(float *p, const float *g, float *buf, size_t n, const dl_sgd_args *a) nogil
    void dl_sgd_f64(double *p, const double *g, double *buf, size_t n,
                    const dl_sgd_args *a) nogil
    void dl_adam_f32(float *p, const float *g, float *m, float *v, float *vmax, size_t n,
                     const dl_adam_args *a) nogil
    void dl_adam_f64(double *p, const double *g, double *m, double *v, double *vmax, size_t n,
                     const dl_adam_args *a) nogil
    void dl_rmsprop_f32(float *p, const float *g, float *sq, float *gavg, float *buf, size_t n,
                        const dl_rmsprop_args *a) nogil
    void dl_rmsprop_f64(double *p, const double *g, double *sq, double *gavg, double *buf,
                        size_t n, const dl_rmsprop_args *a) nogil
    void dl_adagrad_f32(float *p, const float *g, float *sum, size_t n,
                        const dl_adagrad_args *a) nogil
    void dl_adagrad_f64(double *p, const double *g, double *sum, size_t n,
                        const dl_adagrad_args *a) nogil
    double dl_sumsq_f32(const float *x, size_t n) nogil
    double dl_sumsq_f64(const double *x, size_t n) nogil


cdef int _optim_check(str fn, cnp.ndarray p, cnp.ndarray g) except -1:
    """Checks param (written) and grad; returns the dtype number (float32 or float64)."""
    cdef int t = float_type(p, fn, "param")
    checked_ptr(p, fn, "param", t, None, OP_WRITE)
    checked_ptr(g, fn, "grad", t, cnp.PyArray_SIZE(p))
    return t


cdef inline bint _optim_overlap(cnp.ndarray a, cnp.ndarray b):
    """Whether two C-contiguous arrays share any byte."""
    cdef char *pa = <char*>cnp.PyArray_DATA(a)
    cdef char *pb = <char*>cnp.PyArray_DATA(b)
    cdef size_t na = cnp.PyArray_NBYTES(a), nb = cnp.PyArray_NBYTES(b)
    if na == 0 or nb == 0:
        return False
    return pa < pb + nb and pb < pa + na


cdef int _optim_disjoint(str fn, list arrays, list names) except -1:
    """The kernel writes param and state while reading grad: no two may share memory."""
    cdef Py_ssize_t i, j, k = len(arrays)
    for i in range(k):
        for j in range(i + 1, k):
            if _optim_overlap(<cnp.ndarray>arrays[i], <cnp.ndarray>arrays[j]):
                raise ValueError("%s: %s and %s share memory" % (fn, names[i], names[j]))
    return 0


def sgd_update(cnp.ndarray param, cnp.ndarray grad, object momentum_buffer, double lr,
               double momentum=0.0, double dampening=0.0, double weight_decay=0.0,
               bint nesterov=False, bint maximize=False, bint first=False):
    """One SGD step in place on param (and momentum_buffer when momentum != 0).

    first: the buffer is set to the gradient instead of being decayed (PyTorch's first step).
    """
    cdef str fn = "sgd_update"
    cdef int t = _optim_check(fn, param, grad)
    cdef dl_sgd_args a
    a.lr = lr; a.momentum = momentum; a.dampening = dampening; a.weight_decay = weight_decay
    a.nesterov = nesterov; a.maximize = maximize; a.first = first
    cdef size_t n = cnp.PyArray_SIZE(param)
    cdef void *pbuf = NULL
    if momentum != 0.0:
        if momentum_buffer is None:
            raise ValueError("%s: momentum %g needs a momentum_buffer" % (fn, momentum))
        pbuf = checked_ptr(momentum_buffer, fn, "momentum_buffer", t, n, OP_WRITE)
        _optim_disjoint(fn, [param, grad, momentum_buffer], ["param", "grad", "momentum_buffer"])
    else:
        _optim_disjoint(fn, [param, grad], ["param", "grad"])
    cdef void *pp = cnp.PyArray_DATA(param)
    cdef void *pg = cnp.PyArray_DATA(grad)
    if n == 0:
        return
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_sgd_f32(<float*>pp, <const float*>pg, <float*>pbuf, n, &a)
    else:
        with nogil:
            dl_sgd_f64(<double*>pp, <const double*>pg, <double*>pbuf, n, &a)


def adam_update(cnp.ndarray param, cnp.ndarray grad, object exp_avg, object exp_avg_sq,
                object max_exp_avg_sq, double lr, double beta1, double beta2, double eps,
                double weight_decay, bint decoupled, bint maximize, double step_size,
                double bc2_sqrt):
    """One Adam/AdamW step in place; max_exp_avg_sq is None unless amsgrad.

    step_size = lr / (1 - beta1**t), bc2_sqrt = sqrt(1 - beta2**t); decoupled selects AdamW's
    weight decay (p *= 1 - lr * weight_decay) over Adam's (g += weight_decay * p).
    """
    cdef str fn = "adam_update"
    cdef int t = _optim_check(fn, param, grad)
    cdef dl_adam_args a
    a.lr = lr; a.beta1 = beta1; a.beta2 = beta2; a.eps = eps; a.weight_decay = weight_decay
    a.decoupled = decoupled; a.maximize = maximize; a.step_size = step_size
    a.bc2_sqrt = bc2_sqrt
    cdef size_t n = cnp.PyArray_SIZE(param)
    cdef void *pm = checked_ptr(exp_avg, fn, "exp_avg", t, n, OP_WRITE)
    cdef void *pv = checked_ptr(exp_avg_sq, fn, "exp_avg_sq", t, n, OP_WRITE)
    cdef void *pvmax = NULL
    if max_exp_avg_sq is not None:
        pvmax = checked_ptr(max_exp_avg_sq, fn, "max_exp_avg_sq", t, n, OP_WRITE)
        _optim_disjoint(fn, [param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq],
                        ["param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"])
    else:
        _optim_disjoint(fn, [param, grad, exp_avg, exp_avg_sq],
                        ["param", "grad", "exp_avg", "exp_avg_sq"])
    cdef void *pp = cnp.PyArray_DATA(param)
    cdef void *pg = cnp.PyArray_DATA(grad)
    if n == 0:
        return
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_adam_f32(<float*>pp, <const float*>pg, <float*>pm, <float*>pv, <float*>pvmax,
                        n, &a)
    else:
        with nogil:
            dl_adam_f64(<double*>pp, <const double*>pg, <double*>pm, <double*>pv,
                        <double*>pvmax, n, &a)


def rmsprop_update(cnp.ndarray param, cnp.ndarray grad, object square_avg, object grad_avg,
                   object momentum_buffer, double lr, double alpha, double eps,
                   double weight_decay, double momentum, bint centered, bint maximize):
    """One RMSprop step in place; grad_avg is used when centered, momentum_buffer when
    momentum > 0 (either may be None otherwise)."""
    cdef str fn = "rmsprop_update"
    cdef int t = _optim_check(fn, param, grad)
    cdef dl_rmsprop_args a
    a.lr = lr; a.alpha = alpha; a.eps = eps; a.weight_decay = weight_decay
    a.momentum = momentum; a.centered = centered; a.maximize = maximize
    cdef size_t n = cnp.PyArray_SIZE(param)
    cdef void *psq = checked_ptr(square_avg, fn, "square_avg", t, n, OP_WRITE)
    cdef void *pga = NULL
    cdef void *pbuf = NULL
    arrays = [param, grad, square_avg]
    names = ["param", "grad", "square_avg"]
    if centered:
        if grad_avg is None:
            raise ValueError("%s: centered needs a grad_avg" % fn)
        pga = checked_ptr(grad_avg, fn, "grad_avg", t, n, OP_WRITE)
        arrays.append(grad_avg)
        names.append("grad_avg")
    if momentum > 0.0:
        if momentum_buffer is None:
            raise ValueError("%s: momentum %g needs a momentum_buffer" % (fn, momentum))
        pbuf = checked_ptr(momentum_buffer, fn, "momentum_buffer", t, n, OP_WRITE)
        arrays.append(momentum_buffer)
        names.append("momentum_buffer")
    _optim_disjoint(fn, arrays, names)
    cdef void *pp = cnp.PyArray_DATA(param)
    cdef void *pg = cnp.PyArray_DATA(grad)
    if n == 0:
        return
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_rmsprop_f32(<float*>pp, <const float*>pg, <float*>psq, <float*>pga,
                           <float*>pbuf, n, &a)
    else:
        with nogil:
            dl_rmsprop_f64(<double*>pp, <const double*>pg, <double*>psq, <double*>pga,
                           <double*>pbuf, n, &a)


def adagrad_update(cnp.ndarray param, cnp.ndarray grad, object state_sum, double clr,
                   double eps, double weight_decay, bint maximize):
    """One Adagrad step in place; clr = lr / (1 + (t - 1) * lr_decay)."""
    cdef str fn = "adagrad_update"
    cdef int t = _optim_check(fn, param, grad)
    cdef dl_adagrad_args a
    a.clr = clr; a.eps = eps; a.weight_decay = weight_decay; a.maximize = maximize
    cdef size_t n = cnp.PyArray_SIZE(param)
    cdef void *ps = checked_ptr(state_sum, fn, "sum", t, n, OP_WRITE)
    _optim_disjoint(fn, [param, grad, state_sum], ["param", "grad", "sum"])
    cdef void *pp = cnp.PyArray_DATA(param)
    cdef void *pg = cnp.PyArray_DATA(grad)
    if n == 0:
        return
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_adagrad_f32(<float*>pp, <const float*>pg, <float*>ps, n, &a)
    else:
        with nogil:
            dl_adagrad_f64(<double*>pp, <const double*>pg, <double*>ps, n, &a)


def sumsq(cnp.ndarray x):
    """Sum of squares of a float32/float64 array (accumulated in double)."""
    if not cnp.PyArray_IS_C_CONTIGUOUS(x):
        x = np.ascontiguousarray(x)
    cdef int t = cnp.PyArray_TYPE(x)
    cdef size_t n = cnp.PyArray_SIZE(x)
    cdef void *px = cnp.PyArray_DATA(x)
    cdef double r = 0.0
    if n == 0:
        return 0.0
    if t == cnp.NPY_FLOAT32:
        with nogil:
            r = dl_sumsq_f32(<const float*>px, n)
    elif t == cnp.NPY_FLOAT64:
        with nogil:
            r = dl_sumsq_f64(<const double*>px, n)
    else:
        raise TypeError("sumsq: x must be float32 or float64, got %s" % x.dtype)
    return r
