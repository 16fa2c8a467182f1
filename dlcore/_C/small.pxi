# Small-tensor fast paths: on a tensor of a few elements NumPy's per-call machinery (a ufunc
# reduction sets up an iterator: ~1 us) is the whole cost of an op.  Each function returns
# exactly what NumPy returns, or None where it does not apply (the caller then calls NumPy).
from libc.math cimport isfinite

cdef enum:
    # NumPy adds up to 7 contiguous elements left to right from +0.0; from 8 on pairwise
    SUM_SMALL_MAX = 7


def sum_small(x, bint keepdims=False):
    """The sum of every element of `x` as an array of shape () (keepdims: (1,) * x.ndim), or
    None unless `x` is a C-contiguous float32/float64 array of 1..7 elements whose sum is
    finite.  NumPy's order exactly, ((0 + x0) + x1) + ...; on a non-finite sum NumPy computes
    it again and gives its overflow warning."""
    if type(x) is not np.ndarray:
        return None
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef Py_ssize_t n = cnp.PyArray_SIZE(a), i
    cdef int t = cnp.PyArray_TYPE(a)
    if n < 1 or n > SUM_SMALL_MAX or not cnp.PyArray_IS_C_CONTIGUOUS(a):
        return None
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        return None
    cdef float sf = 0.0
    cdef double sd = 0.0
    cdef const float *pf
    cdef const double *pd
    if t == cnp.NPY_FLOAT32:
        pf = <const float *>cnp.PyArray_DATA(a)
        for i in range(n):
            sf = sf + pf[i]
        if not isfinite(sf):
            return None
    else:
        pd = <const double *>cnp.PyArray_DATA(a)
        for i in range(n):
            sd = sd + pd[i]
        if not isfinite(sd):
            return None
    cdef cnp.npy_intp dims[64]
    cdef int nd = cnp.PyArray_NDIM(a) if keepdims else 0
    for i in range(nd):
        dims[i] = 1
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(nd, dims, t, 0)
    if t == cnp.NPY_FLOAT32:
        (<float *>cnp.PyArray_DATA(out))[0] = sf
    else:
        (<double *>cnp.PyArray_DATA(out))[0] = sd
    return out
