"""Recurrent layers as differentiable ops: one Function per layer (all its directions).

Forward runs each direction's whole time loop in one C call (csrc/rnn.c): every step's input
projection as one GEMM, then per step the recurrent GEMM and a fused cell kernel (LSTM: one GEMM
per step over [x_t | h_{t-1}] with both weights packed once, so inference needs no gate buffer).  What backward
needs is left in a per-direction "reserve" array; backward is one C call per direction too.

Sequences are in the packed layout of PyTorch's PackedSequence: `x` is (rows, input) with step
t owning `batch_sizes[t]` consecutive rows; a padded (T, B, input) batch is the case where every
step has B rows, so both go through the same kernels.
"""
import numpy as np

from .. import _C
from ..autograd import Function
from ..dtypes import float32, is_half
from . import autocast
from .shape import Cast
from ..tensor_base import TensorBase, raw

MODES = {"RNN_TANH": 0, "RNN_RELU": 1, "LSTM": 2, "GRU": 3}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}

__all__ = ["rnn_layer"]


def _rows(a):
    """`a` as an array whose rows are contiguous and do not overlap (the kernels read rows with
    a stride; an expand()ed input has stride-0 rows)."""
    if a.ndim == 2 and (a.shape[1] <= 1 or a.strides[1] == a.itemsize) and (
            a.shape[0] <= 1 or (a.strides[0] >= a.shape[1] * a.itemsize
                                and a.strides[0] % a.itemsize == 0)):
        return a
    return np.ascontiguousarray(a)


def _c(a):
    return None if a is None else np.ascontiguousarray(a)


