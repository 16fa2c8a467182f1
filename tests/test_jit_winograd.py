"""The plan's Winograd convolutions on filters transformed once when the plan is made
(csrc/plan_winograd.c, the CONV step): against a float64 NumPy convolution on odd sizes (maps
smaller than a tile, channel counts around the GEMM panels, asymmetric padding), both tile
sizes, each post activation, every ISA, one and two threads, several Python threads on one
plan; equal to eager's cached Winograd on ResNet-shaped layers; non-finite inputs and weights
take im2col as eager does; the tile is the one eager picks for a cached transform; the plan
leaves eager's filter cache alone."""
import threading

import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.jit import Graph, build_plan
from dlcore.jit.executor import CONV
from dlcore.ops.conv import conv2d_algorithm, conv_algorithm, winograd_cache_info
from dlcore.runtime import get_isa, set_isa, supported_isas

from test_jit_conv_direct import _graph as _direct_graph, _reference as _direct_reference

RNG = np.random.default_rng(1717)
TILE = {"winograd2x2": 2, "winograd4x4": 4, "im2col": 0}


def _reference(x, w, b, pads):
    """float64 3x3 correlation, stride 1, pads (top, left, bottom, right)"""
    return _direct_reference(x, w, b, pads, (1, 1))


_ACTS = {None: (None, lambda y: y),
         "Relu": ({}, lambda y: np.maximum(y, 0)),
         "Tanh": ({}, np.tanh)}


def _graph(x, w, b, pads, act=None):
    return _direct_graph(x, w, b, pads, (1, 1), act)


def _rel(got, want):
    return float(np.abs(got - want).max()) / max(float(np.abs(want).max()), 1e-30)


def _tiles(plan):
    return plan.exe.cplan.winograd_steps()


# (N, C, K, (H, W), pads): maps smaller than one tile, odd maps, output channels around the
# GEMM panel (MR 14 on AVX-512, 6/8 elsewhere) and past one products pass (256 channels)
CASES = [
    (1, 2, 1, (1, 1), (1, 1, 1, 1)),
    (2, 3, 5, (7, 9), (1, 1, 1, 1)),
    (3, 17, 19, (13, 10), (2, 2, 2, 2)),
    (1, 8, 15, (5, 6), (0, 0, 0, 0)),
    (1, 5, 29, (11, 4), (1, 2, 0, 1)),
    (1, 300, 3, (6, 7), (1, 1, 1, 1)),
    (2, 16, 33, (17, 19), (1, 0, 2, 1)),
    # tiles too few for a block per thread, many output-channel panels: at two threads the
    # panels are split (winograd.c's panel mode on the plan's transformed filters)
    (1, 100, 45, (6, 7), (1, 1, 1, 1)),
    (1, 40, 30, (16, 14), (1, 1, 1, 1)),
]


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("tile", ["winograd2x2", "winograd4x4"])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_matches_float64_reference(isa, tile, case, nthreads):
    N, C, K, (H, W), pads = case
    prev = get_isa()
    set_isa(isa)
    try:
        x = RNG.standard_normal((N, C, H, W)).astype(np.float32)
        w = RNG.standard_normal((K, C, 3, 3)).astype(np.float32)
        b = RNG.standard_normal(K).astype(np.float32)
        with conv_algorithm(tile):
            p = build_plan(_graph(x, w, b, pads, "Relu"), {}, optimize=False)
        assert [s.op for s in p.steps] == [CONV] and _tiles(p) == [TILE[tile]]
        want = np.maximum(_reference(x.astype(np.float64), w.astype(np.float64),
                                     b.astype(np.float64), pads), 0)
        got = p.run([x], nthreads)[0]
        # the error budget of tests/test_conv_winograd.py: F(4x4) within 1e-4 of max |y|
        assert _rel(got, want) < (1e-4 if tile == "winograd4x4" else 1e-5)
    finally:
        set_isa(prev)


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("act", [None, "Relu", "Tanh"])
@pytest.mark.parametrize("bias", [True, False])
def test_activations_and_no_bias(isa, act, bias):
    prev = get_isa()
    set_isa(isa)
    try:
        x = RNG.standard_normal((2, 9, 10, 13)).astype(np.float32)
        w = (RNG.standard_normal((12, 9, 3, 3)) * 0.3).astype(np.float32)
        b = RNG.standard_normal(12).astype(np.float32) if bias else None
        with conv_algorithm("winograd2x2"):
            p = build_plan(_graph(x, w, b, (1, 1, 1, 1), act), {}, optimize=False)
        assert _tiles(p) == [2]
        want = _ACTS[act][1](_reference(x.astype(np.float64), w.astype(np.float64),
                                        None if b is None else b.astype(np.float64),
                                        (1, 1, 1, 1)))
        for nt in (1, 2):
            assert _rel(p.run([x], nt)[0], want) < 1e-5
    finally:
        set_isa(prev)


