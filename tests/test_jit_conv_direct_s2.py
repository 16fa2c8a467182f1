"""The executor's direct 3x3 stride-2 convolution on a few input channels
(csrc/plan_direct_s2_simd.c, the CONV_DIRECT step with stride 2: a first layer on an image):
against a float64 NumPy convolution on odd sizes (maps narrower than a vector and rows that end
inside one, odd and even sides, output channels that leave a partial block of the packed
weights, 1 to 4 input channels, padding 0 or 1 on each side), each fused or following
activation, with and without bias, every ISA, one and two threads, batches, a NaN; and
MobileNetV2's first layer traced from eager."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit import Graph, build_plan
from dlcore.jit.executor import CONV_DIRECT
from test_conv import ref_conv2d

RNG = np.random.default_rng(23)


def _reference(x, w, b, pads):
    """float64 conv, 3x3, stride 2: pads (top, left, bottom, right), through test_conv's
    reference (its bottom/right zeros reach as far as out_hw asks)"""
    t, l, bo, r = pads
    out_hw = ((x.shape[2] + t + bo - 3) // 2 + 1, (x.shape[3] + l + r - 3) // 2 + 1)
    f64 = (lambda a: None if a is None else a.astype(np.float64))
    return ref_conv2d(f64(x), f64(w), f64(b), (2, 2), (t, l), out_hw=out_hw)


_ACTS = {None: (None, lambda y: y),
         "Relu": ({}, lambda y: np.maximum(y, 0)),
         "Clip": ({"min": 0.0, "max": 6.0}, lambda y: np.clip(y, 0, 6)),
         "Tanh": ({}, np.tanh)}


def _graph(x, w, b, pads, act):
    N, C, H, W = x.shape
    K = w.shape[0]
    OH = (H + pads[0] + pads[2] - 3) // 2 + 1
    OW = (W + pads[1] + pads[3] - 3) // 2 + 1
    attrs = {"strides": (2, 2), "pads": tuple(pads), "dilations": (1, 1), "group": 1}
    if act:
        attrs.update(activation=act, activation_attrs=_ACTS[act][0])
    g = Graph()
    ins = [g.add_input("x", x.shape, x.dtype), g.const(w)] + ([g.const(b)] if b is not None
                                                               else [])
    node = g.add_node("Conv", ins, attrs, [((N, K, OH, OW), np.float32)])
    g.outputs = list(node.outputs)
    return g


def _check(x, w, b, pads, act, nthreads):
    p = build_plan(_graph(x, w, b, pads, act), {}, optimize=False)
    assert [s.op for s in p.steps] == [CONV_DIRECT]
    want = _ACTS[act][1](_reference(x.astype(np.float64), w.astype(np.float64),
                                    None if b is None else b.astype(np.float64), pads))
    got = p.run([x], nthreads)[0]
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1e-30)
    assert float(np.abs(got - want).max()) <= 1e-5 * scale


# (N, C, K, (H, W), pads)
CASES = [
    (1, 3, 32, (224, 224), (1, 1, 1, 1)),    # MobileNetV2's first layer
    (2, 3, 17, (37, 54), (1, 1, 1, 1)),      # a block of 16 and 1; rows end mid-vector
    (3, 1, 5, (5, 3), (1, 1, 1, 1)),         # narrower than a vector
    (1, 4, 33, (1, 1), (1, 1, 1, 1)),        # one output from a 1x1 image
    (2, 2, 16, (17, 33), (1, 1, 1, 1)),      # odd sides: the last window reaches the padding
    (1, 3, 7, (12, 34), (1, 1, 0, 0)),       # even sides, end padding dropped
    (1, 3, 24, (9, 64), (1, 1, 1, 0)),       # 32 outputs per row: two whole vectors
    (1, 3, 32, (225, 225), (0, 0, 0, 0)),    # EfficientNet-Lite0's, after its explicit Pad
    (2, 2, 9, (20, 37), (0, 1, 1, 0)),       # mixed: no top padding, padding on the left
    (1, 1, 3, (3, 4), (1, 0, 0, 1)),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_matches_float64_reference(isa, case, nthreads):
    N, C, K, (H, W), pads = case
    x = RNG.standard_normal((N, C, H, W)).astype(np.float32)
    w = RNG.standard_normal((K, C, 3, 3)).astype(np.float32)
    b = RNG.standard_normal(K).astype(np.float32)
    _check(x, w, b, pads, "Clip", nthreads)


@pytest.mark.parametrize("act", [None, "Relu", "Clip", "Tanh"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("K", [10, 32])
def test_activations_and_no_bias(isa, act, bias, K):
    x = (RNG.standard_normal((2, 3, 19, 23)) * 2).astype(np.float32)
    w = RNG.standard_normal((K, 3, 3, 3)).astype(np.float32)
    b = RNG.standard_normal(K).astype(np.float32) if bias else None
    _check(x, w, b, (1, 1, 1, 1), act, 1)


def test_nan_reaches_its_outputs_through_clip(isa):
    """ReLU6 keeps a NaN (as eager's does): the outputs whose window holds it are NaN, the rest
    are finite."""
    x = RNG.standard_normal((1, 3, 11, 11)).astype(np.float32)
    x[0, 2, 4, 6] = np.nan
    w = RNG.standard_normal((5, 3, 3, 3)).astype(np.float32)
    p = build_plan(_graph(x, w, None, (1, 1, 1, 1), "Clip"), {}, optimize=False)
    got = p.run([x])[0]
    nan = np.zeros((6, 6), bool)
    nan[2, 3] = True    # the one output whose window (rows 3-5, columns 5-7) holds it
    assert (np.isnan(got) == nan[None, None]).all()


def test_more_channels_keep_the_product():
    """A stride-2 3x3 conv on many input channels stays an im2col product (its depth pays)."""
    x = RNG.standard_normal((1, 16, 12, 12)).astype(np.float32)
    w = RNG.standard_normal((8, 16, 3, 3)).astype(np.float32)
    p = build_plan(_graph(x, w, None, (1, 1, 1, 1), None), {}, optimize=False)
    assert CONV_DIRECT not in [s.op for s in p.steps]


def test_traced_first_layer_matches_eager(isa):
    m = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32),
                      nn.ReLU6()).eval()
    m[1].running_mean.numpy()[:] = RNG.standard_normal(32).astype(np.float32)
    x = RNG.standard_normal((2, 3, 65, 66)).astype(np.float32)
    p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
    assert CONV_DIRECT in [s.op for s in p.steps]
    with dl.no_grad():
        want = m(dl.tensor(x)).numpy()
    got = p.run([x])[0]
    assert float(np.abs(got - want).max()) <= 1e-5 * float(np.abs(want).max())
