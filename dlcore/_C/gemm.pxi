cdef extern from "dlcore/gemm.h":
    ctypedef enum dl_act_t:
        DL_ACT_NONE
        DL_ACT_RELU
        DL_ACT_GELU
        DL_ACT_RELU6
    ctypedef enum dl_bias_t:
        DL_BIAS_NONE
        DL_BIAS_ROW
        DL_BIAS_COL
    void dl_sgemm(int transa, int transb, size_t M, size_t N, size_t K, float alpha,
                  const float *A, ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta,
                  float *C, ptrdiff_t ldc, const float *bias, dl_bias_t bias_kind,
                  dl_act_t act) nogil
    void dl_dgemm(int transa, int transb, size_t M, size_t N, size_t K, double alpha,
                  const double *A, ptrdiff_t lda, const double *B, ptrdiff_t ldb, double beta,
                  double *C, ptrdiff_t ldc, const double *bias, dl_bias_t bias_kind,
                  dl_act_t act) nogil
    void dl_sgemm_ex(int transa, int transb, size_t M, size_t N, size_t K, float alpha,
                     const float *A, ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta,
                     float *C, ptrdiff_t ldc, const float *bias, dl_bias_t bias_kind,
                     dl_act_t act, int nthreads) nogil
    void dl_dgemm_ex(int transa, int transb, size_t M, size_t N, size_t K, double alpha,
                     const double *A, ptrdiff_t lda, const double *B, ptrdiff_t ldb,
                     double beta, double *C, ptrdiff_t ldc, const double *bias,
                     dl_bias_t bias_kind, dl_act_t act, int nthreads) nogil
    void dl_sgemm_batched(int transa, int transb, size_t M, size_t N, size_t K, float alpha,
                          const float *A, ptrdiff_t lda, ptrdiff_t stride_a,
                          const float *B, ptrdiff_t ldb, ptrdiff_t stride_b, float beta,
                          float *C, ptrdiff_t ldc, ptrdiff_t stride_c, size_t batch) nogil
    void dl_dgemm_batched(int transa, int transb, size_t M, size_t N, size_t K, double alpha,
                          const double *A, ptrdiff_t lda, ptrdiff_t stride_a,
                          const double *B, ptrdiff_t ldb, ptrdiff_t stride_b, double beta,
                          double *C, ptrdiff_t ldc, ptrdiff_t stride_c, size_t batch) nogil

ACT_NONE, ACT_RELU, ACT_GELU, ACT_RELU6 = 0, 1, 2, 3
BIAS_NONE, BIAS_ROW, BIAS_COL = 0, 1, 2


cdef struct _mat:
    # one matrix operand as the C kernels see it: row-major with row stride ld, optionally
    # transposed (a column-major NumPy view is the row-major transpose of its .T)
    int trans
    ptrdiff_t ld
    size_t rows    # rows of the NumPy array as given
    size_t cols


