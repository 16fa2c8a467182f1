# Recurrent layers: the whole time loop of one layer-direction per call (csrc/rnn.c).
from libc.stdint cimport int64_t

cdef extern from "dlcore/rnn.h":
    ctypedef enum dl_rnn_mode_t:
        DL_RNN_TANH
        DL_RNN_RELU
        DL_RNN_LSTM
        DL_RNN_GRU
    ctypedef struct dl_rnn_desc:
        dl_rnn_mode_t mode
        size_t n_steps
        const int64_t *batch_sizes
        size_t B
        size_t n_input
        size_t H
        size_t P
        int reverse
    size_t dl_rnn_gates(dl_rnn_mode_t mode) nogil
    size_t dl_rnn_reserve_size(const dl_rnn_desc *d) nogil
    size_t dl_rnn_team_grain(size_t grain) nogil
    int dl_rnn_team_threads_f32(const dl_rnn_desc *d) nogil
    int dl_rnn_split_threads_f32(const dl_rnn_desc *d, int form) nogil
    size_t dl_rnn_fwd_work_size(const dl_rnn_desc *d) nogil
    size_t dl_rnn_bwd_work_size(const dl_rnn_desc *d) nogil
    int dl_rnn_forward_f32(const dl_rnn_desc *d, const float *x, ptrdiff_t ldx,
                           const float *w_ih, const float *w_hh, const float *b_x,
                           const float *b_h, const float *w_hr, const float *h0,
                           const float *c0, float *out, ptrdiff_t ldo, float *hn, float *cn,
                           float *reserve, float *work) nogil
    int dl_rnn_forward_f64(const dl_rnn_desc *d, const double *x, ptrdiff_t ldx,
                           const double *w_ih, const double *w_hh, const double *b_x,
                           const double *b_h, const double *w_hr, const double *h0,
                           const double *c0, double *out, ptrdiff_t ldo, double *hn, double *cn,
                           double *reserve, double *work) nogil
    int dl_rnn_backward_f32(const dl_rnn_desc *d, const float *x, ptrdiff_t ldx,
                            const float *w_ih, const float *w_hh, const float *w_hr,
                            const float *reserve, const float *dout, ptrdiff_t lddo,
                            const float *dhn, const float *dcn,
                            float *dx, ptrdiff_t lddx, int dx_accumulate,
                            float *dw_ih, float *dw_hh, float *db_x, float *db_h, float *dw_hr,
                            float *dh0, float *dc0, float *work) nogil
    int dl_rnn_backward_f64(const dl_rnn_desc *d, const double *x, ptrdiff_t ldx,
                            const double *w_ih, const double *w_hh, const double *w_hr,
                            const double *reserve, const double *dout, ptrdiff_t lddo,
                            const double *dhn, const double *dcn,
                            double *dx, ptrdiff_t lddx, int dx_accumulate,
                            double *dw_ih, double *dw_hh, double *db_x, double *db_h,
                            double *dw_hr, double *dh0, double *dc0, double *work) nogil
    void dl_lstm_cell_fwd_f32(size_t n, size_t H, const float *xg, const float *hg,
                              ptrdiff_t ldhg, const float *bias, float *gates, float *c,
                              float *tc, float *h, ptrdiff_t ldh, float *h2,
                              ptrdiff_t ldh2) nogil
    void dl_lstm_cell_bwd_f32(size_t n, size_t H, const float *g, const float *tc,
                              const float *cp, const float *dh, float *dc, float *dg) nogil
    void dl_gru_cell_fwd_f32(size_t n, size_t H, float *xg, const float *hg, float *h,
                             ptrdiff_t ldh, float *hgn) nogil
    void dl_gru_cell_bwd_f32(size_t n, size_t H, const float *g, const float *hgn,
                             const float *hp, const float *dh, float *dxg, float *dhg,
                             float *dhp) nogil
    void dl_rnn_cell_fwd_f32(size_t n, size_t H, int relu, float *g, float *h,
                             ptrdiff_t ldh) nogil
    void dl_rnn_cell_bwd_f32(size_t n, size_t H, int relu, const float *g, const float *dh,
                             float *dg) nogil

RNN_MODES = {"RNN_TANH": 0, "RNN_RELU": 1, "LSTM": 2, "GRU": 3}


