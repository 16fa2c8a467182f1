# Static int8 CNN kernels over NHWC u8 activations (csrc/qconv*.c, dlcore/qconv.h).

cdef extern from "dlcore/qconv.h":
    ctypedef struct dl_qconv_shape_t:
        size_t N, H, W, C, OC, KH, KW, SH, SW, PT, PL, DH, DW, OH, OW, groups
    ctypedef struct dl_qparams_t:
        float x_scale
        int32_t x_zp
        float y_scale
        int32_t y_zp
        int relu
        int x_u7
        int y_u7
    int dl_qconv2d_u8(const dl_qconv_shape_t *s, const uint8_t *x, const int8_t *packed,
                      const int32_t *colsum, const float *w_scale, const float *bias,
                      const dl_qparams_t *q, uint8_t *y) nogil
    int dl_qconv2d_dw_u8(const dl_qconv_shape_t *s, const uint8_t *x, const int8_t *w,
                         const float *w_scale, const float *bias, const dl_qparams_t *q,
                         uint8_t *y) nogil
    int dl_qadd_u8(size_t n, const uint8_t *a, const uint8_t *b, float b_scale, int32_t b_zp,
                   const dl_qparams_t *q, uint8_t *y) nogil
    int dl_qmaxpool2d_u8(const dl_qconv_shape_t *s, const uint8_t *x, uint8_t *y) nogil


cdef int _qgeometry(dl_qconv_shape_t *s, cnp.ndarray x, tuple geom, str f) except -1:
    """Fill s from x (N, H, W, C) u8 and geom = (OC, KH, KW, SH, SW, PT, PL, DH, DW, OH, OW,
    groups)."""
    if cnp.PyArray_NDIM(x) != 4:
        raise ValueError("%s: x must be 4-D (N, H, W, C), got %d-D" % (f, x.ndim))
    if len(geom) != 12 or any(int(v) < 0 for v in geom):
        raise ValueError("%s: geometry must be 12 non-negative ints, got %r" % (f, geom))
    s.N, s.H, s.W, s.C = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    (s.OC, s.KH, s.KW, s.SH, s.SW, s.PT, s.PL, s.DH, s.DW, s.OH, s.OW, s.groups) = geom
    if s.KH == 0 or s.KW == 0 or s.SH == 0 or s.SW == 0 or s.DH == 0 or s.DW == 0:
        raise ValueError("%s: kernel, stride and dilation must be positive, got %r" % (f, geom))
    return 0


cdef int _qparams(dl_qparams_t *q, float x_scale, int x_zp, float y_scale, int y_zp, bint relu,
                  str f) except -1:
    if not (x_scale > 0 and y_scale > 0):
        raise ValueError("%s: scales must be > 0, got x_scale=%r y_scale=%r"
                         % (f, x_scale, y_scale))
    if not (0 <= x_zp <= 255 and 0 <= y_zp <= 255):
        raise ValueError("%s: zero points must be in 0..255, got x_zp=%d y_zp=%d"
                         % (f, x_zp, y_zp))
    q.x_scale, q.x_zp, q.y_scale, q.y_zp, q.relu = x_scale, x_zp, y_scale, y_zp, relu
    q.x_u7 = 0
    q.y_u7 = 0
    return 0


