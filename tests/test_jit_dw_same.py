"""The executor's depthwise convolution with "same" padding read in place
(csrc/plan_dw_same_simd.c): 3x3 rows at stride 1 and 2 straight from the planes, and the
flat-grid kernel of small maps (stride 1 on the plane itself, stride 2 on phase bands), against
a float64 NumPy reference on odd sizes (planes smaller than the filter, single rows, widths
on both sides of a vector), 3x3, 5x5 and 7x7 filters, with and without bias, each fused or
following activation, batches of several images, at 1 and 2 threads, on every ISA the CPU
has."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit.executor import CONV
from dlcore.runtime import get_isa, set_isa, supported_isas

RNG = np.random.default_rng(17)


def _reference(x, w, b, stride, pad):
    N, C, H, W = x.shape
    _, _, R, S = w.shape
    xp = np.zeros((N, C, H + 2 * pad[0], W + 2 * pad[1]))
    xp[:, :, pad[0]:pad[0] + H, pad[1]:pad[1] + W] = x
    OH, OW = (H + 2 * pad[0] - R) // stride + 1, (W + 2 * pad[1] - S) // stride + 1
    y = np.zeros((N, C, OH, OW))
    for r in range(R):
        for s in range(S):
            y += w[None, :, 0, r, s, None, None] * xp[:, :, r:r + stride * (OH - 1) + 1:stride,
                                                      s:s + stride * (OW - 1) + 1:stride]
    return y + (0.0 if b is None else b.reshape(1, C, 1, 1))


_ACTS = {None: lambda y: y, nn.ReLU: lambda y: np.maximum(y, 0),
         nn.ReLU6: lambda y: np.clip(y, 0, 6), nn.Tanh: np.tanh}


def _check(C, k, stride, size, act=nn.ReLU6, bias=True, nthreads=1, N=2):
    kh, kw = (k, k) if isinstance(k, int) else k
    pad = ((kh - 1) // 2, (kw - 1) // 2)
    conv = nn.Conv2d(C, C, (kh, kw), stride, pad, groups=C, bias=bias)
    m = nn.Sequential(*[conv] + ([act()] if act else [])).eval()
    x = (RNG.standard_normal((N, C) + size) * 3).astype(np.float32)
    p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
    assert any(s.op == CONV for s in p.steps)
    want = _ACTS[act](_reference(x.astype(np.float64), conv.weight.numpy().astype(np.float64),
                                 conv.bias.numpy().astype(np.float64) if bias else None,
                                 stride, pad))
    got = p.run([x], nthreads)[0]
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1e-30)
    assert float(np.abs(got - want).max()) <= 1e-5 * scale


_CASES = [
    # stride 1, 3x3, rows of 14 or more: blocks of 4 rows and a tail, row ends masked
    (3, 1, (14, 14)), (3, 1, (17, 33)), (3, 1, (15, 16)), (3, 1, (2, 31)), (3, 1, (1, 14)),
    (3, 1, (29, 47)),
    # stride 1 on a small map: the flat grid over the plane itself
    (3, 1, (7, 7)), (3, 1, (5, 13)), (3, 1, (13, 1)), (3, 1, (1, 1)), (3, 1, (40, 3)),
    (5, 1, (7, 7)), (5, 1, (9, 11)), (7, 1, (3, 3)), (7, 1, (8, 5)), ((3, 5), 1, (6, 9)),
    # stride 2, 3x3, output rows of 14 or more: the taps split from each row in registers
    (3, 2, (28, 28)), (3, 2, (29, 31)), (3, 2, (27, 28)), (3, 2, (3, 57)), (3, 2, (56, 33)),
    # stride 2 on a small map: phase bands (halo 1 or 2)
    (3, 2, (14, 14)), (3, 2, (13, 13)), (3, 2, (3, 3)), (3, 2, (1, 1)), (3, 2, (2, 5)),
    (5, 2, (14, 14)), (5, 2, (17, 9)), (5, 2, (5, 5)), (7, 2, (15, 15)), (5, 2, (40, 20))]


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("k,stride,size", _CASES)
def test_same_depthwise_against_numpy(isa, k, stride, size):
    prev = get_isa()
    set_isa(isa)
    try:
        _check(5, k, stride, size)
    finally:
        set_isa(prev)


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("act", [None, nn.ReLU, nn.Tanh])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("k,stride,size", [(3, 1, (16, 17)), (3, 1, (7, 9)), (3, 2, (30, 29)),
                                           (5, 2, (11, 13))])
def test_same_depthwise_activations_and_bias(isa, act, bias, k, stride, size):
    prev = get_isa()
    set_isa(isa)
    try:
        _check(3, k, stride, size, act, bias)
    finally:
        set_isa(prev)


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("k,stride,size", [(3, 1, (14, 14)), (3, 1, (7, 7)), (3, 2, (28, 29)),
                                           (3, 2, (14, 15)), (5, 1, (7, 7))])
def test_same_depthwise_threads_and_batch(isa, k, stride, size):
    prev = get_isa()
    set_isa(isa)
    try:
        _check(37, k, stride, size, nthreads=2, N=3)
        _check(37, k, stride, size, nthreads=1, N=3)
    finally:
        set_isa(prev)


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("C,N,stride,size", [
    (5, 1, 1, (14, 14)), (3, 1, 1, (9, 16)), (3, 1, 1, (14, 15)), (7, 1, 1, (5, 33)),
    (2, 1, 1, (112, 112)), (3, 2, 1, (4, 71)),
    (3, 1, 2, (9, 113)), (2, 1, 2, (6, 130)), (3, 2, 2, (112, 112)), (5, 1, 2, (2, 61)),
    # rows of 8 or less: two planes per vector (AVX-512), four at a time, an odd one alone
    (3, 1, 1, (7, 7)), (5, 1, 1, (9, 8)), (7, 2, 1, (8, 1)), (2, 1, 1, (1, 8)),
    (3, 2, 1, (5, 3)), (17, 3, 1, (7, 7)),
    # AVX2: the two edge strips with their masks, the inner ones without (rows of 3, 7 and 12
    # vectors of 8, some ending on a whole vector); one inner strip, none (2 vectors)
    (3, 1, 1, (4, 24)), (2, 1, 1, (3, 56)), (3, 1, 1, (2, 96)), (2, 1, 1, (5, 17)),
    (2, 1, 1, (3, 16)),
    # stride 2: rows of 24 outputs (3 whole AVX2 vectors, from even and odd widths), 29 (a
    # partial last strip), 17 (a whole strip and a partial one)
    (3, 1, 2, (4, 48)), (2, 1, 2, (5, 47)), (2, 1, 2, (3, 58)), (3, 1, 2, (2, 34)),
    # stride 2, the edge strips masked and the inner ones not: odd widths whose last inner
    # strip reads the row's last column (33, 81), rows of one strip more than two vectors
    (2, 1, 2, (3, 33)), (2, 1, 2, (5, 35)), (2, 2, 2, (4, 81)), (2, 1, 2, (7, 112))])
def test_rolled_rows_pairs_and_strips(isa, C, N, stride, size):
    """3x3 rows rolled down column strips: at stride 1 planes side by side when a row is one
    vector (an odd count leaves one alone); groups of four and two strips and a last single
    one on wider rows, at stride 1 and 2 (odd and even heights)."""
    prev = get_isa()
    set_isa(isa)
    try:
        for nthreads in (1, 2):
            _check(C, 3, stride, size, nthreads=nthreads, N=N)
    finally:
        set_isa(prev)


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("act", [None, nn.ReLU, nn.Tanh])
@pytest.mark.parametrize("bias", [True, False])
def test_two_planes_per_vector_activations_and_bias(isa, act, bias):
    prev = get_isa()
    set_isa(isa)
    try:
        _check(7, 3, 1, (7, 7), act, bias, N=1)
    finally:
        set_isa(prev)
