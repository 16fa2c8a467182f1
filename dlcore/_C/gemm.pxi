cdef extern from "dlcore/gemm.h":
    ctypedef enum dl_act_t:
        DL_ACT_NONE
        DL_ACT_RELU
        DL_ACT_GELU
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
    void dl_sgemm_batched(int transa, int transb, size_t M, size_t N, size_t K, float alpha,
                          const float *A, ptrdiff_t lda, ptrdiff_t stride_a,
                          const float *B, ptrdiff_t ldb, ptrdiff_t stride_b, float beta,
                          float *C, ptrdiff_t ldc, ptrdiff_t stride_c, size_t batch) nogil
    void dl_dgemm_batched(int transa, int transb, size_t M, size_t N, size_t K, double alpha,
                          const double *A, ptrdiff_t lda, ptrdiff_t stride_a,
                          const double *B, ptrdiff_t ldb, ptrdiff_t stride_b, double beta,
                          double *C, ptrdiff_t ldc, ptrdiff_t stride_c, size_t batch) nogil

ACT_NONE, ACT_RELU, ACT_GELU = 0, 1, 2
BIAS_NONE, BIAS_ROW, BIAS_COL = 0, 1, 2


cdef inline ptrdiff_t _row_stride(cnp.ndarray a, str name) except -1:
    """Row stride in elements of a 2-D array whose rows are contiguous."""
    if cnp.PyArray_NDIM(a) != 2:
        raise ValueError("gemm: %s must be 2-D, got %d-D" % (name, cnp.PyArray_NDIM(a)))
    cdef ptrdiff_t item = cnp.PyArray_ITEMSIZE(a)
    cdef ptrdiff_t s0 = cnp.PyArray_STRIDE(a, 0), s1 = cnp.PyArray_STRIDE(a, 1)
    if cnp.PyArray_DIM(a, 1) > 1 and s1 != item:
        raise ValueError("gemm: %s rows must be contiguous" % name)
    if s0 % item != 0 or s0 < 0:
        raise ValueError("gemm: %s has an unsupported row stride" % name)
    if cnp.PyArray_DIM(a, 0) <= 1 and s0 < cnp.PyArray_DIM(a, 1) * item:
        return max(cnp.PyArray_DIM(a, 1), 1)
    return s0 // item


def gemm(cnp.ndarray A, cnp.ndarray B, cnp.ndarray C, bint transa=False, bint transb=False,
         double alpha=1.0, double beta=0.0, cnp.ndarray bias=None, int bias_kind=0, int act=0):
    """C = act(alpha * op(A) @ op(B) + beta * C + bias) in place; returns C.

    A, B, C are 2-D with contiguous rows (any row stride); op(X) = X.T when trans is set.
    """
    cdef ptrdiff_t lda = _row_stride(A, "A"), ldb = _row_stride(B, "B"), ldc = _row_stride(C, "C")
    cdef size_t M = cnp.PyArray_DIM(A, 1) if transa else cnp.PyArray_DIM(A, 0)
    cdef size_t K = cnp.PyArray_DIM(A, 0) if transa else cnp.PyArray_DIM(A, 1)
    cdef size_t KB = cnp.PyArray_DIM(B, 1) if transb else cnp.PyArray_DIM(B, 0)
    cdef size_t N = cnp.PyArray_DIM(B, 0) if transb else cnp.PyArray_DIM(B, 1)
    if K != KB:
        raise ValueError("gemm: inner dimensions differ: op(A) is %dx%d, op(B) is %dx%d"
                         % (M, K, KB, N))
    if <size_t>cnp.PyArray_DIM(C, 0) != M or <size_t>cnp.PyArray_DIM(C, 1) != N:
        raise ValueError("gemm: C must be %dx%d, got %s" % (M, N, (<object>C).shape))
    need_writeable(C, "C")
    cdef int t = cnp.PyArray_TYPE(C)
    if cnp.PyArray_TYPE(A) != t or cnp.PyArray_TYPE(B) != t:
        raise TypeError("gemm: A, B and C must share a dtype, got %s, %s, %s"
                        % (A.dtype, B.dtype, C.dtype))
    if bias_kind < 0 or bias_kind > 2 or act < 0 or act > 2:
        raise ValueError("gemm: bad bias_kind %d or act %d" % (bias_kind, act))
    cdef void *pbias = NULL
    if bias is not None and bias_kind != 0:
        need_contig(bias, "bias")
        if cnp.PyArray_TYPE(bias) != t:
            raise TypeError("gemm: bias dtype must be %s, got %s" % (C.dtype, bias.dtype))
        if <size_t>cnp.PyArray_SIZE(bias) != (N if bias_kind == 1 else M):
            raise ValueError("gemm: bias must have %d elements, got %d"
                             % (N if bias_kind == 1 else M, cnp.PyArray_SIZE(bias)))
        pbias = cnp.PyArray_DATA(bias)
    else:
        bias_kind = 0
    cdef void *pa = cnp.PyArray_DATA(A)
    cdef void *pb = cnp.PyArray_DATA(B)
    cdef void *pc = cnp.PyArray_DATA(C)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_sgemm(transa, transb, M, N, K, <float>alpha, <float*>pa, lda, <float*>pb, ldb,
                     <float>beta, <float*>pc, ldc, <float*>pbias, <dl_bias_t>bias_kind,
                     <dl_act_t>act)
    elif t == cnp.NPY_FLOAT64:
        with nogil:
            dl_dgemm(transa, transb, M, N, K, alpha, <double*>pa, lda, <double*>pb, ldb,
                     beta, <double*>pc, ldc, <double*>pbias, <dl_bias_t>bias_kind,
                     <dl_act_t>act)
    else:
        raise TypeError("gemm: dtype must be float32 or float64, got %s" % C.dtype)
    return C


