"""The quantized LSTM/GRU time loop (csrc/qrnn.c) against the recurrence written out in NumPy:
the same u8 quantization of h per row at every step, the integer product on the int8 weight
codes, the float cell in float64; odd sizes, every ISA, 1 and 2 threads, both directions."""
import numpy as np
import pytest

from dlcore import _C
from dlcore.ops.qmatmul import Int8Weight
from dlcore.ops.qrnn import qlstm_layer, qgru_layer


def quant_rows(h):
    """u8 codes, scales and zero points of each row of h (dlcore/qgemm.h's rule)."""
    lo, hi = np.minimum(h.min(1), 0), np.maximum(h.max(1), 0)
    s = ((hi - lo) / np.float32(255)).astype(np.float32)
    s = np.where(s > 0, s, np.float32(1)).astype(np.float32)
    z = np.clip(np.rint(-lo / s), 0, 255)
    q = np.clip(np.rint(h * (np.float32(1) / s)[:, None]) + z[:, None], 0, 255)
    return q, s, z


def recurrent(h, w):
    """dequantize(quantize(h) @ codes^T) as the kernel computes it (exact integer sums)."""
    q, s, z = quant_rows(h.astype(np.float32))
    sums = q.astype(np.int64) @ w.q.T.astype(np.int64) - z[:, None].astype(np.int64) \
        * w.q.astype(np.int64).sum(1)[None, :]
    return sums * s[:, None].astype(np.float64) * w.scale[None, :].astype(np.float64)


def sig(v):
    return 1 / (1 + np.exp(-v))


def ref_lstm(xg, w, h, c, reverse):
    T, H = xg.shape[0], h.shape[1]
    out = np.empty((T,) + h.shape)
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        g = xg[t] + recurrent(h, w)
        c = sig(g[:, H:2 * H]) * c + sig(g[:, :H]) * np.tanh(g[:, 2 * H:3 * H])
        h = sig(g[:, 3 * H:]) * np.tanh(c)
        out[t] = h
    return out, h, c