cdef ptrdiff_t _rnn_rows(cnp.ndarray a, str name, size_t rows, size_t cols, int typ) except -1:
    """Row stride (elements) of a 2-D (rows, cols) array of dtype typ with contiguous rows."""
    if cnp.PyArray_NDIM(a) != 2:
        raise ValueError("rnn: %s must be 2-D, got %d-D" % (name, cnp.PyArray_NDIM(a)))
    if <size_t>cnp.PyArray_DIM(a, 0) != rows or <size_t>cnp.PyArray_DIM(a, 1) != cols:
        raise ValueError("rnn: %s must have shape (%d, %d), got %s"
                         % (name, rows, cols, (<object>a).shape))
    if cnp.PyArray_TYPE(a) != typ:
        raise TypeError("rnn: %s has dtype %s, expected the input's dtype" % (name, a.dtype))
    cdef ptrdiff_t item = cnp.PyArray_ITEMSIZE(a)
    cdef ptrdiff_t s0 = cnp.PyArray_STRIDE(a, 0), s1 = cnp.PyArray_STRIDE(a, 1)
    if cols > 1 and s1 != item:
        raise ValueError("rnn: %s rows must be contiguous" % name)
    if rows <= 1:
        return max(<ptrdiff_t>cols, 1)
    if s0 % item != 0 or s0 < <ptrdiff_t>(cols * item):
        raise ValueError("rnn: %s has an unsupported row stride" % name)
    return s0 // item


cdef int _rnn_desc(dl_rnn_desc *d, int mode, cnp.ndarray batch_sizes, size_t I, size_t H,
                   size_t P, bint reverse) except -1:
    if mode < 0 or mode > 3:
        raise ValueError("rnn: unknown mode %d" % mode)
    if cnp.PyArray_NDIM(batch_sizes) != 1:
        raise TypeError("rnn: batch_sizes must be a 1-D int64 array")
    cdef const int64_t *bs = <const int64_t*>checked_ptr(batch_sizes, "rnn", "batch_sizes",
                                                         cnp.NPY_INT64)
    cdef size_t T = cnp.PyArray_DIM(batch_sizes, 0)
    cdef size_t t
    if T == 0:
        raise ValueError("rnn: the sequence must have at least one step")
    if bs[0] < 0:
        raise ValueError("rnn: batch_sizes must be >= 0")
    for t in range(1, T):
        if bs[t] < 0 or bs[t] > bs[t - 1]:
            raise ValueError("rnn: batch_sizes must be non-increasing and >= 0, got %s"
                             % (list(batch_sizes),))
    if H == 0:
        raise ValueError("rnn: hidden_size must be positive")
    if mode == 2 and P > H:
        raise ValueError("rnn: proj_size must be smaller than hidden_size")
    if mode != 2 and P != H:
        raise ValueError("rnn: only LSTM has a projection")
    d.mode = <dl_rnn_mode_t>mode
    d.n_steps = T
    d.batch_sizes = bs
    d.B = bs[0]
    d.n_input = I
    d.H = H
    d.P = P
    d.reverse = reverse
    return 0


def rnn_team_grain(size_t grain=0):
    """Work per thread below which the LSTM forward keeps its plain time loop instead of the
    thread team; a positive grain sets it.  Returns the previous value (tests lower it)."""
    return dl_rnn_team_grain(grain)


def rnn_team_threads(int mode, cnp.ndarray batch_sizes, size_t I, size_t H, size_t P):
    """Threads a float32 forward of this shape runs its time loop on as one team (1: the
    per-step loop)."""
    cdef dl_rnn_desc d
    _rnn_desc(&d, mode, batch_sizes, I, H, P, False)
    return dl_rnn_team_threads_f32(&d)


def rnn_split_threads(int mode, int form, cnp.ndarray batch_sizes, size_t I, size_t H,
                      size_t P):
    """Threads the plan's recurrent step (weights packed in `form`, 1 joint or 2 split)
    splits this batch over, each owning its rows for every step (1: it does not)."""
    cdef dl_rnn_desc d
    _rnn_desc(&d, mode, batch_sizes, I, H, P, False)
    return dl_rnn_split_threads_f32(&d, form)


def rnn_reserve_size(int mode, cnp.ndarray batch_sizes, size_t H, size_t P):
    """Elements of the reserve a training forward fills for backward."""
    cdef dl_rnn_desc d
    _rnn_desc(&d, mode, batch_sizes, 1, H, P, False)
    return dl_rnn_reserve_size(&d)


