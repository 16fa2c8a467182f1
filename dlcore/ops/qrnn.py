"""Dynamically quantized recurrent layers (LSTM, GRU), inference only: the int8 kernel of
dlcore.ops.qmatmul for every matrix product, float32 gate arithmetic.

Per layer and direction: the input projection of all steps is one int8 GEMM (activations
quantized per row, the summed bias fused); then per step the state h (B rows) is quantized per
row and multiplied by the int8 recurrent weight, and the cell update runs on float32 arrays.
Gate order is PyTorch's (LSTM i, f, g, o; GRU r, z, n; GRU's b_hh stays inside r * (...)).
"""
import numpy as np

from .. import _C
from .. import autograd

__all__ = ["qlstm_layer", "qgru_layer"]


def _sigmoid(x, out):
    """The engine's vectorized sigmoid over a contiguous float32 array."""
    return _C.act_forward(_C.AF_SIGMOID, x, out)


def _project(x2, w, bias):
    """x2 (rows, K) float32 @ W.T + bias by the int8 kernel."""
    if autograd._tracer is not None:
        raise RuntimeError("quantized LSTM/GRU cannot be traced by dl.jit yet; run the "
                           "quantized model eagerly")
    q, s, z = _C.quantize_rows_u8(x2, True)
    out = np.empty((x2.shape[0], w.shape[0]), np.float32)
    _C.u8s8_gemm(q, w.packed, w.colsum, w.shape[1], s, z, w.scale, bias=bias, out=out)
    return out


def _steps(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def qlstm_layer(x, w_ih, w_hh, bias, h0, c0, reverse=False):
    """out (T, B, H), h_n (B, H), c_n (B, H) for x (T, B, I) float32; w_ih (4H, I) and w_hh
    (4H, H) Int8Weights; bias (4H,) float32 = b_ih + b_hh or None; h0, c0 (B, H) or None."""
    T, B, _ = x.shape
    H = w_hh.shape[1]
    xg = _project(np.ascontiguousarray(x.reshape(T * B, -1)), w_ih, bias).reshape(T, B, 4 * H)
    h = np.zeros((B, H), np.float32) if h0 is None else np.ascontiguousarray(h0, np.float32)
    c = np.zeros((B, H), np.float32) if c0 is None else np.array(c0, np.float32)
    out = np.empty((T, B, H), np.float32)
    sig = np.empty((B, 4 * H), np.float32)
    for t in _steps(T, reverse):
        g = _project(h, w_hh, None)
        g += xg[t]
        _sigmoid(g, sig)            # the g gate's sigmoid is wasted: one C pass beats slicing
        c *= sig[:, H:2 * H]
        c += sig[:, :H] * np.tanh(g[:, 2 * H:3 * H])
        h = sig[:, 3 * H:] * np.tanh(c)
        out[t] = h
    return out, h, c


def qgru_layer(x, w_ih, w_hh, b_ih, b_hh, h0, reverse=False):
    """out (T, B, H), h_n (B, H) for x (T, B, I) float32; w_ih (3H, I), w_hh (3H, H)
    Int8Weights; b_ih, b_hh (3H,) float32 or None; h0 (B, H) or None."""
    T, B, _ = x.shape
    H = w_hh.shape[1]
    xg = _project(np.ascontiguousarray(x.reshape(T * B, -1)), w_ih, b_ih).reshape(T, B, 3 * H)
    h = np.zeros((B, H), np.float32) if h0 is None else np.ascontiguousarray(h0, np.float32)
    out = np.empty((T, B, H), np.float32)
    rz = np.empty((B, 2 * H), np.float32)
    for t in _steps(T, reverse):
        gh = _project(h, w_hh, b_hh)
        gi = xg[t]
        np.add(gi[:, :2 * H], gh[:, :2 * H], out=rz)
        _sigmoid(rz, rz)
        n = np.tanh(gi[:, 2 * H:] + rz[:, :H] * gh[:, 2 * H:])
        h = n + rz[:, H:] * (h - n)             # (1 - z) n + z h
        out[t] = h
    return out, h

