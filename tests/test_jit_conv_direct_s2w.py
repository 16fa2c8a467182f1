"""The executor's direct stride-2 convolution with a wide filter on a few input channels
(csrc/plan_direct_s2w_simd.c, the CONV_DIRECT step with stride 2 and a filter other than a 3x3
one at padding 0 or 1: ResNet's 7x7 first layer): against a float64 NumPy convolution on odd
sizes (filters of 1 to 7 rows and columns, even ones too, maps narrower than a vector, rows
that end inside a register tile, rows of several column chunks, output channels that leave a
partial block of the packed weights, 1 to 4 input channels, top/left padding from 0 up to the
filter's side less one, end padding dropped or kept), each fused or following activation, with
and without bias, every ISA, one and two threads, batches, a NaN; and ResNet-18's first layer
traced from eager."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit import Graph, build_plan
from dlcore.jit.executor import CONV_DIRECT, CONV_GEMM
from test_conv import ref_conv2d

RNG = np.random.default_rng(29)


def _out_hw(x, w, pads):
    t, l, bo, r = pads
    R, S = w.shape[2:]
    return (x.shape[2] + t + bo - R) // 2 + 1, (x.shape[3] + l + r - S) // 2 + 1


def _reference(x, w, b, pads):
    """float64 conv at stride 2: pads (top, left, bottom, right), through test_conv's reference
    (its bottom/right zeros reach as far as out_hw asks)"""
    f64 = (lambda a: None if a is None else a.astype(np.float64))
    return ref_conv2d(f64(x), f64(w), f64(b), (2, 2), pads[:2], out_hw=_out_hw(x, w, pads))


_ACTS = {None: (None, lambda y: y),
         "Relu": ({}, lambda y: np.maximum(y, 0)),
         "Clip": ({"min": 0.0, "max": 6.0}, lambda y: np.clip(y, 0, 6)),
         "Tanh": ({}, np.tanh)}


def _graph(x, w, b, pads, act):
    N = x.shape[0]
    K = w.shape[0]
    attrs = {"strides": (2, 2), "pads": tuple(pads), "dilations": (1, 1), "group": 1}
    if act:
        attrs.update(activation=act, activation_attrs=_ACTS[act][0])
    g = Graph()
    ins = [g.add_input("x", x.shape, x.dtype), g.const(w)] + ([g.const(b)] if b is not None
                                                               else [])
    node = g.add_node("Conv", ins, attrs, [((N, K) + _out_hw(x, w, pads), np.float32)])
    g.outputs = list(node.outputs)
    return g


def _check(x, w, b, pads, act, nthreads):
    p = build_plan(_graph(x, w, b, pads, act), {}, optimize=False)
    assert [s.op for s in p.steps] == [CONV_DIRECT]
    want = _ACTS[act][1](_reference(x, w, b, pads))
    got = p.run([x], nthreads)[0]
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1e-30)
    assert float(np.abs(got - want).max()) <= 1e-5 * scale


# (N, C, K, (H, W), (R, S), pads)
CASES = [
    (1, 3, 64, (224, 224), (7, 7), (3, 3, 3, 3)),    # ResNet-18's first layer
    (2, 3, 17, (37, 54), (7, 7), (3, 3, 3, 3)),      # a block of 16 and 1; rows end mid-tile
    (3, 1, 5, (5, 3), (7, 7), (3, 3, 3, 3)),         # narrower than a vector
    (1, 4, 33, (1, 1), (7, 7), (3, 3, 3, 3)),        # one output from a 1x1 image
    (1, 2, 9, (23, 301), (5, 5), (2, 2, 2, 2)),      # 151 columns: two chunks
    (1, 3, 8, (16, 480), (7, 7), (3, 3, 2, 2)),      # 240 columns, end padding short
    (2, 3, 7, (20, 37), (5, 3), (0, 1, 0, 1)),       # rectangular filter
    (1, 3, 12, (31, 29), (7, 7), (0, 0, 0, 0)),      # no padding
    (1, 2, 6, (18, 19), (7, 7), (6, 6, 6, 6)),       # padding up to the filter's side
    (2, 3, 16, (32, 32), (4, 4), (1, 1, 1, 1)),      # even filter sides
    (1, 3, 20, (16, 17), (2, 2), (0, 0, 0, 0)),      # 2x2 patches
    (1, 4, 11, (15, 33), (1, 1), (0, 0, 0, 0)),      # 1x1 at stride 2
    (1, 3, 32, (19, 21), (3, 3), (2, 2, 2, 2)),      # a 3x3 filter at padding 2
    (1, 1, 3, (9, 10), (6, 5), (5, 0, 0, 4)),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_matches_float64_reference(isa, case, nthreads):
    N, C, K, (H, W), (R, S), pads = case
    x = RNG.standard_normal((N, C, H, W)).astype(np.float32)
    w = RNG.standard_normal((K, C, R, S)).astype(np.float32)
    b = RNG.standard_normal(K).astype(np.float32)
    _check(x, w, b, pads, "Relu", nthreads)


@pytest.mark.parametrize("act", [None, "Relu", "Clip", "Tanh"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("K", [10, 32])
def test_activations_and_no_bias(isa, act, bias, K):
    x = (RNG.standard_normal((2, 3, 19, 23)) * 2).astype(np.float32)
    w = RNG.standard_normal((K, 3, 7, 7)).astype(np.float32) * 0.3
    b = RNG.standard_normal(K).astype(np.float32) if bias else None
    _check(x, w, b, (3, 3, 3, 3), act, 1)


def test_nan_reaches_its_outputs(isa):
    """A NaN input reaches exactly the outputs whose window holds it (ReLU keeps it, as
    eager's does); the padding rows and columns around it add nothing."""
    x = RNG.standard_normal((1, 3, 21, 21)).astype(np.float32)
    x[0, 1, 8, 12] = np.nan
    w = RNG.standard_normal((5, 3, 7, 7)).astype(np.float32)
    p = build_plan(_graph(x, w, None, (3, 3, 3, 3), "Relu"), {}, optimize=False)
    got = p.run([x])[0]
    # output (oh, ow) reads rows 2 oh - 3 .. 2 oh + 3, columns 2 ow - 3 .. 2 ow + 3
    oh, ow = np.arange(11), np.arange(11)
    rows = (2 * oh - 3 <= 8) & (8 <= 2 * oh + 3)
    cols = (2 * ow - 3 <= 12) & (12 <= 2 * ow + 3)
    assert (np.isnan(got) == (rows[:, None] & cols[None, :])[None, None]).all()


def test_out_of_range_keeps_the_product():
    """More input channels, a wider filter or a dilation: the im2col product, as before."""
    for C, R, dil in ((5, 7, 1), (3, 9, 1), (3, 7, 2)):
        x = RNG.standard_normal((1, C, 30, 30)).astype(np.float32)
        w = RNG.standard_normal((8, C, R, R)).astype(np.float32)
        g = _graph(x, w, None, (1, 1, 1, 1), None)
        g.nodes[0].attrs["dilations"] = (dil, dil)
        OH = (30 + 2 - dil * (R - 1) - 1) // 2 + 1
        g.nodes[0].outputs[0].shape = (1, 8, OH, OH)
        p = build_plan(g, {}, optimize=False)
        assert [s.op for s in p.steps] == [CONV_GEMM]


def test_traced_resnet_stem_matches_eager(isa):
    m = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                      nn.ReLU()).eval()
    m[1].running_mean.numpy()[:] = RNG.standard_normal(64).astype(np.float32)
    x = RNG.standard_normal((2, 3, 67, 70)).astype(np.float32)
    p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
    assert CONV_DIRECT in [s.op for s in p.steps]
    with dl.no_grad():
        want = m(dl.tensor(x)).numpy()
    got = p.run([x])[0]
    assert float(np.abs(got - want).max()) <= 1e-5 * float(np.abs(want).max())