def rnn_work_sizes(int mode, cnp.ndarray batch_sizes, size_t H, size_t P):
    """(forward, backward) elements of the large per-call buffers a caller may pass in."""
    cdef dl_rnn_desc d
    _rnn_desc(&d, mode, batch_sizes, 1, H, P, False)
    return dl_rnn_fwd_work_size(&d), dl_rnn_bwd_work_size(&d)


def rnn_forward(int mode, cnp.ndarray x, cnp.ndarray batch_sizes, cnp.ndarray w_ih,
                cnp.ndarray w_hh, b_x, b_h, w_hr, h0, c0, cnp.ndarray out, cnp.ndarray hn,
                cn, reserve, bint reverse=False, work=None):
    """One layer-direction forward over a packed sequence (see csrc/include/dlcore/rnn.h).

    x (rows, I) and out (rows, P) may be column blocks of wider matrices (rows contiguous);
    every other array is C-contiguous of the exact shape.  reserve (training) or None.
    """
    cdef int typ = float_type(x, "rnn", "x")
    if cnp.PyArray_NDIM(w_hh) != 2 or cnp.PyArray_NDIM(w_ih) != 2 or cnp.PyArray_NDIM(x) != 2:
        raise ValueError("rnn: x, w_ih and w_hh must be 2-D")
    cdef size_t I = cnp.PyArray_DIM(w_ih, 1)
    cdef size_t P = cnp.PyArray_DIM(w_hh, 1)
    cdef size_t gates = 4 if mode == 2 else (3 if mode == 3 else 1)
    if cnp.PyArray_DIM(w_hh, 0) % gates != 0:
        raise ValueError("rnn: w_hh rows must be a multiple of %d" % gates)
    cdef size_t H = cnp.PyArray_DIM(w_hh, 0) // gates
    cdef size_t G = gates * H
    cdef dl_rnn_desc d
    _rnn_desc(&d, mode, batch_sizes, I, H, P, reverse)
    if w_hr is None and P != H:
        raise ValueError("rnn: w_hh has %d columns but hidden size is %d and w_hr is absent"
                         % (P, H))
    if w_hr is not None and (mode != 2 or P >= H):
        raise ValueError("rnn: w_hr is only for an LSTM with proj_size < hidden_size")
    cdef size_t rows = 0, t
    for t in range(d.n_steps):
        rows += d.batch_sizes[t]
    cdef ptrdiff_t ldx = _rnn_rows(x, "x", rows, I, typ)
    cdef ptrdiff_t ldo = _rnn_rows(out, "out", rows, P, typ)
    need_writeable(out, "rnn", "out")
    cdef void *pwih = checked_ptr(w_ih, "rnn", "w_ih", typ, (G, I))
    cdef void *pwhh = checked_ptr(w_hh, "rnn", "w_hh", typ, (G, P))
    cdef void *pbx = checked_ptr(b_x, "rnn", "b_x", typ, (G,), OP_OPTIONAL)
    cdef void *pbh = checked_ptr(b_h, "rnn", "b_h", typ, (G,), OP_OPTIONAL) if mode == 3 else NULL
    cdef void *pwhr = checked_ptr(w_hr, "rnn", "w_hr", typ, (P, H), OP_OPTIONAL)
    cdef void *ph0 = checked_ptr(h0, "rnn", "h0", typ, (d.B, P), OP_OPTIONAL)
    cdef void *pc0 = checked_ptr(c0, "rnn", "c0", typ, (d.B, H), OP_OPTIONAL) if mode == 2 else NULL
    cdef void *phn = checked_ptr(hn, "rnn", "hn", typ, (d.B, P), OP_WRITE | OP_OPTIONAL)
    cdef void *pcn = checked_ptr(cn, "rnn", "cn", typ, (d.B, H),
                                 OP_WRITE | OP_OPTIONAL) if mode == 2 else NULL
    cdef void *pres = checked_ptr(reserve, "rnn", "reserve", typ, (dl_rnn_reserve_size(&d),),
                                  OP_WRITE | OP_OPTIONAL)
    cdef void *pwork = checked_ptr(work, "rnn", "work", typ, (dl_rnn_fwd_work_size(&d),),
                                   OP_WRITE | OP_OPTIONAL)
    cdef void *px = cnp.PyArray_DATA(x)
    cdef void *pout = cnp.PyArray_DATA(out)
    cdef int rc
    if typ == cnp.NPY_FLOAT32:
        with nogil:
            rc = dl_rnn_forward_f32(&d, <float*>px, ldx, <float*>pwih, <float*>pwhh,
                                    <float*>pbx, <float*>pbh, <float*>pwhr, <float*>ph0,
                                    <float*>pc0, <float*>pout, ldo, <float*>phn, <float*>pcn,
                                    <float*>pres, <float*>pwork)
    else:
        with nogil:
            rc = dl_rnn_forward_f64(&d, <double*>px, ldx, <double*>pwih, <double*>pwhh,
                                    <double*>pbx, <double*>pbh, <double*>pwhr, <double*>ph0,
                                    <double*>pc0, <double*>pout, ldo, <double*>phn,
                                    <double*>pcn, <double*>pres, <double*>pwork)
    if rc != 0:
        raise MemoryError("rnn: out of memory for the scratch buffers")
    return out