class RNNLayer(Function):
    """out, h_n[, c_n] = one layer of `mode` over a packed sequence, `num_directions` at once.

    Inputs: x (rows, I), h0 (D, B, P) or None, c0 (D, B, H) or None (LSTM), then per direction
    w_ih, w_hh, [b_ih, b_hh], [w_hr].  Outputs: out (rows, D*P), h_n (D, B, P), c_n (D, B, H).
    """

    def forward(self, x, h0, c0, *weights, mode, batch_sizes, num_directions, has_bias,
                has_proj):
        self.mode, self.bs, self.D = mode, batch_sizes, num_directions
        self.has_bias, self.has_proj = has_bias, has_proj
        m = MODES[mode]
        lstm = mode == "LSTM"
        per = 2 + 2 * has_bias + has_proj
        x = _rows(x)
        rows, dt = x.shape[0], x.dtype
        B = int(batch_sizes[0])
        w_hh0 = weights[1]
        H = w_hh0.shape[0] // _GATES[mode]
        P = w_hh0.shape[1]
        D = num_directions
        out = np.empty((rows, D * P), dtype=dt)
        hn = np.empty((D, B, P), dtype=dt)
        cn = np.empty((D, B, H), dtype=dt) if lstm else None
        self.empty = B == 0
        if self.empty:  # a batch of 0 sequences: nothing to run, every output is empty
            self.x, self.weights = x, weights
            return (out, hn, cn) if lstm else (out, hn)
        h0 = _c(h0)
        c0 = _c(c0)
        reserves = []
        size = _C.rnn_reserve_size(m, batch_sizes, H, P) if self.requires_grad else 0
        # inference: the gate buffer comes from NumPy's (caching) allocator, not fresh pages
        nwork = 0 if self.requires_grad else _C.rnn_work_sizes(m, batch_sizes, H, P)[0]
        work = np.empty(nwork, dtype=dt) if nwork else None
        for d in range(D):
            w = [_c(a) for a in weights[d * per:(d + 1) * per]]
            w_ih, w_hh = w[0], w[1]
            b_x = b_h = None
            if has_bias:
                b_ih, b_hh = w[2], w[3]
                if mode == "GRU":
                    b_x, b_h = b_ih, b_hh
                else:
                    b_x = b_ih + b_hh  # both biases enter every step alike: fuse them once
            w_hr = w[-1] if has_proj else None
            reserve = np.empty(size, dtype=dt) if self.requires_grad else None
            _C.rnn_forward(m, x, batch_sizes, w_ih, w_hh, b_x, b_h, w_hr,
                           None if h0 is None else h0[d], None if c0 is None else c0[d],
                           out[:, d * P:(d + 1) * P], hn[d], None if cn is None else cn[d],
                           reserve, d == 1, work)
            reserves.append(reserve)
        if self.requires_grad:
            self.x, self.weights, self.reserves = x, weights, reserves
            self.H, self.P = H, P
        return (out, hn, cn) if lstm else (out, hn)

    def backward(self, g_out, g_hn, g_cn=None):
        if self.empty:
            need = self.needs_input_grad
            return (np.zeros(self.x.shape, self.x.dtype) if need[0] else None, None, None) + \
                tuple(np.zeros(w.shape, w.dtype) if n else None
                      for w, n in zip(self.weights, need[3:]))
        mode, D, per = self.mode, self.D, 2 + 2 * self.has_bias + self.has_proj
        m = MODES[mode]
        x, dt = self.x, self.x.dtype
        H, P = self.H, self.P
        B = int(self.bs[0])
        lstm = mode == "LSTM"
        need = self.needs_input_grad
        g_out = _rows(g_out)
        g_hn = _c(g_hn)
        g_cn = _c(g_cn) if lstm else None
        dx = np.empty(x.shape, dtype=dt) if need[0] else None
        dh0 = np.empty((D, B, P), dtype=dt) if need[1] else None
        dc0 = np.empty((D, B, H), dtype=dt) if lstm and need[2] else None
        wgrads = []
        work = np.empty(_C.rnn_work_sizes(m, self.bs, H, P)[1], dtype=dt)
        for d in range(D):
            w = self.weights[d * per:(d + 1) * per]
            wneed = need[3 + d * per:3 + (d + 1) * per]
            G = w[1].shape[0]
            dw_ih = np.empty_like(w[0]) if wneed[0] else None
            dw_hh = np.empty_like(w[1]) if wneed[1] else None
            db_x = db_h = None
            if self.has_bias and (wneed[2] or wneed[3]):
                db_x = np.empty(G, dtype=dt)
                if mode == "GRU":
                    db_h = np.empty(G, dtype=dt)
            w_hr = _c(w[-1]) if self.has_proj else None
            dw_hr = np.empty_like(w_hr) if self.has_proj and wneed[-1] else None
            _C.rnn_backward(m, x, self.bs, _c(w[0]), _c(w[1]), w_hr, self.reserves[d],
                            g_out[:, d * P:(d + 1) * P], g_hn[d],
                            g_cn[d] if lstm else None, dx, d > 0, dw_ih, dw_hh, db_x, db_h,
                            dw_hr, None if dh0 is None else dh0[d],
                            None if dc0 is None else dc0[d], d == 1, work)
            grads = [dw_ih, dw_hh]
            if self.has_bias:
                if mode == "GRU":
                    grads += [db_x, db_h]
                else:
                    grads += [db_x, None if db_x is None else db_x.copy()]
            if self.has_proj:
                grads.append(dw_hr)
            wgrads += grads
        return (dx, dh0, dc0) + tuple(wgrads)


