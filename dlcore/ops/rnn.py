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

MODES = {"RNN_TANH": 0, "RNN_RELU": 1, "LSTM": 2, "GRU": 3}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}

__all__ = ["rnn_layer"]


def _rows(a):
    """`a` as an array whose rows are contiguous (the kernels read rows with a stride)."""
    if a.ndim == 2 and (a.shape[1] <= 1 or a.strides[1] == a.itemsize) and a.strides[0] >= 0:
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

    Arguments are assumed checked by the caller (the nn modules validate user input).
    """
    res = RNNLayer.apply(x, h0, c0, *weights, mode=mode, batch_sizes=batch_sizes,
                         num_directions=num_directions, has_bias=has_bias, has_proj=has_proj)
    if mode == "LSTM":
        return res
    return res[0], res[1], None