@pytest.mark.parametrize("C,H", [(64, 56), (128, 28), (256, 14), (512, 7)])
def test_resnet_layers_take_the_cached_choice_and_equal_eager(C, H):
    """At batch 1 the tile is what eager inference runs on its cached transform (the 7x7
    layers: Winograd where a call transforming its filters would take im2col), and the
    output equals eager's."""
    conv = nn.Conv2d(C, C, 3, padding=1).eval()
    x = (RNG.standard_normal((1, C, H, H))).astype(np.float32)
    p = dl.jit.trace(conv, [x], dynamic_axes=False).plan(x)
    want_tile = TILE[conv2d_algorithm(x.shape, (C, C, 3, 3), 1, 1, cached=True)]
    assert _tiles(p) == [want_tile]
    if want_tile:
        assert p.steps[0].op == CONV
    with dl.no_grad():
        want = conv(dl.tensor(x)).numpy()
    for nt in (1, 2):
        assert _rel(p(x, num_threads=nt), want) <= 1e-5


def test_plan_calls_leave_the_eager_cache_alone():
    conv = nn.Conv2d(32, 32, 3, padding=1).eval()
    x = RNG.standard_normal((1, 32, 20, 20)).astype(np.float32)
    with conv_algorithm("winograd2x2"):
        p = dl.jit.trace(conv, [x], dynamic_axes=False).plan(x)
        assert _tiles(p) == [2]
        before = winograd_cache_info()
        for _ in range(3):
            p(x)
        after = winograd_cache_info()
    assert (after["hits"], after["misses"]) == (before["hits"], before["misses"])


def test_non_finite_input_takes_im2col_as_eager():
    """A NaN or infinity in the input: im2col (Winograd's transforms would spread it to
    outputs that never read it), the NaNs where eager has them."""
    x = RNG.standard_normal((1, 6, 12, 12)).astype(np.float32)
    w = RNG.standard_normal((7, 6, 3, 3)).astype(np.float32)
    with conv_algorithm("winograd4x4"):
        p = build_plan(_graph(x, w, None, (1, 1, 1, 1)), {}, optimize=False)
    assert _tiles(p) == [4]
    for bad in (np.nan, np.inf):
        xb = x.copy()
        xb[0, 2, 5, 7] = bad
        got = p.run([xb])[0]
        with dl.no_grad():
            want = F.conv2d(dl.tensor(xb), dl.tensor(w), padding=1).numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        fin = np.isfinite(want)
        assert float(np.abs(got[fin] - want[fin]).max()) <= 1e-5 * float(np.abs(want[fin]).max())
        # the outputs whose window misses the bad value are finite
        assert np.isfinite(got[:, :, :4, :]).all()


def test_non_finite_weights_are_not_transformed():
    x = RNG.standard_normal((1, 4, 9, 9)).astype(np.float32)
    w = RNG.standard_normal((5, 4, 3, 3)).astype(np.float32)
    w[3, 1, 0, 2] = np.inf
    with conv_algorithm("winograd2x2"):
        p = build_plan(_graph(x, w, None, (1, 1, 1, 1)), {}, optimize=False)
    assert _tiles(p) == [0]
    got = p.run([x])[0]
    with dl.no_grad():
        want = F.conv2d(dl.tensor(x), dl.tensor(w), padding=1).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    assert not np.isfinite(got[0, 3]).all() and np.isfinite(got[0, [0, 1, 2, 4]]).all()


def test_forced_im2col_packs_nothing():
    x = RNG.standard_normal((1, 64, 28, 28)).astype(np.float32)
    conv = nn.Conv2d(64, 64, 3, padding=1).eval()
    with conv_algorithm("im2col"):
        p = dl.jit.trace(conv, [x], dynamic_axes=False).plan(x)
    assert _tiles(p) == [0] * len(p.steps)


def test_several_python_threads_share_one_plan():
    m = nn.Sequential(nn.Conv2d(8, 24, 3, padding=1), nn.ReLU(),
                      nn.Conv2d(24, 16, 3, padding=1)).eval()
    xs = [RNG.standard_normal((2, 8, 15, 17)).astype(np.float32) for _ in range(6)]
    with conv_algorithm("winograd2x2"):
        p = dl.jit.trace(m, [xs[0]], dynamic_axes=False).plan(xs[0])
    assert sorted(_tiles(p)) == [2, 2]
    wants = []
    for x in xs:
        w1, b1 = m[0].weight.numpy().astype(np.float64), m[0].bias.numpy().astype(np.float64)
        w2, b2 = m[2].weight.numpy().astype(np.float64), m[2].bias.numpy().astype(np.float64)
        h = np.maximum(_reference(x.astype(np.float64), w1, b1, (1, 1, 1, 1)), 0)
        wants.append(_reference(h, w2, b2, (1, 1, 1, 1)))
    errs = []

    def work(k):
        for _ in range(15):
            errs.append(_rel(p(xs[k], num_threads=1 + k % 2), wants[k]))

    ts = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(errs) == 90 and max(errs) < 1e-5
