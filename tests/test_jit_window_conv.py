"""The executor's window kernel for convolutions with one filter per output plane (plan_dw_simd.c):
depthwise with a channel multiplier, and a one-channel input (LeNet's first layer), against
eager on odd sizes, every stride and padding used, each fused activation, every ISA."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit.executor import CONV
from dlcore.ops.conv import conv_algorithm
from dlcore.runtime import get_isa, set_isa, supported_isas

RNG = np.random.default_rng(3)


def _check(m, x):
    m.eval()
    # a forced algorithm keeps the plan on this kernel (auto takes the direct convolution for
    # small stride-1 maps: test_jit_conv_direct.py)
    with conv_algorithm("im2col"):
        p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
    assert any(s.op == CONV for s in p.steps)
    with dl.no_grad():
        want = m(dl.tensor(x)).numpy()
    got = p.run([x])[0]
    scale = max(float(np.abs(want).max()), 1e-30)
    assert float(np.abs(got.astype(np.float64) - want).max()) <= 1e-5 * scale


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("k,stride,pad,size", [
    (5, 1, 2, (28, 28)), (5, 1, 0, (13, 17)), (3, 2, 1, (9, 40)), (3, 1, 1, (70, 5)),
    (1, 1, 0, (7, 7)), (7, (2, 1), 3, (15, 16))])
@pytest.mark.parametrize("act", [None, nn.ReLU, nn.ReLU6, nn.Tanh])
def test_one_input_channel(isa, k, stride, pad, size, act):
    prev = get_isa()
    set_isa(isa)
    try:
        m = nn.Sequential(*[nn.Conv2d(1, 6, k, stride, pad)] + ([act()] if act else []))
        _check(m, RNG.standard_normal((3, 1) + size).astype(np.float32))
    finally:
        set_isa(prev)


@pytest.mark.parametrize("mult,stride,size", [(2, 1, (33, 35)), (3, 2, (17, 9)), (2, 1, (6, 6))])
def test_depthwise_with_channel_multiplier(mult, stride, size):
    m = nn.Sequential(nn.Conv2d(4, 4 * mult, 3, stride, 1, groups=4), nn.ReLU6())
    _check(m, RNG.standard_normal((2, 4) + size).astype(np.float32))


def test_one_channel_without_bias():
    m = nn.Conv2d(1, 5, 3, 1, 1, bias=False)
    _check(m, RNG.standard_normal((1, 1, 40, 41)).astype(np.float32))
