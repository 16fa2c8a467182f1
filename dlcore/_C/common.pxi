# Helpers shared by every wrapper: raw pointers of checked NumPy arrays.
from libc.stddef cimport ptrdiff_t

cdef inline float* f32p(cnp.ndarray a) except NULL:
    if cnp.PyArray_TYPE(a) != cnp.NPY_FLOAT32:
        raise TypeError("expected a float32 array, got %s" % a.dtype)
    return <float*>cnp.PyArray_DATA(a)

cdef inline double* f64p(cnp.ndarray a) except NULL:
    if cnp.PyArray_TYPE(a) != cnp.NPY_FLOAT64:
        raise TypeError("expected a float64 array, got %s" % a.dtype)
    return <double*>cnp.PyArray_DATA(a)

cdef inline void* anyp(cnp.ndarray a):
    return cnp.PyArray_DATA(a)

cdef inline int is_c_contig(cnp.ndarray a):
    return cnp.PyArray_IS_C_CONTIGUOUS(a)

cdef inline void need_contig(cnp.ndarray a, str name) except *:
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError("%s must be C-contiguous" % name)

cdef inline void need_writeable(cnp.ndarray a, str name) except *:
    if not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError("%s must be writeable" % name)
