cdef extern from "dlcore/gemm_prepacked.h":
    ctypedef struct dl_sgemm_packed_b:
        pass
    dl_sgemm_packed_b *dl_sgemm_pack_b(int transb, size_t K, size_t N, const float *B,
                                       ptrdiff_t ldb) nogil
    void dl_sgemm_packed_b_free(dl_sgemm_packed_b *pb) nogil
    ctypedef struct dl_gemm_post:
        pass
    int dl_sgemm_packed_b_run(const dl_sgemm_packed_b *pb, size_t M, size_t N, size_t K,
                              float alpha, const float *A, ptrdiff_t lda, float beta, float *C,
                              ptrdiff_t ldc, const float *bias, dl_bias_t bias_kind,
                              dl_act_t act, const dl_gemm_post *post, int nthreads) nogil
    ctypedef struct dl_sgemm_cm_a:
        const float *A
        ptrdiff_t lda
        size_t seg
        ptrdiff_t gstride
    int dl_sgemm_packed_b_run_cm(const dl_sgemm_packed_b *pb, size_t M, size_t N, size_t K,
                                 float alpha, const dl_sgemm_cm_a *a, float beta, float *C,
                                 ptrdiff_t ldc, const float *bias, dl_bias_t bias_kind,
                                 dl_act_t act, const dl_gemm_post *post, int nthreads) nogil


cdef class SgemmPackedB:
    """A float32 right operand op(B) (K x N) packed once for the ISA in use now
    (csrc/gemm_prepacked.c); run(A) gives act(alpha * A @ op(B) + beta * C + bias).  B (N x K
    when transb, else K x N, C-contiguous) is kept referenced: products of a few rows read it."""
    cdef dl_sgemm_packed_b *pb
    cdef readonly object B
    cdef readonly size_t K, N

    def __cinit__(self, cnp.ndarray B, bint transb):
        if B.dtype != np.float32 or B.ndim != 2 or not B.flags.c_contiguous:
            raise ValueError("SgemmPackedB: B must be a C-contiguous 2-D float32 array, got "
                             "%s %s" % (B.dtype, (<object>B).shape))
        self.B = B
        self.N = B.shape[0] if transb else B.shape[1]
        self.K = B.shape[1] if transb else B.shape[0]
        if self.K == 0 or self.N == 0:
            raise ValueError("SgemmPackedB: B must not be empty, got shape %s"
                             % ((<object>B).shape,))
        self.pb = dl_sgemm_pack_b(transb, self.K, self.N, <const float *>B.data, B.shape[1])
        if self.pb == NULL:
            raise MemoryError("SgemmPackedB: out of memory packing %d x %d" % (self.K, self.N))

    def __dealloc__(self):
        dl_sgemm_packed_b_free(self.pb)

    def run(self, cnp.ndarray A, bias=None, int act=0, float alpha=1.0, float beta=0.0,
            C=None, bias_kind=None, int nthreads=0):
        if A.dtype != np.float32 or A.ndim != 2 or not A.flags.c_contiguous \
                or <size_t>A.shape[1] != self.K:
            raise ValueError("SgemmPackedB.run: A must be a C-contiguous float32 (M, %d) array, "
                             "got %s %s" % (self.K, A.dtype, (<object>A).shape))
        return self._run(A, A.shape[0], 0, 0, 0, bias, act, alpha, beta, C, bias_kind, nthreads)

    def run_cm(self, cnp.ndarray A, Py_ssize_t M, Py_ssize_t seg, Py_ssize_t gstride,
               Py_ssize_t lda=0, bias=None, int act=0, float alpha=1.0, float beta=0.0,
               C=None, bias_kind=None, int nthreads=0):
        """The product with op(A) channel-major (dl_sgemm_cm_a): rows [g*seg, (g+1)*seg) of
        op(A) are the columns of the K x seg block at element g*gstride of A's buffer (row k
        at + k*lda; lda 0: seg), e.g. NCHW images (seg H*W, gstride C*H*W) as M = N*H*W rows
        of C channels."""
        if A.dtype != np.float32 or not A.flags.c_contiguous:
            raise ValueError("SgemmPackedB.run_cm: A must be a C-contiguous float32 array, got "
                             "%s" % A.dtype)
        if lda == 0:
            lda = seg
        if M < 0 or seg < 1 or lda < seg or gstride < 0:
            raise ValueError("SgemmPackedB.run_cm: need M >= 0, seg >= 1, lda >= seg, "
                             "gstride >= 0, got M %d seg %d lda %d gstride %d"
                             % (M, seg, lda, gstride))
        if M > 0:
            g = (M + seg - 1) // seg
            last = M - (g - 1) * seg
            if (g - 1) * gstride + (<Py_ssize_t>self.K - 1) * lda + last > A.size:
                raise ValueError("SgemmPackedB.run_cm: %d rows of %d columns read past A's %d "
                                 "elements" % (M, self.K, A.size))
        return self._run(A, M, seg, gstride, lda, bias, act, alpha, beta, C, bias_kind,
                         nthreads)

    cdef _run(self, cnp.ndarray A, size_t M, size_t seg, Py_ssize_t gstride, Py_ssize_t lda,
              bias, int act, float alpha, float beta, C, bias_kind, int nthreads):
        if C is None:
            if beta != 0:
                raise ValueError("SgemmPackedB.run: beta != 0 needs C")
            C = np.empty((M, self.N), np.float32)
        cdef cnp.ndarray c = C
        if c.dtype != np.float32 or c.ndim != 2 or not c.flags.c_contiguous \
                or <size_t>c.shape[0] != M or <size_t>c.shape[1] != self.N:
            raise ValueError("SgemmPackedB.run: C must be a C-contiguous float32 (%d, %d) "
                             "array" % (M, self.N))
        cdef int bk = 0
        cdef const float *bp = NULL
        cdef cnp.ndarray b
        if bias is not None:
            b = bias
            bk = BIAS_ROW if bias_kind is None else int(bias_kind)
            want = self.N if bk == BIAS_ROW else M
            if b.dtype != np.float32 or b.ndim != 1 or not b.flags.c_contiguous \
                    or <size_t>b.shape[0] != want or bk not in (BIAS_ROW, BIAS_COL):
                raise ValueError("SgemmPackedB.run: bias must be a float32 vector of %d" % want)
            bp = <const float *>b.data
        if act not in (ACT_NONE, ACT_RELU, ACT_GELU, ACT_RELU6):
            raise ValueError("SgemmPackedB.run: act must be 0, 1, 2 or 3, got %d" % act)
        cdef dl_sgemm_cm_a cm
        cdef int rc = 0
        if seg == 0:
            with nogil:
                dl_sgemm_packed_b_run(self.pb, M, self.N, self.K, alpha, <const float *>A.data,
                                      self.K, beta, <float *>c.data, self.N, bp, <dl_bias_t>bk,
                                      <dl_act_t>act, NULL, nthreads)
        else:
            cm.A = <const float *>A.data
            cm.lda = lda
            cm.seg = seg
            cm.gstride = gstride
            with nogil:
                rc = dl_sgemm_packed_b_run_cm(self.pb, M, self.N, self.K, alpha, &cm, beta,
                                              <float *>c.data, self.N, bp, <dl_bias_t>bk,
                                              <dl_act_t>act, NULL, nthreads)
            if rc != 0:
                raise MemoryError("SgemmPackedB.run_cm: no packing buffer for %d x %d"
                                  % (M, self.K))
        return C