def gemm_batched(cnp.ndarray A, cnp.ndarray B, cnp.ndarray C, bint transa=False,
                 bint transb=False, double alpha=1.0, double beta=0.0):
    """C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] for 3-D C-contiguous arrays."""
    for name, a in (("A", A), ("B", B), ("C", C)):
        if a.ndim != 3 or not a.flags.c_contiguous:
            raise ValueError("gemm_batched: %s must be a 3-D C-contiguous array" % name)
    cdef size_t batch = C.shape[0]
    if A.shape[0] != batch or B.shape[0] != batch:
        raise ValueError("gemm_batched: batch sizes differ: %d, %d, %d"
                         % (A.shape[0], B.shape[0], batch))
    cdef size_t M = A.shape[2] if transa else A.shape[1]
    cdef size_t K = A.shape[1] if transa else A.shape[2]
    cdef size_t KB = B.shape[2] if transb else B.shape[1]
    cdef size_t N = B.shape[1] if transb else B.shape[2]
    if K != KB or C.shape[1] != M or C.shape[2] != N:
        raise ValueError("gemm_batched: shapes do not chain: %s, %s -> %s"
                         % ((<object>A).shape, (<object>B).shape, (<object>C).shape))
    need_writeable(C, "C")
    cdef int t = cnp.PyArray_TYPE(C)
    if cnp.PyArray_TYPE(A) != t or cnp.PyArray_TYPE(B) != t:
        raise TypeError("gemm_batched: A, B and C must share a dtype")
    cdef ptrdiff_t lda = A.shape[2], ldb = B.shape[2], ldc = C.shape[2]
    cdef ptrdiff_t sa = A.shape[1] * A.shape[2], sb = B.shape[1] * B.shape[2], sc = M * N
    cdef void *pa = cnp.PyArray_DATA(A)
    cdef void *pb = cnp.PyArray_DATA(B)
    cdef void *pc = cnp.PyArray_DATA(C)
    if t == cnp.NPY_FLOAT32:
        with nogil:
            dl_sgemm_batched(transa, transb, M, N, K, <float>alpha, <float*>pa, lda, sa,
                             <float*>pb, ldb, sb, <float>beta, <float*>pc, ldc, sc, batch)
    elif t == cnp.NPY_FLOAT64:
        with nogil:
            dl_dgemm_batched(transa, transb, M, N, K, alpha, <double*>pa, lda, sa,
                             <double*>pb, ldb, sb, beta, <double*>pc, ldc, sc, batch)
    else:
        raise TypeError("gemm_batched: dtype must be float32 or float64, got %s" % C.dtype)
    return C