def rnn_backward(int mode, cnp.ndarray x, cnp.ndarray batch_sizes, cnp.ndarray w_ih,
                 cnp.ndarray w_hh, w_hr, cnp.ndarray reserve, dout, dhn, dcn, dx,
                 bint dx_accumulate, dw_ih, dw_hh, db_x, db_h, dw_hr, dh0, dc0,
                 bint reverse=False, work=None):
    """One layer-direction backward from its forward's reserve; None skips an input/output.

    dout (rows, P) and dx (rows, I) may be column blocks of wider matrices.
    """
    cdef int typ = float_type(x, "rnn", "x")
    if cnp.PyArray_NDIM(w_hh) != 2 or cnp.PyArray_NDIM(w_ih) != 2 or cnp.PyArray_NDIM(x) != 2:
        raise ValueError("rnn: x, w_ih and w_hh must be 2-D")
    cdef size_t I = cnp.PyArray_DIM(w_ih, 1)
    cdef size_t P = cnp.PyArray_DIM(w_hh, 1)
    cdef size_t gates = 4 if mode == 2 else (3 if mode == 3 else 1)
    if cnp.PyArray_DIM(w_hh, 0) % gates != 0:
        raise ValueError("rnn: w_hh rows must be a multiple of %d" % gates)
    cdef size_t H = cnp.PyArray_DIM(w_hh, 0) // gates
    cdef size_t G = gates * H
    cdef dl_rnn_desc d
    _rnn_desc(&d, mode, batch_sizes, I, H, P, reverse)
    if w_hr is None and P != H:
        raise ValueError("rnn: w_hh has %d columns but hidden size is %d and w_hr is absent"
                         % (P, H))
    if w_hr is not None and (mode != 2 or P >= H):
        raise ValueError("rnn: w_hr is only for an LSTM with proj_size < hidden_size")
    cdef size_t rows = 0, t
    for t in range(d.n_steps):
        rows += d.batch_sizes[t]
    cdef ptrdiff_t ldx = _rnn_rows(x, "x", rows, I, typ)
    cdef ptrdiff_t lddo = 0, lddx = 0
    cdef void *pdout = NULL
    cdef void *pdx = NULL
    if dout is not None:
        lddo = _rnn_rows(dout, "dout", rows, P, typ)
        pdout = cnp.PyArray_DATA(dout)
    if dx is not None:
        lddx = _rnn_rows(dx, "dx", rows, I, typ)
        need_writeable(dx, "rnn", "dx")
        pdx = cnp.PyArray_DATA(dx)
    cdef void *pwih = checked_ptr(w_ih, "rnn", "w_ih", typ, (G, I))
    cdef void *pwhh = checked_ptr(w_hh, "rnn", "w_hh", typ, (G, P))
    cdef void *pwhr = checked_ptr(w_hr, "rnn", "w_hr", typ, (P, H), OP_OPTIONAL)
    cdef void *pres = checked_ptr(reserve, "rnn", "reserve", typ, (dl_rnn_reserve_size(&d),))
    cdef void *pdhn = checked_ptr(dhn, "rnn", "dhn", typ, (d.B, P), OP_OPTIONAL)
    cdef void *pdcn = checked_ptr(dcn, "rnn", "dcn", typ, (d.B, H),
                                  OP_OPTIONAL) if mode == 2 else NULL
    cdef void *pdwih = checked_ptr(dw_ih, "rnn", "dw_ih", typ, (G, I), OP_WRITE | OP_OPTIONAL)
    cdef void *pdwhh = checked_ptr(dw_hh, "rnn", "dw_hh", typ, (G, P), OP_WRITE | OP_OPTIONAL)
    cdef void *pdbx = checked_ptr(db_x, "rnn", "db_x", typ, (G,), OP_WRITE | OP_OPTIONAL)
    cdef void *pdbh = checked_ptr(db_h, "rnn", "db_h", typ, (G,),
                                  OP_WRITE | OP_OPTIONAL) if mode == 3 else NULL
    cdef void *pdwhr = checked_ptr(dw_hr, "rnn", "dw_hr", typ, (P, H),
                                   OP_WRITE | OP_OPTIONAL) if w_hr is not None else NULL
    cdef void *pdh0 = checked_ptr(dh0, "rnn", "dh0", typ, (d.B, P), OP_WRITE | OP_OPTIONAL)
    cdef void *pdc0 = checked_ptr(dc0, "rnn", "dc0", typ, (d.B, H),
                                  OP_WRITE | OP_OPTIONAL) if mode == 2 else NULL
    cdef void *pwork = checked_ptr(work, "rnn", "work", typ, (dl_rnn_bwd_work_size(&d),),
                                   OP_WRITE | OP_OPTIONAL)
    cdef void *px = cnp.PyArray_DATA(x)
    cdef int rc
    if typ == cnp.NPY_FLOAT32:
        with nogil:
            rc = dl_rnn_backward_f32(&d, <float*>px, ldx, <float*>pwih, <float*>pwhh,
                                     <float*>pwhr, <float*>pres, <float*>pdout, lddo,
                                     <float*>pdhn, <float*>pdcn, <float*>pdx, lddx, dx_accumulate,
                                     <float*>pdwih, <float*>pdwhh, <float*>pdbx, <float*>pdbh,
                                     <float*>pdwhr, <float*>pdh0, <float*>pdc0, <float*>pwork)
    else:
        with nogil:
            rc = dl_rnn_backward_f64(&d, <double*>px, ldx, <double*>pwih, <double*>pwhh,
                                     <double*>pwhr, <double*>pres, <double*>pdout, lddo,
                                     <double*>pdhn, <double*>pdcn, <double*>pdx, lddx,
                                     dx_accumulate, <double*>pdwih, <double*>pdwhh,
                                     <double*>pdbx, <double*>pdbh, <double*>pdwhr,
                                     <double*>pdh0, <double*>pdc0, <double*>pwork)
    if rc != 0:
        raise MemoryError("rnn: out of memory for the scratch buffers")


