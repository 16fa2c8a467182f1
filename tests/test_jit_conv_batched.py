"""The executor's convolution product over several images' columns at once (plan_conv.c,
images per product > 1): small images at a batch, against eager, with each epilogue."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit.executor import CONV_GEMM
from dlcore.ops.conv import conv_algorithm

RNG = np.random.default_rng(5)


def _plan(m, x):
    # a forced algorithm keeps the plan on im2col products (auto takes the direct convolution
    # for small stride-1 maps: test_jit_conv_direct.py)
    with conv_algorithm("im2col"):
        return dl.jit.trace(m, [x], dynamic_axes=False).plan(x)


def _imgs(plan):
    return [s.ints[19] for s in plan.steps if s.op == CONV_GEMM]


@pytest.mark.parametrize("k,stride,pad,act", [
    (1, 1, 0, nn.ReLU6), (3, 2, 1, nn.ReLU), (5, 1, 0, None), (1, 1, 0, nn.Sigmoid),
    (3, 1, 1, nn.GELU)])
@pytest.mark.parametrize("N", [2, 7])
def test_several_images_per_product_match_eager(k, stride, pad, act, N):
    layers = [nn.Conv2d(6, 11, k, stride, pad)] + ([act()] if act else [])
    m = nn.Sequential(*layers).eval()
    x = RNG.standard_normal((N, 6, 9, 9)).astype(np.float32)
    p = _plan(m, x)
    # 81 columns per image: every image in one product, except a pointwise conv's (its
    # input is read in place, one product per image)
    assert _imgs(p) == [1 if k == 1 and stride == 1 and pad == 0 else N]
    with dl.no_grad():
        want = m(dl.tensor(x)).numpy()
    got = p.run([x])[0]
    scale = float(np.abs(want).max())
    assert float(np.abs(got - want).max()) <= 1e-5 * scale


def test_last_group_of_images_is_partial():
    """More images than one product takes: groups of full width, then a partial one."""
    m = nn.Sequential(nn.Conv2d(3, 5, 3, 1, 1), nn.ReLU6()).eval()
    x = RNG.standard_normal((11, 3, 12, 12)).astype(np.float32)  # 144 columns: 7 per product
    p = _plan(m, x)
    assert _imgs(p) == [7]
    with dl.no_grad():
        want = m(dl.tensor(x)).numpy()
    np.testing.assert_allclose(p.run([x])[0], want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
