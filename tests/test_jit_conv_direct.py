"""The executor's direct convolution for small stride-1 maps (csrc/plan_direct_simd.c, the
CONV_DIRECT step): against a float64 NumPy convolution on odd sizes (output channels not a
multiple of the weight blocks, maps narrower than a vector, asymmetric padding, dilation,
non-square kernels), each fused activation, every ISA, one and two threads, and several Python
threads on one plan."""
import threading

import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit import Graph, build_plan
from dlcore.jit.executor import CONV_DIRECT, CONV_GEMM
from dlcore.models.lenet import LeNet5
from dlcore.ops.conv import conv_algorithm
from dlcore.runtime import get_isa, set_isa, supported_isas

RNG = np.random.default_rng(17)


def _reference(x, w, b, pads, dil):
    """float64 conv, stride 1: pads (top, left, bottom, right)"""
    N, C, H, W = x.shape
    K, _, R, S = w.shape
    t, l, bo, r = pads
    xp = np.zeros((N, C, H + t + bo, W + l + r))
    xp[:, :, t:t + H, l:l + W] = x
    OH = xp.shape[2] - dil[0] * (R - 1)
    OW = xp.shape[3] - dil[1] * (S - 1)
    y = np.zeros((N, K, OH, OW))
    for i in range(R):
        for j in range(S):
            win = xp[:, :, i * dil[0]:i * dil[0] + OH, j * dil[1]:j * dil[1] + OW]
            y += np.einsum("nchw,kc->nkhw", win, w[:, :, i, j])
    return y + (0.0 if b is None else b.reshape(1, K, 1, 1))


_ACTS = {None: (None, lambda y: y),
         "Relu": ({}, lambda y: np.maximum(y, 0)),
         "Clip": ({"min": 0.0, "max": 6.0}, lambda y: np.clip(y, 0, 6)),
         "Tanh": ({}, np.tanh)}


def _graph(x, w, b, pads, dil, act):
    N, C, H, W = x.shape
    K, _, R, S = w.shape
    OH = H + pads[0] + pads[2] - dil[0] * (R - 1)
    OW = W + pads[1] + pads[3] - dil[1] * (S - 1)
    attrs = {"strides": (1, 1), "pads": tuple(pads), "dilations": tuple(dil), "group": 1}
    if act:
        attrs.update(activation=act, activation_attrs=_ACTS[act][0])
    g = Graph()
    ins = [g.add_input("x", x.shape, x.dtype), g.const(w)] + ([g.const(b)] if b is not None
                                                               else [])
    node = g.add_node("Conv", ins, attrs, [((N, K, OH, OW), np.float32)])
    g.outputs = list(node.outputs)
    return g


def _check(x, w, b, pads, dil, act, nthreads):
    p = build_plan(_graph(x, w, b, pads, dil, act), {}, optimize=False)
    assert [s.op for s in p.steps] == [CONV_DIRECT]
    want = _ACTS[act][1](_reference(x.astype(np.float64), w.astype(np.float64),
                                    None if b is None else b.astype(np.float64), pads, dil))
    got = p.run([x], nthreads)[0]
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1e-30)
    assert float(np.abs(got - want).max()) <= 1e-5 * scale