def rnn_layer(mode, x, h0, c0, weights, batch_sizes, num_directions, has_bias, has_proj):
    """One recurrent layer over packed rows x (Tensor); returns (out, h_n, c_n or None).

    Arguments are assumed checked: the nn layers pass user input through check_rnn_args or
    check_cell_args first.  Under autocast LSTM and RNN layers run in the autocast dtype (torch's
    CPU autocast lists its oneDNN recurrent layer, which serves those two, as lower precision;
    its GRU stays float32); 16-bit layers run the float32 kernels on widened values and round
    the results back.
    """
    if autocast.state.enabled and mode != "GRU":
        dt = autocast.state.dtype
        x, h0, c0 = (autocast.cast_to(t, dt) for t in (x, h0, c0))
        weights = [autocast.cast_to(w, dt) for w in weights]
    dt = x._data.dtype
    if is_half(dt):
        wide = [None if t is None else Cast.apply(t, dtype=float32) if is_half(t._data.dtype)
                else t for t in [x, h0, c0] + list(weights)]
        res = _rnn_layer(mode, wide[0], wide[1], wide[2], wide[3:], batch_sizes,
                         num_directions, has_bias, has_proj)
        return tuple(None if r is None else Cast.apply(r, dtype=dt) for r in res)
    return _rnn_layer(mode, x, h0, c0, weights, batch_sizes, num_directions, has_bias, has_proj)


def _rnn_layer(mode, x, h0, c0, weights, batch_sizes, num_directions, has_bias, has_proj):
    res = RNNLayer.apply(x, h0, c0, *weights, mode=mode, batch_sizes=batch_sizes,
                         num_directions=num_directions, has_bias=has_bias, has_proj=has_proj)
    if mode == "LSTM":
        return res
    return res[0], res[1], None


# ---- argument checks of the recurrent layers ----------------------------------------------------
def _shape(t):
    return tuple(t.shape)


def _check_state(fname, h, expected, what):
    if not isinstance(h, TensorBase):
        raise TypeError("%s: %s must be a Tensor, got %s" % (fname, what, type(h).__name__))
    if _shape(h) != expected:
        raise ValueError("%s: expected %s of shape %s, got %s" % (fname, what, expected, _shape(h)))


def check_rnn_args(fname, mode, input, hx, input_size, hidden_size, proj_size, num_layers,
                   num_directions, batch_first, dtype, batch_sizes=None):
    """Checks the input and initial state of an RNN/LSTM/GRU layer and brings the input to the
    packed rows rnn_layer takes.

    input is a padded Tensor (T, B, input_size) ((B, T, input_size) with batch_first, or
    (T, input_size) unbatched) or, when `batch_sizes` is given, a PackedSequence's data
    (rows, input_size).  hx is None, h_0, or (h_0, c_0) for LSTM, each of shape
    (num_layers * num_directions, B, proj_size or hidden_size | hidden_size) (no B unbatched).
    Returns (rows, batch_sizes, T, B, unbatched, h_0, c_0): T is None for packed input, h_0 and
    c_0 are None or carry a batch dim.
    """
    lstm = mode == "LSTM"
    P = proj_size or hidden_size
    unbatched = False
    T = None
    if batch_sizes is not None:
        data = input
        batch_sizes = np.ascontiguousarray(raw(batch_sizes), dtype=np.int64)
        if not isinstance(data, TensorBase) or data.ndim != 2:
            raise ValueError("%s: a PackedSequence's data must be 2-D (rows, input_size), "
                             "got shape %s" % (fname, _shape(data)))
        if batch_sizes.ndim != 1 or batch_sizes.size == 0 or \
                np.any(np.diff(batch_sizes) > 0) or batch_sizes[-1] < 1 or \
                int(batch_sizes.sum()) != data.shape[0]:
            raise ValueError("%s: the PackedSequence's batch_sizes %s do not describe its "
                             "%d data rows" % (fname, batch_sizes.tolist(), data.shape[0]))
        B = int(batch_sizes[0])
    else:
        if not isinstance(input, TensorBase):
            raise TypeError("%s: input must be a Tensor or PackedSequence, got %s"
                            % (fname, type(input).__name__))
        if input.ndim not in (2, 3):
            raise ValueError("%s: input must be 3-D (%s, input_size) or 2-D unbatched "
                             "(L, input_size), got shape %s"
                             % (fname, "N, L" if batch_first else "L, N", _shape(input)))
        unbatched = input.ndim == 2
        x = input.unsqueeze(1) if unbatched else (
            input.transpose(0, 1) if batch_first else input)
        T, B = x.shape[0], x.shape[1]
        data = x.reshape(T * B, x.shape[2]) if T * B else x.reshape(0, x.shape[2])
        if T == 0:
            raise ValueError("%s: the input sequence is empty (length 0)" % fname)
        batch_sizes = np.full(T, B, dtype=np.int64)
    if data.shape[-1] != input_size:
        raise ValueError("%s: input.size(-1) must be equal to input_size=%d, got %d"
                         % (fname, input_size, data.shape[-1]))
    if data.dtype != dtype:
        raise TypeError("%s: input dtype %s does not match the parameters' dtype %s"
                        % (fname, data.dtype, dtype))

    h0 = c0 = None
    if hx is not None:
        if lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("%s: hx must be a tuple (h_0, c_0)" % fname)
            h0, c0 = hx
        else:
            if isinstance(hx, (tuple, list)):
                raise TypeError("%s: hx must be a Tensor, got a %s" % (fname, type(hx).__name__))
            h0 = hx
        lead = (num_layers * num_directions,) if unbatched else (num_layers * num_directions, B)
        _check_state(fname, h0, lead + (P,), "h_0")
        if lstm:
            _check_state(fname, c0, lead + (hidden_size,), "c_0")
        for t in (h0, c0):
            if t is not None and t.dtype != dtype:
                raise TypeError("%s: hidden state dtype %s does not match the parameters' "
                                "dtype %s" % (fname, t.dtype, dtype))
        if unbatched:
            h0 = h0.unsqueeze(1)
            c0 = c0.unsqueeze(1) if lstm else None
    return data, batch_sizes, T, B, unbatched, h0, c0