def qconv2d_u8(cnp.ndarray x not None, cnp.ndarray packed not None, cnp.ndarray colsum not None,
               cnp.ndarray w_scale not None, bias, tuple geom, float x_scale, int x_zp,
               float y_scale, int y_zp, bint relu=False, bint reduce_range=False,
               bint out_reduce_range=False):
    """y (N, OH, OW, OC) u8 = the requantized convolution of x (N, H, W, C) u8 by weights
    packed per group (see dlcore/qconv.h); reduce_range: x's codes should be in 0..127 (the
    GEMM's 7-bit tile; checked, exact either way); out_reduce_range: y's codes clamped to
    0..127."""
    cdef str f = "qconv2d_u8"
    cdef dl_qconv_shape_t s
    cdef dl_qparams_t q
    _qgeometry(&s, x, geom, f)
    _qparams(&q, x_scale, x_zp, y_scale, y_zp, relu, f)
    q.x_u7 = reduce_range
    q.y_u7 = out_reduce_range
    if s.groups == 0 or s.C % s.groups or s.OC % s.groups:
        raise ValueError("%s: groups=%d must divide C=%d and OC=%d" % (f, s.groups, s.C, s.OC))
    cdef size_t K = s.KH * s.KW * (s.C // s.groups)
    if K > DL_QGEMM_MAX_K:
        raise ValueError("%s: KH*KW*C/groups must be at most %d, got %d" % (f, DL_QGEMM_MAX_K, K))
    cdef size_t pbytes = s.groups * dl_u8s8_packed_bytes(s.OC // s.groups, K)
    cdef const uint8_t *px = <const uint8_t*>checked_ptr(x, f, "x", cnp.NPY_UINT8)
    cdef const int8_t *pp = <const int8_t*>checked_ptr(packed, f, "packed", cnp.NPY_INT8,
                                                       <object>pbytes)
    cdef const int32_t *pc = <const int32_t*>checked_ptr(colsum, f, "colsum", cnp.NPY_INT32,
                                                         <object>s.OC)
    cdef const float *pws = <const float*>checked_ptr(w_scale, f, "w_scale", cnp.NPY_FLOAT32,
                                                      <object>s.OC)
    cdef const float *pb = <const float*>checked_ptr(bias, f, "bias", cnp.NPY_FLOAT32,
                                                     <object>s.OC, OP_OPTIONAL)
    cdef cnp.ndarray y = np.empty((s.N, s.OH, s.OW, s.OC), dtype=np.uint8)
    cdef uint8_t *py = <uint8_t*>cnp.PyArray_DATA(y)
    cdef int rc
    with nogil:
        rc = dl_qconv2d_u8(&s, px, pp, pc, pws, pb, &q, py)
    if rc == -2:
        raise MemoryError("qconv2d_u8: out of memory")
    if rc != 0:
        raise ValueError("qconv2d_u8: bad arguments")
    return y


def qconv2d_dw_u8(cnp.ndarray x not None, cnp.ndarray w not None, cnp.ndarray w_scale not None,
                  bias, tuple geom, float x_scale, int x_zp, float y_scale, int y_zp,
                  bint relu=False, bint out_reduce_range=False):
    """The depthwise case (groups == C == OC) by the direct kernel; w (KH*KW, C) int8;
    out_reduce_range: y's codes clamped to 0..127."""
    cdef str f = "qconv2d_dw_u8"
    cdef dl_qconv_shape_t s
    cdef dl_qparams_t q
    _qgeometry(&s, x, geom, f)
    _qparams(&q, x_scale, x_zp, y_scale, y_zp, relu, f)
    q.y_u7 = out_reduce_range
    if s.groups != s.C or s.OC != s.C:
        raise ValueError("%s: depthwise needs groups == C == OC, got groups=%d C=%d OC=%d"
                         % (f, s.groups, s.C, s.OC))
    cdef const uint8_t *px = <const uint8_t*>checked_ptr(x, f, "x", cnp.NPY_UINT8)
    cdef const int8_t *pw = <const int8_t*>checked_ptr(w, f, "w", cnp.NPY_INT8,
                                                       (<object>(s.KH * s.KW), <object>s.C))
    cdef const float *pws = <const float*>checked_ptr(w_scale, f, "w_scale", cnp.NPY_FLOAT32,
                                                      <object>s.C)
    cdef const float *pb = <const float*>checked_ptr(bias, f, "bias", cnp.NPY_FLOAT32,
                                                     <object>s.C, OP_OPTIONAL)
    cdef cnp.ndarray y = np.empty((s.N, s.OH, s.OW, s.OC), dtype=np.uint8)
    cdef uint8_t *py = <uint8_t*>cnp.PyArray_DATA(y)
    cdef int rc
    with nogil:
        rc = dl_qconv2d_dw_u8(&s, px, pw, pws, pb, &q, py)
    if rc != 0:
        raise ValueError("qconv2d_dw_u8: bad arguments")
    return y


def qadd_u8(cnp.ndarray a not None, cnp.ndarray b not None, float a_scale, int a_zp,
            float b_scale, int b_zp, float y_scale, int y_zp, bint relu=False,
            bint out_reduce_range=False):
    """The requantized sum of two u8 arrays of one shape (codes clamped to 0..127 with
    out_reduce_range)."""
    cdef str f = "qadd_u8"
    cdef dl_qparams_t q
    _qparams(&q, a_scale, a_zp, y_scale, y_zp, relu, f)
    q.y_u7 = out_reduce_range
    if not (b_scale > 0 and 0 <= b_zp <= 255):
        raise ValueError("%s: b_scale must be > 0 and b_zp in 0..255, got %r, %d"
                         % (f, b_scale, b_zp))
    cdef const uint8_t *pa = <const uint8_t*>checked_ptr(a, f, "a", cnp.NPY_UINT8)
    cdef const uint8_t *pb = <const uint8_t*>checked_ptr(b, f, "b", cnp.NPY_UINT8,
                                                         (<object>a).shape)
    cdef cnp.ndarray y = np.empty_like(a)
    cdef uint8_t *py = <uint8_t*>cnp.PyArray_DATA(y)
    cdef size_t n = cnp.PyArray_SIZE(a)
    with nogil:
        dl_qadd_u8(n, pa, pb, b_scale, b_zp, &q, py)
    return y


def qmaxpool2d_u8(cnp.ndarray x not None, tuple geom):
    """Max pooling of x (N, H, W, C) u8; geom as qconv2d_u8's (OC and groups unread)."""
    cdef str f = "qmaxpool2d_u8"
    cdef dl_qconv_shape_t s
    _qgeometry(&s, x, geom, f)
    if s.PT * 2 > s.KH or s.PL * 2 > s.KW:
        raise ValueError("%s: padding must be at most half the kernel, got %r" % (f, geom))
    cdef const uint8_t *px = <const uint8_t*>checked_ptr(x, f, "x", cnp.NPY_UINT8)
    cdef cnp.ndarray y = np.empty((s.N, s.OH, s.OW, s.C), dtype=np.uint8)
    cdef uint8_t *py = <uint8_t*>cnp.PyArray_DATA(y)
    cdef int rc
    with nogil:
        rc = dl_qmaxpool2d_u8(&s, px, py)
    if rc != 0:
        raise ValueError("qmaxpool2d_u8: bad arguments")
    return y