# ---- the fused float32 cell kernels alone (tests check every ISA path against NumPy)

cdef inline float* _cell(object a, str fname, str name, size_t rows, size_t width) except? NULL:
    """A float32 (rows, width) operand of a cell kernel (each is written by one of them)."""
    return <float*>checked_ptr(a, fname, name, cnp.NPY_FLOAT32, (rows, width), OP_WRITE)


def lstm_cell_fwd(g, cnp.ndarray c, tc, cnp.ndarray h, hg=None, h2=None, bint keep=True,
                  bias=None, gates=None):
    """Pre-activations g (n, 4H) [+ hg (n, 4H)] [+ bias (4H,)] (g or hg may be None) ->
    activated gates into `gates` if given, else into g with keep; c (n, H) c_{t-1} -> c_t;
    tc (or None), h and h2 (or None) (n, H) written."""
    cdef size_t H = c.shape[1] if c.ndim == 2 else 0
    cdef size_t n = c.shape[0]
    if g is None and hg is None:
        raise ValueError("lstm_cell_fwd: g and hg cannot both be None")
    cdef float *pg = _cell(g, "lstm_cell_fwd", "g", n, 4 * H) if g is not None else NULL
    cdef float *pc = _cell(c, "lstm_cell_fwd", "c", n, H)
    cdef float *ptc = _cell(tc, "lstm_cell_fwd", "tc", n, H) if tc is not None else NULL
    cdef float *ph = _cell(h, "lstm_cell_fwd", "h", n, H)
    cdef float *phg = _cell(hg, "lstm_cell_fwd", "hg", n, 4 * H) if hg is not None else NULL
    cdef float *ph2 = _cell(h2, "lstm_cell_fwd", "h2", n, H) if h2 is not None else NULL
    cdef float *pb = _cell(bias.reshape(1, -1), "lstm_cell_fwd", "bias", 1, 4 * H) if bias is not None else NULL
    cdef float *pgates = pg if keep else NULL
    if gates is not None:
        pgates = _cell(gates, "lstm_cell_fwd", "gates", n, 4 * H)
    with nogil:
        dl_lstm_cell_fwd_f32(n, H, pg, phg, 4 * H, pb, pgates, pc, ptc, ph, H, ph2, H)


