"""The executor's pointwise conv on small maps as the transposed product x^T W^T with the
weights packed once (csrc/plan_pointwise.c): against eager on maps of 1 to 255 positions,
output channel counts on both sides of a register tile, every activation path (Relu in the
GEMM epilogue, ReLU6 and others on each strip), with and without bias, several images per
product and a partial last group, at 1 and 2 threads, on every ISA the CPU has."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit.executor import CONV_GEMM
from dlcore.runtime import get_isa, set_isa, supported_isas

RNG = np.random.default_rng(23)


def _check(C, K, size, act, bias=True, N=1, nthreads=1, transposed=1):
    m = nn.Sequential(*[nn.Conv2d(C, K, 1, bias=bias)] + ([act()] if act else [])).eval()
    x = RNG.standard_normal((N, C) + size).astype(np.float32)
    p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
    steps = [s for s in p.steps if s.op == CONV_GEMM]
    assert [s.ints[20] for s in steps] == [transposed]
    with dl.no_grad():
        want = m(dl.tensor(x)).numpy()
    got = p.run([x], nthreads)[0]
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1e-30)
    assert float(np.abs(got - want).max()) <= 1e-5 * scale
    return steps[0]


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("C,K,size", [(160, 96, (7, 7)), (67, 131, (5, 7)), (320, 17, (3, 3)),
                                      (64, 64, (1, 1)), (33, 200, (9, 7)), (129, 48, (2, 1))])
@pytest.mark.parametrize("act", [None, nn.ReLU, nn.ReLU6, nn.Sigmoid])
def test_small_map_pointwise_matches_eager(isa, C, K, size, act):
    prev = get_isa()
    set_isa(isa)
    try:
        _check(C, K, size, act)
    finally:
        set_isa(prev)


@pytest.mark.parametrize("isa", supported_isas())
def test_small_map_pointwise_images_groups_bias_threads(isa):
    prev = get_isa()
    set_isa(isa)
    try:
        # (1000 + 512) x 49 floats per image: 3 images per product, 7 images: 3 + 3 + 1
        s = _check(1000, 512, (7, 7), nn.ReLU6, N=7)
        assert s.ints[19] == 3
        _check(1000, 512, (7, 7), nn.ReLU6, N=7, nthreads=2)
        _check(96, 160, (7, 7), nn.ReLU, bias=False, N=5, nthreads=2)
        _check(96, 160, (7, 7), None, bias=False, N=2)
    finally:
        set_isa(prev)


@pytest.mark.parametrize("isa", supported_isas())
def test_fourteen_by_fourteen_orientation_follows_the_register_tile(isa):
    """MobileNetV2's 14x14 layers (196 positions): transposed below 8 register tiles of the
    GEMM's columns (AVX-512: 8 x 32, where 196 are six tiles of 32 and one of 4), the usual
    product from there (AVX2: 8 x 16); an odd channel count, several images, two threads."""
    from dlcore import _C
    prev = get_isa()
    set_isa(isa)
    try:
        small = 8 * _C.plan_gemm_columns()
        _check(64, 384, (14, 14), nn.ReLU6, transposed=int(196 < small))
        _check(384, 65, (14, 14), None, N=3, nthreads=2, transposed=int(196 < small))
        _check(45, 96, (15, 17), nn.ReLU, bias=False, N=2,                # 255 positions
               transposed=int(255 < small))
        _check(45, 96, (11, 11), nn.ReLU6, N=2, transposed=int(121 < small))
    finally:
        set_isa(prev)


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("C,K,size", [(8, 520, (7, 7)), (17, 256, (3, 5)), (96, 72, (9, 9)),
                                      (24, 200, (8, 8)), (520, 9, (5, 5))])
def test_register_transpose_edges(isa, C, K, size):
    """The transposes in and out in whole L x L register blocks (8 x 8 on AVX2, 16 x 16 on
    AVX-512) and scalar edges: channel and position counts that are and are not multiples of
    8 and 16, fewer positions than one block."""
    from dlcore import _C
    prev = get_isa()
    set_isa(isa)
    try:
        P = size[0] * size[1]
        _check(C, K, size, nn.ReLU6, N=2, transposed=int(P < 8 * _C.plan_gemm_columns()))
    finally:
        set_isa(prev)


def test_large_maps_and_tiny_layers_keep_the_usual_product():
    _check(64, 96, (16, 16), nn.ReLU6, transposed=0)   # 256 positions
    _check(33, 20, (3, 3), nn.ReLU, transposed=0)      # 660 weights: transposes cost more
