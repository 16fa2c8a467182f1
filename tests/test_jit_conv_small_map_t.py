"""The executor's convolution of a small map as the transposed product col^T W^T after im2col,
with W^T packed once (csrc/plan_conv.c, the CONV_GEMM step with i[20] == 2: ResNet-18's 7x7
layers at stride 2 at batch 1): against a float64 NumPy convolution on odd sizes (1 to 99
positions, output channels on both sides of a register tile, 3x3 and 1x1 at stride 2, 5x5 at
stride 1, dilation, asymmetric padding), every activation path (Relu and ReLU6 in the GEMM
epilogue, another on each strip), with and without bias, one image per product in a batch,
1 and 2 threads, every ISA; and the routing (larger maps, tiny layers and several images per
product keep the usual product)."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit.executor import CONV_GEMM, gemm_columns
from test_conv import ref_conv2d

RNG = np.random.default_rng(31)


def _mode(P, C, K, R):
    """the transposed mode the lowering should pick (8 register tiles of columns, _small_map)"""
    return 2 if P < 8 * gemm_columns() and C * R * R * K >= 4096 else 0


def _check(C, K, size, R, stride, pad, act, bias=True, N=1, nthreads=1, dil=1, mode=None):
    m = nn.Sequential(*[nn.Conv2d(C, K, R, stride, pad, dilation=dil, bias=bias)] +
                      ([act()] if act else [])).eval()
    x = RNG.standard_normal((N, C) + size).astype(np.float32)
    p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
    steps = [s for s in p.steps if s.op == CONV_GEMM]
    conv = m[0]
    w = conv.weight.numpy().astype(np.float64)
    b = conv.bias.numpy().astype(np.float64) if bias else None
    want = ref_conv2d(x.astype(np.float64), w, b, (stride, stride), (pad, pad), (dil, dil))
    if act is nn.ReLU:
        want = np.maximum(want, 0)
    elif act is nn.ReLU6:
        want = np.clip(want, 0, 6)
    elif act is nn.Sigmoid:
        want = 1 / (1 + np.exp(-want))
    if mode is None:
        mode = _mode(want.shape[2] * want.shape[3], C, K, R)
    assert [s.ints[20] for s in steps] == [mode]
    got = p.run([x], nthreads)[0]
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1e-30)
    assert float(np.abs(got - want).max()) <= 1e-5 * scale


# C, K, size, R, stride, pad
CASES = [
    (64, 128, (14, 14), 3, 2, 1),     # ResNet-18 layer4.0.conv1's shape, fewer channels
    (64, 128, (14, 14), 1, 2, 0),     # and its downsample
    (37, 45, (13, 9), 3, 2, 1),       # 7x5 positions, channels off the tiles
    (20, 70, (11, 11), 5, 1, 2),      # 5x5 at stride 1: 121 positions
    (9, 70, (3, 3), 3, 2, 1),         # 2x2 positions
    (30, 33, (1, 1), 3, 2, 1),        # one position
    (16, 300, (19, 21), 3, 2, 0),     # 9x10 positions
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("act", [None, nn.ReLU, nn.ReLU6, nn.Sigmoid])
def test_matches_float64_reference(isa, case, act):
    C, K, size, R, stride, pad = case
    _check(C, K, size, R, stride, pad, act)


def test_bias_threads_batch_dilation(isa):
    _check(48, 64, (9, 9), 3, 2, 1, nn.ReLU, bias=False, nthreads=2)
    _check(40, 50, (15, 13), 3, 1, 2, None, dil=2, nthreads=2)
    # (300*9 + 600) x 49 floats: one image per product, both images through it
    _check(300, 600, (14, 14), 3, 2, 1, nn.ReLU, N=2, nthreads=2, mode=_mode(49, 300, 600, 3))


def test_routing():
    """Tiny layers (C R S K under 4096) and large maps keep the usual product; a batch of
    small images that fit side by side takes several images per product instead."""
    _check(5, 30, (9, 9), 3, 2, 1, None, mode=0)             # 1350 weights
    _check(16, 32, (40, 40), 3, 2, 1, None, mode=0)          # 400 positions
    _check(32, 64, (14, 14), 3, 2, 1, None, N=4, mode=0)     # 4 images per product
