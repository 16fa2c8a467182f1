"""The executor's max pooling of 3x3 windows at stride 2 (csrc/plan_maxpool_simd.c, ResNet's
stem): against a float64 NumPy reference on odd sizes (planes narrower than a vector, one
row, ceil-mode windows past the edge), padding 0 and 1, NaN and infinities, every ISA (the
portable path keeps the general kernel), one and two threads, several Python threads on one plan, ResNet-18's shape against eager."""
import threading

import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from dlcore.jit import Graph, build_plan
from dlcore.jit.executor import MAXPOOL
from dlcore.runtime import get_isa, set_isa, supported_isas

RNG = np.random.default_rng(3)


def _out(n, p, ceil):
    o = (n + 2 * p - 3 + (1 if ceil else 0)) // 2 + 1
    if ceil and (o - 1) * 2 >= n + p:   # PyTorch: the last window starts inside the input
        o -= 1
    return o


def _reference(x, p, OH, OW):
    """-inf padded windows, NaN wins"""
    N, C, H, W = x.shape
    xp = np.full((N, C, 2 * OH + 3 + H, 2 * OW + 3 + W), -np.inf)
    xp[:, :, p:p + H, p:p + W] = x
    y = np.empty((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            win = xp[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3].reshape(N, C, 9)
            y[:, :, i, j] = np.where(np.isnan(win).any(-1), np.nan, np.max(win, -1))
    return y


def _plan(x, p, OH, OW):
    g = Graph()
    v = g.add_input("x", x.shape, np.float32)
    y = g.add_node("MaxPool", [v], {"kernel_shape": (3, 3), "strides": (2, 2), "pads": (p, p),
                                   "dilations": (1, 1)},
                   [((x.shape[0], x.shape[1], OH, OW), np.float32)]).outputs[0]
    g.outputs = [y]
    plan = build_plan(g, {}, optimize=False)
    assert [s.op for s in plan.steps] == [MAXPOOL]
    return plan


SIZES = [(1, 1), (2, 3), (5, 7), (13, 16), (17, 33), (9, 40), (1, 29), (112, 112)]


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("hw,pad,ceil", [  # the cases where at least one window fits
    (hw, pad, ceil) for hw in SIZES for pad in (0, 1) for ceil in (False, True)
    if _out(hw[0], pad, ceil) >= 1 and _out(hw[1], pad, ceil) >= 1])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_matches_float64_reference(isa, hw, pad, ceil, nthreads):
    H, W = hw
    OH, OW = _out(H, pad, ceil), _out(W, pad, ceil)
    prev = get_isa()
    set_isa(isa)
    try:
        x = RNG.standard_normal((2, 3 if H < 100 else 8, H, W)).astype(np.float32)
        x.flat[RNG.integers(0, x.size, 3)] = np.nan
        x.flat[RNG.integers(0, x.size, 2)] = np.inf
        x.flat[RNG.integers(0, x.size, 2)] = -np.inf
        got = _plan(x, pad, OH, OW).run([x], nthreads)[0]
        want = _reference(x.astype(np.float64), pad, OH, OW)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])
    finally:
        set_isa(prev)


def test_resnet_stem_equals_eager():
    x = RNG.standard_normal((2, 64, 112, 112)).astype(np.float32)
    p = _plan(x, 1, 56, 56)
    with dl.no_grad():
        want = F.max_pool2d(dl.tensor(x), 3, 2, 1).numpy()
    for nt in (1, 2):
        np.testing.assert_array_equal(p.run([x], nt)[0], want)


def test_several_python_threads_share_one_plan():
    xs = [RNG.standard_normal((3, 5, 21, 19)).astype(np.float32) for _ in range(6)]
    p = _plan(xs[0], 1, 11, 10)
    wants = [_reference(x.astype(np.float64), 1, 11, 10) for x in xs]
    bad = []

    def work(k):
        for _ in range(20):
            if not np.array_equal(p.run([xs[k]], 1 + k % 2)[0], wants[k]):
                bad.append(k)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert bad == []
