# The checks every wrapper shares: the one way to get a kernel operand's pointer from a NumPy
# array (checked_ptr), and the dtype checks.  Errors name the function and the operand, say
# what was expected and what came.
from libc.stddef cimport ptrdiff_t


cdef inline str type_name(int typ):
    return str(cnp.PyArray_DescrFromType(typ))


cdef int float_type(object a, str fname, str name) except -1:
    """The dtype number of `a` when it is a float32 or float64 array; TypeError otherwise."""
    if not isinstance(a, np.ndarray):
        raise TypeError("%s: %s must be a NumPy array, got %s" % (fname, name, type(a).__name__))
    cdef int t = cnp.PyArray_TYPE(<cnp.ndarray>a)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError("%s: %s must be float32 or float64, got %s" % (fname, name, a.dtype))
    return t


cdef int common_float_type(str fname, arrays) except -1:
    """The float dtype number shared by the arrays of `arrays`, (name, array) pairs; None
    entries are skipped (-1 when all are None)."""
    cdef int t = -1
    first = None
    for name, a in arrays:
        if a is None:
            continue
        if t < 0:
            t = float_type(a, fname, name)
            first = name
        elif not isinstance(a, np.ndarray):
            raise TypeError("%s: %s must be a NumPy array, got %s"
                            % (fname, name, type(a).__name__))
        elif cnp.PyArray_TYPE(<cnp.ndarray>a) != t:
            raise TypeError("%s: %s dtype must be %s like %s, got %s"
                            % (fname, name, type_name(t), first, a.dtype))
    return t


# checked_ptr flags: the kernel writes the operand; None is allowed (the kernel gets NULL)
cdef enum:
    OP_WRITE = 1
    OP_OPTIONAL = 2


cdef void* checked_ptr(object a, str fname, str name, int typ, object want=None,
                       int flags=0) except? NULL:
    """The data pointer of kernel operand `a` after the checks a kernel relies on: a NumPy
    array (None: NULL with OP_OPTIONAL, else an error) of dtype `typ`, of the shape `want`
    (a tuple) or the number of elements `want` (an int) when given, C-contiguous, and
    writeable with OP_WRITE."""
    if a is None:
        if flags & OP_OPTIONAL:
            return NULL
        raise ValueError("%s: %s is required" % (fname, name))
    if not isinstance(a, np.ndarray):
        raise TypeError("%s: %s must be a NumPy array, got %s" % (fname, name, type(a).__name__))
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_TYPE(arr) != typ:
        raise TypeError("%s: %s dtype must be %s, got %s"
                        % (fname, name, type_name(typ), arr.dtype))
    if want is not None:
        if isinstance(want, tuple):
            if a.shape != want:
                raise ValueError("%s: %s must have shape %s, got %s"
                                 % (fname, name, want, a.shape))
        elif cnp.PyArray_SIZE(arr) != want:
            raise ValueError("%s: %s must have %d elements, got %d"
                             % (fname, name, want, cnp.PyArray_SIZE(arr)))
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        raise ValueError("%s: %s must be C-contiguous" % (fname, name))
    if flags & OP_WRITE and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError("%s: %s must be writeable" % (fname, name))
    return cnp.PyArray_DATA(arr)


cdef int need_writeable(cnp.ndarray a, str fname, str name) except -1:
    """For operands checked elsewhere (strided views the kernel reads through strides)."""
    if not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError("%s: %s must be writeable" % (fname, name))
    return 0