# (N, C, K, (R, S), (H, W), pads, dilation)
CASES = [
    (3, 1, 6, (5, 5), (28, 28), (2, 2, 2, 2), (1, 1)),     # LeNet's first layer
    (2, 6, 16, (5, 5), (14, 14), (0, 0, 0, 0), (1, 1)),    # and its second
    (5, 3, 11, (3, 3), (9, 13), (1, 1, 1, 1), (1, 1)),     # 11 channels: a block of 8 and 3
    (1, 5, 17, (3, 3), (7, 10), (1, 2, 0, 1), (1, 1)),     # asymmetric padding, 8 + 8 + 1
    (2, 2, 9, (3, 3), (11, 12), (2, 2, 2, 2), (2, 2)),     # dilation 2
    (3, 4, 7, (2, 4), (6, 21), (0, 1, 1, 2), (1, 1)),      # a 2x4 kernel
    (2, 1, 3, (2, 2), (3, 3), (0, 0, 0, 0), (1, 1)),       # 5 wide positions: one partial vector
    (1, 2, 64, (3, 3), (33, 5), (1, 1, 1, 1), (1, 1)),     # 64 channels, a tall narrow map
    # AVX2's channel-lanes form: 24 channels (a block of 16 and one of 8), 12 wide (one row
    # a tile); 8 channels on 6-wide rows (two rows a tile, the last alone)
    (2, 3, 24, (3, 3), (7, 12), (1, 1, 1, 1), (1, 1)),
    (3, 2, 8, (3, 3), (9, 6), (1, 1, 1, 1), (1, 1)),
]


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_matches_float64_reference(isa, case, nthreads):
    N, C, K, (R, S), (H, W), pads, dil = case
    prev = get_isa()
    set_isa(isa)
    try:
        x = RNG.standard_normal((N, C, H, W)).astype(np.float32)
        w = RNG.standard_normal((K, C, R, S)).astype(np.float32)
        b = RNG.standard_normal(K).astype(np.float32)
        _check(x, w, b, pads, dil, "Relu", nthreads)
    finally:
        set_isa(prev)


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("act", [None, "Relu", "Clip", "Tanh"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("K", [10, 32])
def test_activations_and_no_bias(isa, act, bias, K):
    """10 channels: the row form; 32: with AVX-512, the channel-lanes form"""
    prev = get_isa()
    set_isa(isa)
    try:
        x = (RNG.standard_normal((2, 3, 10, 9)) * 2).astype(np.float32)
        w = RNG.standard_normal((K, 3, 3, 3)).astype(np.float32)
        b = RNG.standard_normal(K).astype(np.float32) if bias else None
        _check(x, w, b, (1, 1, 1, 1), (1, 1), act, 1)
    finally:
        set_isa(prev)


@pytest.mark.parametrize("isa", supported_isas())
def test_nan_reaches_its_outputs_through_relu(isa):
    """Relu keeps a NaN (as eager's does): the outputs whose window holds it are NaN, the
    rest are finite."""
    prev = get_isa()
    set_isa(isa)
    try:
        x = RNG.standard_normal((1, 2, 9, 9)).astype(np.float32)
        x[0, 1, 4, 6] = np.nan
        w = RNG.standard_normal((5, 2, 3, 3)).astype(np.float32)
        p = build_plan(_graph(x, w, None, (1, 1, 1, 1), (1, 1), "Relu"), {}, optimize=False)
        got = p.run([x])[0]
        nan = np.zeros((9, 9), bool)
        nan[3:6, 5:8] = True
        assert (np.isnan(got) == nan[None, None]).all()
    finally:
        set_isa(prev)


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("act", ["Relu", "Tanh"])
@pytest.mark.parametrize("shape", [(8, 21, 26, 25), (24, 32, 14, 13)])
def test_one_image_shared_between_threads(isa, act, shape):
    """One image large enough for the team: its blocks of channels and runs of positions
    (or pairs of rows, the channel-lanes form) are shared out, each activated where it was
    computed."""
    C, K, H, W = shape
    prev = get_isa()
    set_isa(isa)
    try:
        x = RNG.standard_normal((1, C, H, W)).astype(np.float32)
        w = (RNG.standard_normal((K, C, 5, 5)) * 0.1).astype(np.float32)
        b = RNG.standard_normal(K).astype(np.float32)
        _check(x, w, b, (2, 1, 2, 3), (1, 1), act, 2)
    finally:
        set_isa(prev)


def test_lenet_takes_it_and_matches_eager_at_every_batch():
    m = LeNet5().eval()
    t = dl.jit.trace(m, [RNG.standard_normal((1, 1, 28, 28)).astype(np.float32)])
    for n in (1, 3, 32):
        x = RNG.standard_normal((n, 1, 28, 28)).astype(np.float32)
        p = t.plan(x)
        assert sum(s.op == CONV_DIRECT for s in p.steps) == 2
        with dl.no_grad():
            want = m(dl.tensor(x)).numpy()
        for nt in (1, 2):
            got = p(x, num_threads=nt)
            assert float(np.abs(got - want).max()) <= 1e-5 * float(np.abs(want).max())


def test_routing():
    """Stride 2 on more than a few input channels, wide output channel counts, planes past the
    stack buffer and a forced algorithm keep the im2col product (stride 2 on a few input
    channels takes the stride-2 direct kernel, test_jit_conv_direct_s2w.py)."""
    def ops(m, x):
        return [s.op for s in dl.jit.trace(m.eval(), [x], dynamic_axes=False).plan(x).steps]
    x = RNG.standard_normal((1, 4, 12, 12)).astype(np.float32)
    assert ops(nn.Conv2d(4, 8, 5), x) == [CONV_DIRECT]
    assert ops(nn.Conv2d(4, 8, 5, stride=2), x) == [CONV_DIRECT]
    x8 = RNG.standard_normal((1, 8, 12, 12)).astype(np.float32)
    assert ops(nn.Conv2d(8, 8, 5, stride=2), x8) == [CONV_GEMM]
    assert ops(nn.Conv2d(4, 96, 5), x) == [CONV_GEMM]
    big = RNG.standard_normal((1, 16, 30, 30)).astype(np.float32)
    assert ops(nn.Conv2d(16, 8, 5), big) == [CONV_GEMM]
    with conv_algorithm("im2col"):
        assert ops(nn.Conv2d(4, 8, 5), x) == [CONV_GEMM]


def test_several_python_threads_share_one_plan():
    m = nn.Sequential(nn.Conv2d(3, 12, 5, padding=2), nn.ReLU(), nn.Conv2d(12, 10, 3)).eval()
    xs = [RNG.standard_normal((4, 3, 15, 15)).astype(np.float32) for _ in range(6)]
    t = dl.jit.trace(m, [xs[0]], dynamic_axes=False)
    p = t.plan(xs[0])
    assert sum(s.op == CONV_DIRECT for s in p.steps) == 2
    with dl.no_grad():
        want = [m(dl.tensor(x)).numpy() for x in xs]
    errs = []

    def work(k):
        for _ in range(20):
            got = p(xs[k], num_threads=1 + k % 2)
            errs.append(float(np.abs(got - want[k]).max() / np.abs(want[k]).max()))

    ts = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    assert len(errs) == 120 and max(errs) <= 1e-5