def check_cell_args(fname, mode, input, hx, input_size, hidden_size, dtype):
    """Checks the input (N, input_size) or (input_size,) and state hx (h_0, or (h_0, c_0) for
    LSTM, each (N, hidden_size) or (hidden_size,)) of an RNN/LSTM/GRU cell.

    Returns (x, h_0, c_0, unbatched): x with a batch dim, h_0/c_0 None or of shape
    (1, N, hidden_size) as rnn_layer takes them.
    """
    lstm = mode == "LSTM"
    if not isinstance(input, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(input).__name__))
    if input.ndim not in (1, 2):
        raise ValueError("%s: input must be 2-D (N, input_size) or 1-D (input_size), got "
                         "shape %s" % (fname, _shape(input)))
    if input.shape[-1] != input_size:
        raise ValueError("%s: input has %d features, expected input_size=%d"
                         % (fname, input.shape[-1], input_size))
    if input.dtype != dtype:
        raise TypeError("%s: input dtype %s does not match the parameters' dtype %s"
                        % (fname, input.dtype, dtype))
    unbatched = input.ndim == 1
    x = input.unsqueeze(0) if unbatched else input
    B = x.shape[0]
    h0 = c0 = None
    if hx is not None:
        states = hx if lstm else (hx,)
        if lstm and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("%s: hx must be a tuple (h_0, c_0)" % fname)
        want = (hidden_size,) if unbatched else (B, hidden_size)
        for s, what in zip(states, ("h_0", "c_0")):
            if not isinstance(s, TensorBase):
                raise TypeError("%s: %s must be a Tensor" % (fname, what))
            if _shape(s) != want:
                raise ValueError("%s: expected %s of shape %s, got %s"
                                 % (fname, what, want, _shape(s)))
            if s.dtype != dtype:
                raise TypeError("%s: %s dtype %s does not match the parameters' dtype %s"
                                % (fname, what, s.dtype, dtype))
        lift = (lambda s: s.reshape(1, 1, hidden_size)) if unbatched else \
            (lambda s: s.unsqueeze(0))
        h0 = lift(states[0])
        c0 = lift(states[1]) if lstm else None
    return x, h0, c0, unbatched
