"""Dynamically quantized recurrent layers (LSTM, GRU), inference only: the int8 kernel of
dlcore.ops.qmatmul for every matrix product, float32 gate arithmetic.

Per layer and direction: the input projection of all steps is one int8 GEMM (activations
quantized per row, the summed bias fused); then one C call (csrc/qrnn.c) runs the time loop:
per step the state h (B rows) is quantized per row and multiplied by the int8 recurrent
weight, and the engine's float32 cell kernel updates h and c, all steps in one OpenMP region
(a per-step round trip through Python cost a fork/join per step at two threads).
Gate order is PyTorch's (LSTM i, f, g, o; GRU r, z, n; GRU's b_hh stays inside r * (...)).
"""
import numpy as np

from .. import _C
from .. import autograd

__all__ = ["qlstm_layer", "qgru_layer"]


def _project(x2, w, bias):
    """x2 (rows, K) float32 @ W.T + bias by the int8 kernel."""
    if autograd._tracer is not None:
        raise RuntimeError("quantized LSTM/GRU cannot be traced by dl.jit yet; run the "
                           "quantized model eagerly")
    q, s, z = _C.quantize_rows_u8(x2, True)
    out = np.empty((x2.shape[0], w.shape[0]), np.float32)
    _C.u8s8_gemm(q, w.packed, w.colsum, w.shape[1], s, z, w.scale, bias=bias, out=out)
    return out


def _state(s0, B, H):
    return np.zeros((B, H), np.float32) if s0 is None else np.array(s0, np.float32, order="C")


def qlstm_layer(x, w_ih, w_hh, bias, h0, c0, reverse=False):
    """out (T, B, H), h_n (B, H), c_n (B, H) for x (T, B, I) float32; w_ih (4H, I) and w_hh
    (4H, H) Int8Weights; bias (4H,) float32 = b_ih + b_hh or None; h0, c0 (B, H) or None."""
    T, B, _ = x.shape
    H = w_hh.shape[1]
    xg = _project(np.ascontiguousarray(x.reshape(T * B, -1)), w_ih, bias).reshape(T, B, 4 * H)
    h, c = _state(h0, B, H), _state(c0, B, H)
    out = np.empty((T, B, H), np.float32)
    _C.qrnn_forward("LSTM", xg, w_hh.packed, w_hh.colsum, w_hh.scale, None, h, c, out,
                    bool(reverse))
    return out, h, c


def qgru_layer(x, w_ih, w_hh, b_ih, b_hh, h0, reverse=False):
    """out (T, B, H), h_n (B, H) for x (T, B, I) float32; w_ih (3H, I), w_hh (3H, H)
    Int8Weights; b_ih, b_hh (3H,) float32 or None; h0 (B, H) or None."""
    T, B, _ = x.shape
    H = w_hh.shape[1]
    xg = _project(np.ascontiguousarray(x.reshape(T * B, -1)), w_ih, b_ih).reshape(T, B, 3 * H)
    h = _state(h0, B, H)
    out = np.empty((T, B, H), np.float32)
    _C.qrnn_forward("GRU", xg, w_hh.packed, w_hh.colsum, w_hh.scale,
                    None if b_hh is None else np.ascontiguousarray(b_hh, np.float32), h, None,
                    out, bool(reverse))
    return out, h