cdef int _matrix_layout(cnp.ndarray a, int axis0, str fn, str name, _mat *out) except -1:
    """Describe axes (axis0, axis0+1) of `a` as a row-major matrix with row stride ld, or the
    transpose of one (for column-major views such as X.T); strides must be non-negative
    multiples of the item size and one of the two must be the item size."""
    cdef ptrdiff_t item = cnp.PyArray_ITEMSIZE(a)
    cdef ptrdiff_t d0 = cnp.PyArray_DIM(a, axis0), d1 = cnp.PyArray_DIM(a, axis0 + 1)
    cdef ptrdiff_t s0 = cnp.PyArray_STRIDE(a, axis0), s1 = cnp.PyArray_STRIDE(a, axis0 + 1)
    out.rows = d0
    out.cols = d1
    # a dimension of length <= 1 has no meaningful stride: normalise it
    if d1 <= 1:
        s1 = item
    if d0 <= 1:
        s0 = d1 * item if s1 == item else item
    if s0 < 0 or s1 < 0 or s0 % item or s1 % item:
        raise ValueError("%s: %s has negative or unaligned strides %s; pass a copy "
                         "(np.ascontiguousarray)" % (fn, name, (<object>a).strides))
    if s1 == item and (s0 >= d1 * item or s0 == 0):
        out.trans = 0
        out.ld = max(s0 // item, 1)
        if s0 == 0:
            out.ld = 0    # broadcast rows (read-only use)
        return 0
    if s0 == item and (s1 >= d0 * item or s1 == 0):
        out.trans = 1
        out.ld = s1 // item
        return 0
    raise ValueError("%s: %s must have rows or columns contiguous (strides %s, item size %d); "
                     "pass a copy (np.ascontiguousarray)"
                     % (fn, name, (<object>a).strides, item))


cdef inline size_t _span_end(cnp.ndarray a):
    """One past the last byte an array with non-negative strides can touch."""
    cdef int d
    cdef size_t end = <size_t>cnp.PyArray_DATA(a)
    for d in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_DIM(a, d) == 0:
            return end
        end += (cnp.PyArray_DIM(a, d) - 1) * cnp.PyArray_STRIDE(a, d)
    return end + cnp.PyArray_ITEMSIZE(a)


cdef inline int _overlap(cnp.ndarray a, cnp.ndarray b):
    cdef size_t a0 = <size_t>cnp.PyArray_DATA(a), b0 = <size_t>cnp.PyArray_DATA(b)
    if cnp.PyArray_SIZE(a) == 0 or cnp.PyArray_SIZE(b) == 0:
        return 0
    return a0 < _span_end(b) and b0 < _span_end(a)


cdef int _check_dtypes(cnp.ndarray A, cnp.ndarray B, cnp.ndarray C, str fn) except -1:
    cdef int t = float_type(C, fn, "C")
    if cnp.PyArray_TYPE(A) != t or cnp.PyArray_TYPE(B) != t:
        raise TypeError("%s: A, B and C must share a dtype, got %s, %s, %s"
                        % (fn, A.dtype, B.dtype, C.dtype))
    need_writeable(C, fn, "C")
    return t


cdef int _check_overlap(cnp.ndarray A, cnp.ndarray B, cnp.ndarray C, str fn) except -1:
    # after _matrix_layout: strides are known non-negative here
    if _overlap(C, A) or _overlap(C, B):
        raise ValueError("%s: C must not share memory with A or B" % fn)
    return 0


def gemm(cnp.ndarray A not None, cnp.ndarray B not None, cnp.ndarray C not None,
         bint transa=False, bint transb=False, double alpha=1.0, double beta=0.0,
         cnp.ndarray bias=None, int bias_kind=0, int act=0, int threads=0):
    """C = act(alpha * op(A) @ op(B) + beta * C + bias) in place; returns C.

    A, B, C are 2-D float32 or float64 arrays (one dtype), each with contiguous rows or
    contiguous columns and any leading stride (slices and transposed views are read in place);
    op(X) = X.T when trans is set.  bias (with bias_kind BIAS_ROW: N values added to every row,
    BIAS_COL: M values added to every column) and act (ACT_NONE, ACT_RELU, ACT_GELU, exact erf,
    ACT_RELU6, a clip to [0, 6]) are applied in the same pass.  beta == 0 ignores the old
    contents of C.  threads: 0 uses the engine's thread count, n >= 1 at most n threads.
    """
    if cnp.PyArray_NDIM(A) != 2 or cnp.PyArray_NDIM(B) != 2 or cnp.PyArray_NDIM(C) != 2:
        raise ValueError("gemm: A, B and C must be 2-D, got shapes %s, %s, %s"
                         % ((<object>A).shape, (<object>B).shape, (<object>C).shape))
    cdef int t = _check_dtypes(A, B, C, "gemm")
    cdef _mat a, b, c
    _matrix_layout(A, 0, "gemm", "A", &a)
    _matrix_layout(B, 0, "gemm", "B", &b)
    _matrix_layout(C, 0, "gemm", "C", &c)
    _check_overlap(A, B, C, "gemm")
    cdef size_t M = a.cols if transa else a.rows
    cdef size_t K = a.rows if transa else a.cols
    cdef size_t KB = b.cols if transb else b.rows
    cdef size_t N = b.rows if transb else b.cols
    if K != KB:
        raise ValueError("gemm: inner dimensions differ: op(A) is %dx%d, op(B) is %dx%d"
                         % (M, K, KB, N))
    if c.rows != M or c.cols != N:
        raise ValueError("gemm: C must be %dx%d, got %s" % (M, N, (<object>C).shape))
    if c.ld == 0 and M > 1 and N > 1:
        raise ValueError("gemm: C must not have overlapping rows (stride 0)")
    if bias_kind < 0 or bias_kind > 2:
        raise ValueError("gemm: bias_kind must be BIAS_NONE, BIAS_ROW or BIAS_COL (0, 1, 2), "
                         "got %d" % bias_kind)
    if act < 0 or act > 3:
        raise ValueError("gemm: act must be ACT_NONE, ACT_RELU, ACT_GELU or ACT_RELU6 (0 to 3), "
                         "got %d" % act)
    if threads < 0:
        raise ValueError("gemm: threads must be >= 0, got %d" % threads)
    cdef void *pbias = NULL
    cdef size_t nb
    if bias_kind != 0:
        if bias is None:
            raise ValueError("gemm: bias_kind is %d but bias is None" % bias_kind)
        nb = N if bias_kind == 1 else M
        pbias = checked_ptr(bias, "gemm", "bias", t, nb)
        if _overlap(C, bias):
            raise ValueError("gemm: C must not share memory with bias")

    # The kernels write row-major C.  A column-major C (e.g. out=X.T) is the row-major
    # C^T = op(B)^T op(A)^T: swap the operands, flip their transposes and the bias direction.
    cdef int ta = (transa != 0) ^ a.trans, tb = (transb != 0) ^ b.trans
    cdef void *pa = cnp.PyArray_DATA(A)
    cdef void *pb = cnp.PyArray_DATA(B)
    cdef void *pc = cnp.PyArray_DATA(C)
    cdef ptrdiff_t lda = a.ld, ldb = b.ld
    cdef size_t m = M, n = N
    cdef void *tmp
    if c.trans:
        tmp = pa; pa = pb; pb = tmp
        lda, ldb = b.ld, a.ld
        ta, tb = 1 - tb, 1 - ta
        m, n = N, M
        if bias_kind != 0:
            bias_kind = 3 - bias_kind
    cdef int bk = bias_kind, ac = act
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_sgemm_ex(ta, tb, m, n, K, <float>alpha, <float*>pa, lda, <float*>pb, ldb,
                        <float>beta, <float*>pc, c.ld, <float*>pbias, <dl_bias_t>bk,
                        <dl_act_t>ac, threads)
    else:
        with nogil:
            dl_dgemm_ex(ta, tb, m, n, K, alpha, <double*>pa, lda, <double*>pb, ldb,
                        beta, <double*>pc, c.ld, <double*>pbias, <dl_bias_t>bk,
                        <dl_act_t>ac, threads)
    return C


cdef ptrdiff_t _batch_stride(cnp.ndarray a, str name) except -1:
    cdef ptrdiff_t item = cnp.PyArray_ITEMSIZE(a), s = cnp.PyArray_STRIDE(a, 0)
    if cnp.PyArray_DIM(a, 0) <= 1:
        return 0
    if s < 0 or s % item:
        raise ValueError("gemm_batched: %s has a negative or unaligned batch stride %d"
                         % (name, s))
    return s // item


def gemm_batched(cnp.ndarray A not None, cnp.ndarray B not None, cnp.ndarray C not None,
                 bint transa=False, bint transb=False, double alpha=1.0, double beta=0.0):
    """C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] for 3-D arrays, in place; returns C.

    Each matrix needs contiguous rows or columns; any batch and leading strides (a batch
    stride of 0 broadcasts one A or B over the batch).
    """
    if cnp.PyArray_NDIM(A) != 3 or cnp.PyArray_NDIM(B) != 3 or cnp.PyArray_NDIM(C) != 3:
        raise ValueError("gemm_batched: A, B and C must be 3-D, got shapes %s, %s, %s"
                         % ((<object>A).shape, (<object>B).shape, (<object>C).shape))
    cdef int t = _check_dtypes(A, B, C, "gemm_batched")
    cdef size_t batch = cnp.PyArray_DIM(C, 0)
    if <size_t>cnp.PyArray_DIM(A, 0) != batch or <size_t>cnp.PyArray_DIM(B, 0) != batch:
        raise ValueError("gemm_batched: batch sizes differ: A %d, B %d, C %d"
                         % (cnp.PyArray_DIM(A, 0), cnp.PyArray_DIM(B, 0), batch))
    cdef _mat a, b, c
    _matrix_layout(A, 1, "gemm_batched", "A", &a)
    _matrix_layout(B, 1, "gemm_batched", "B", &b)
    _matrix_layout(C, 1, "gemm_batched", "C", &c)
    _check_overlap(A, B, C, "gemm_batched")
    cdef size_t M = a.cols if transa else a.rows
    cdef size_t K = a.rows if transa else a.cols
    cdef size_t KB = b.cols if transb else b.rows
    cdef size_t N = b.rows if transb else b.cols
    if K != KB or c.rows != M or c.cols != N:
        raise ValueError("gemm_batched: shapes do not chain: %s, %s -> %s"
                         % ((<object>A).shape, (<object>B).shape, (<object>C).shape))
    cdef ptrdiff_t sa = _batch_stride(A, "A"), sb = _batch_stride(B, "B")
    cdef ptrdiff_t sc = _batch_stride(C, "C")
    if batch > 1 and M > 0 and N > 0:
        # distinct outputs must not overlap: the batch stride must clear one whole matrix
        if sc == 0 or <size_t>sc < ((M - 1) * c.ld + N if not c.trans else (N - 1) * c.ld + M):
            raise ValueError("gemm_batched: the matrices of C overlap (batch stride %d)" % sc)
    if c.ld == 0 and M > 1 and N > 1:
        raise ValueError("gemm_batched: C must not have overlapping rows (stride 0)")
    cdef int ta = (transa != 0) ^ a.trans, tb = (transb != 0) ^ b.trans
    cdef void *pa = cnp.PyArray_DATA(A)
    cdef void *pb = cnp.PyArray_DATA(B)
    cdef void *pc = cnp.PyArray_DATA(C)
    cdef ptrdiff_t lda = a.ld, ldb = b.ld
    cdef size_t m = M, n = N
    cdef void *tmp
    if c.trans:
        tmp = pa; pa = pb; pb = tmp
        lda, ldb = b.ld, a.ld
        sa, sb = sb, sa
        ta, tb = 1 - tb, 1 - ta
        m, n = N, M
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_sgemm_batched(ta, tb, m, n, K, <float>alpha, <float*>pa, lda, sa,
                             <float*>pb, ldb, sb, <float>beta, <float*>pc, c.ld, sc, batch)
    else:
        with nogil:
            dl_dgemm_batched(ta, tb, m, n, K, alpha, <double*>pa, lda, sa,
                             <double*>pb, ldb, sb, beta, <double*>pc, c.ld, sc, batch)
    return C
