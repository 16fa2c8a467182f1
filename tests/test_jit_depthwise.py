"""The executor's depthwise convolution on the flat padded grid (plan_dw_simd.c) against a
float64 NumPy reference: odd plane sizes on both sides of a vector (7, 9, 14, 17, 33),
strides 1, 2, 3 and (2, 1), kernels 1 to 5, every padding used, with and without bias, each
fused activation, a channel multiplier, at 1 and 2 threads, on every ISA the CPU has."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit.executor import CONV
from dlcore.runtime import get_isa, set_isa, supported_isas

RNG = np.random.default_rng(11)


def _reference(x, w, b, stride, pad, mult):
    """float64 depthwise conv: output channel k reads input channel k // mult"""
    N, C, H, W = x.shape
    K, _, R, S = w.shape
    sh, sw = stride
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    xp[:, :, pad:pad + H, pad:pad + W] = x
    OH, OW = (H + 2 * pad - R) // sh + 1, (W + 2 * pad - S) // sw + 1
    y = np.zeros((N, K, OH, OW))
    for k in range(K):
        plane = xp[:, k // mult]
        for r in range(R):
            for s in range(S):
                y[:, k] += w[k, 0, r, s] * plane[:, r:r + sh * (OH - 1) + 1:sh,
                                                 s:s + sw * (OW - 1) + 1:sw]
    return y + (0.0 if b is None else b.reshape(1, K, 1, 1))


_ACTS = {None: lambda y: y, nn.ReLU: lambda y: np.maximum(y, 0),
         nn.ReLU6: lambda y: np.clip(y, 0, 6), nn.Tanh: np.tanh}


def _check(C, mult, k, stride, pad, size, act, bias=True, nthreads=1, N=2):
    conv = nn.Conv2d(C, C * mult, k, stride, pad, groups=C, bias=bias)
    m = nn.Sequential(*[conv] + ([act()] if act else []))
    m.eval()
    x = (RNG.standard_normal((N, C) + size) * 3).astype(np.float32)
    p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
    assert any(s.op == CONV for s in p.steps)
    st = stride if isinstance(stride, tuple) else (stride, stride)
    want = _ACTS[act](_reference(x.astype(np.float64), conv.weight.numpy().astype(np.float64),
                                 None if not bias else conv.bias.numpy().astype(np.float64),
                                 st, pad, mult))
    got = p.run([x], nthreads)[0]
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1e-30)
    assert float(np.abs(got - want).max()) <= 1e-5 * scale


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("k,stride,pad,size", [
    (3, 1, 1, (7, 7)), (3, 1, 1, (14, 14)), (3, 2, 1, (14, 14)), (3, 2, 1, (9, 17)),
    (3, 1, 1, (33, 5)), (5, 2, 2, (17, 33)), (5, 1, 2, (9, 9)), (3, 3, 1, (13, 11)),
    (3, (2, 1), 1, (15, 16)), (1, 1, 0, (7, 9)), (3, 1, 0, (7, 7)), (3, 2, 0, (8, 8)),
    # stride 1, 3x3, rows of 14 or more: the row-blocked sum (blocks of 4 rows and a tail)
    (3, 1, 1, (17, 33)), (3, 1, 0, (7, 21)), (3, 1, 2, (5, 14)), (3, 1, 1, (1, 16))])
def test_depthwise_against_numpy(isa, k, stride, pad, size):
    prev = get_isa()
    set_isa(isa)
    try:
        _check(5, 1, k, stride, pad, size, nn.ReLU6)
    finally:
        set_isa(prev)


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("act", [None, nn.ReLU, nn.Tanh])
@pytest.mark.parametrize("bias", [True, False])
def test_depthwise_activations_and_bias(isa, act, bias):
    prev = get_isa()
    set_isa(isa)
    try:
        _check(3, 1, 3, 2, 1, (11, 13), act, bias)
    finally:
        set_isa(prev)


@pytest.mark.parametrize("isa", supported_isas())
def test_depthwise_channel_multiplier_and_threads(isa):
    prev = get_isa()
    set_isa(isa)
    try:
        _check(6, 2, 3, 2, 1, (14, 15), nn.ReLU6, nthreads=2, N=3)
        _check(40, 1, 3, 1, 1, (7, 7), nn.ReLU6, nthreads=2, N=1)
    finally:
        set_isa(prev)