def lstm_cell_bwd(cnp.ndarray g, cnp.ndarray tc, cnp.ndarray cp, cnp.ndarray dh,
                  cnp.ndarray dc, cnp.ndarray dg):
    cdef size_t n = g.shape[0], H = tc.shape[1] if tc.ndim == 2 else 0
    cdef float *pg = _cell(g, "lstm_cell_bwd", "g", n, 4 * H)
    cdef float *ptc = _cell(tc, "lstm_cell_bwd", "tc", n, H)
    cdef float *pcp = _cell(cp, "lstm_cell_bwd", "cp", n, H)
    cdef float *pdh = _cell(dh, "lstm_cell_bwd", "dh", n, H)
    cdef float *pdc = _cell(dc, "lstm_cell_bwd", "dc", n, H)
    cdef float *pdg = _cell(dg, "lstm_cell_bwd", "dg", n, 4 * H)
    with nogil:
        dl_lstm_cell_bwd_f32(n, H, pg, ptc, pcp, pdh, pdc, pdg)


def gru_cell_fwd(cnp.ndarray xg, cnp.ndarray hg, cnp.ndarray h, cnp.ndarray hgn):
    cdef size_t n = xg.shape[0], H = h.shape[1] if h.ndim == 2 else 0
    cdef float *pxg = _cell(xg, "gru_cell_fwd", "xg", n, 3 * H)
    cdef float *phg = _cell(hg, "gru_cell_fwd", "hg", n, 3 * H)
    cdef float *ph = _cell(h, "gru_cell_fwd", "h", n, H)
    cdef float *phgn = _cell(hgn, "gru_cell_fwd", "hgn", n, H)
    with nogil:
        dl_gru_cell_fwd_f32(n, H, pxg, phg, ph, H, phgn)


def gru_cell_bwd(cnp.ndarray g, cnp.ndarray hgn, cnp.ndarray hp, cnp.ndarray dh,
                 cnp.ndarray dxg, cnp.ndarray dhg, cnp.ndarray dhp):
    cdef size_t n = g.shape[0], H = hp.shape[1] if hp.ndim == 2 else 0
    cdef float *pg = _cell(g, "gru_cell_bwd", "g", n, 3 * H)
    cdef float *phgn = _cell(hgn, "gru_cell_bwd", "hgn", n, H)
    cdef float *php = _cell(hp, "gru_cell_bwd", "hp", n, H)
    cdef float *pdh = _cell(dh, "gru_cell_bwd", "dh", n, H)
    cdef float *pdxg = _cell(dxg, "gru_cell_bwd", "dxg", n, 3 * H)
    cdef float *pdhg = _cell(dhg, "gru_cell_bwd", "dhg", n, 3 * H)
    cdef float *pdhp = _cell(dhp, "gru_cell_bwd", "dhp", n, H)
    with nogil:
        dl_gru_cell_bwd_f32(n, H, pg, phgn, php, pdh, pdxg, pdhg, pdhp)


def rnn_cell_fwd(cnp.ndarray g, cnp.ndarray h, bint relu):
    cdef size_t n = g.shape[0], H = g.shape[1] if g.ndim == 2 else 0
    cdef float *pg = _cell(g, "rnn_cell_fwd", "g", n, H)
    cdef float *ph = _cell(h, "rnn_cell_fwd", "h", n, H)
    with nogil:
        dl_rnn_cell_fwd_f32(n, H, relu, pg, ph, H)


def rnn_cell_bwd(cnp.ndarray g, cnp.ndarray dh, cnp.ndarray dg, bint relu):
    cdef size_t n = g.shape[0], H = g.shape[1] if g.ndim == 2 else 0
    cdef float *pg = _cell(g, "rnn_cell_bwd", "g", n, H)
    cdef float *pdh = _cell(dh, "rnn_cell_bwd", "dh", n, H)
    cdef float *pdg = _cell(dg, "rnn_cell_bwd", "dg", n, H)
    with nogil:
        dl_rnn_cell_bwd_f32(n, H, relu, pg, pdh, pdg)