def ref_gru(xg, w, b_hh, h, reverse):
    T, H = xg.shape[0], h.shape[1]
    out = np.empty((T,) + h.shape)
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        gh = recurrent(h, w) + b_hh
        r = sig(xg[t][:, :H] + gh[:, :H])
        z = sig(xg[t][:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(xg[t][:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        out[t] = h
    return out, h


# (T, B, I, H): the second is big enough (B * 4H * H) for the loop to take two threads
SIZES = [(1, 1, 3, 5), (6, 33, 7, 70), (4, 3, 17, 33)]


def weights(rng, G, I, H):
    return (Int8Weight.from_float(rng.standard_normal((G, I)).astype(np.float32) * 0.4),
            Int8Weight.from_float(rng.standard_normal((G, H)).astype(np.float32) * 0.4))


def input_projection(x, w_ih, b, G):
    """x (T, B, I) times the int8 w_ih (G, I) plus b, as the layer computes it: the input
    projection is the (separately tested) int8 GEMM, so the reference takes it from the
    kernel."""
    T, B, I = x.shape
    q, s, z = _C.quantize_rows_u8(x.reshape(T * B, I), True)
    return _C.u8s8_gemm(q, w_ih.packed, w_ih.colsum, I, s, z, w_ih.scale, bias=b,
                        out=np.empty((T * B, G), np.float32)).reshape(T, B, G)


@pytest.mark.parametrize("T,B,I,H", SIZES)
@pytest.mark.parametrize("reverse", [False, True])
def test_qlstm_loop_matches_numpy(T, B, I, H, reverse, isa, threads, rng):
    w_ih, w_hh = weights(rng, 4 * H, I, H)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    b = rng.standard_normal(4 * H).astype(np.float32) * 0.1
    h0 = rng.standard_normal((B, H)).astype(np.float32) * 0.5
    c0 = rng.standard_normal((B, H)).astype(np.float32) * 0.5
    out, h, c = qlstm_layer(x, w_ih, w_hh, b, h0, c0, reverse=reverse)
    xg = input_projection(x, w_ih, b, 4 * H)
    ro, rh, rc = ref_lstm(xg.astype(np.float64), w_hh, h0.astype(np.float64),
                          c0.astype(np.float64), reverse)
    # 1e-6-level differences of the fast sigmoid/tanh can move a u8 rounding of h by one code
    # at a later step: that shifts a pre-activation by one step of h (~2 max|h| / 255) times a
    # weight (|w| < ~1.5 here), and c carries it on; the median holds the rest to float error
    assert np.abs(out - ro).max() < 1e-2
    assert np.median(np.abs(out - ro)) < 1e-5
    assert np.abs(h - rh).max() < 1e-2 and np.abs(c - rc).max() < 1e-2
    np.testing.assert_array_equal(h, out[0 if reverse else -1])


@pytest.mark.parametrize("T,B,I,H", SIZES)
@pytest.mark.parametrize("reverse", [False, True])
def test_qgru_loop_matches_numpy(T, B, I, H, reverse, isa, threads, rng):
    w_ih, w_hh = weights(rng, 3 * H, I, H)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    b_ih = rng.standard_normal(3 * H).astype(np.float32) * 0.1
    b_hh = rng.standard_normal(3 * H).astype(np.float32) * 0.1
    h0 = rng.standard_normal((B, H)).astype(np.float32) * 0.5
    out, h = qgru_layer(x, w_ih, w_hh, b_ih, b_hh, h0, reverse=reverse)
    xg = input_projection(x, w_ih, b_ih, 3 * H)
    ro, rh = ref_gru(xg.astype(np.float64), w_hh, b_hh, h0.astype(np.float64), reverse)
    assert np.abs(out - ro).max() < 1e-2
    assert np.median(np.abs(out - ro)) < 1e-5
    assert np.abs(h - rh).max() < 1e-2
    np.testing.assert_array_equal(h, out[0 if reverse else -1])


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_qrnn_two_threads_equal_one(mode, rng):
    """The threads split columns of the product and rows of the cell: no sum changes order."""
    T, B, I, H = 5, 33, 9, 70
    G = (4 if mode == "LSTM" else 3) * H
    w_ih, w_hh = weights(rng, G, I, H)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    h0 = rng.standard_normal((B, H)).astype(np.float32)
    outs = []
    prev = _C.get_num_threads()
    try:
        for nt in (1, 2):
            _C.set_num_threads(nt)
            if mode == "LSTM":
                outs.append(qlstm_layer(x, w_ih, w_hh, None, h0, h0 * 0.5)[0])
            else:
                outs.append(qgru_layer(x, w_ih, w_hh, None, None, h0)[0])
    finally:
        _C.set_num_threads(prev)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_qrnn_forward_checks_its_arguments(rng):
    w = Int8Weight.from_float(rng.standard_normal((12, 3)).astype(np.float32))
    xg = np.zeros((2, 1, 12), np.float32)
    h = np.zeros((1, 3), np.float32)
    out = np.empty((2, 1, 3), np.float32)
    with pytest.raises(ValueError, match="mode must be"):
        _C.qrnn_forward("RNN", xg, w.packed, w.colsum, w.scale, None, h, h.copy(), out)
    with pytest.raises(ValueError, match="c is required"):
        _C.qrnn_forward("LSTM", xg, w.packed, w.colsum, w.scale, None, h, None, out)
    with pytest.raises(ValueError, match="xg must have shape"):
        _C.qrnn_forward("GRU", xg, w.packed, w.colsum, w.scale, None, h, None, out)
    with pytest.raises(ValueError, match="b_hh summed into xg"):
        _C.qrnn_forward("LSTM", xg, w.packed, w.colsum, w.scale, w.scale, h, h.copy(), out)
