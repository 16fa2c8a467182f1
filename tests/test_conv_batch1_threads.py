"""Batch-1 convolution forwards that share their map between the threads (csrc/conv_fwd_impl.h's
split_tile: a map that fits one column tile is cut into tiles the threads take, each with its
own im2col and a one-thread GEMM; csrc/winograd.c: inference with a cached filter transform on
few tiles takes the panel split), against a float64 NumPy reference on odd sizes, padding,
stride, dilation and groups, every ISA path and one and two threads; and the filter cache's
weight comparison, split over the threads for large weights, still sees a change anywhere."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from dlcore.ops.conv import conv_algorithm, winograd_cache_info
from test_conv import ref_conv2d as _ref_conv2d


def ref_conv2d(x, w, b, stride, pad, dil, groups):
    """test_conv's reference on the arrays in float64."""
    f64 = (lambda a: None if a is None else a.astype(np.float64))
    return _ref_conv2d(f64(x), f64(w), f64(b), stride, pad, dil, groups)


def rel_err(got, want):
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


# (C, H, W, K, R, S, stride, pad, dilation, groups): each above the two-thread grain (2^21
# multiply-adds) with a map that fits one column tile, so that at two threads the forward cuts
# it into tiles; odd maps whose tiles end inside a 16-column block, K off the GEMM panels
CASES = [
    (32, 57, 55, 45, 3, 3, (2, 2), (1, 1), (1, 1), 1),     # a ResNet stride-2 layer, odd map
    (128, 29, 29, 131, 1, 1, (2, 2), (0, 0), (1, 1), 1),   # its 1x1 stride-2 shortcut
    (96, 21, 19, 70, 1, 1, (1, 1), (0, 0), (1, 1), 1),     # pointwise: x read in place
    (64, 15, 15, 50, 3, 3, (1, 1), (2, 2), (2, 2), 1),     # dilated: im2col in channel chunks
    (80, 41, 37, 72, 3, 2, (1, 2), (1, 0), (1, 1), 4),     # grouped, uneven stride
    (3, 113, 97, 29, 7, 7, (2, 2), (3, 3), (1, 1), 1),     # a stem: few channels, large map
    (256, 7, 7, 130, 3, 3, (2, 2), (1, 1), (1, 1), 1),     # 16 outputs: fewer than 2 x 16
]


@pytest.mark.parametrize("case", CASES)
def test_batch1_forward_matches_reference(isa, threads, case, rng):
    C, H, W, K, R, S, stride, pad, dil, groups = case
    x = rng.standard_normal((1, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((K, C // groups, R, S)) / np.sqrt(C // groups * R * S)).astype(
        np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    want = ref_conv2d(x, w, b, stride, pad, dil, groups)
    with conv_algorithm("im2col"), dl.no_grad():
        got = F.conv2d(dl.tensor(x), dl.tensor(w), dl.tensor(b), stride, pad, dil,
                       groups).numpy()
    assert got.shape == want.shape
    assert rel_err(got, want) < 1e-5


def test_batch1_forward_with_gradient_matches_one_thread(isa, rng):
    """The split forward under autograd, and its input gradient, against the one-thread run."""
    x = rng.standard_normal((1, 24, 33, 35)).astype(np.float32)
    w = rng.standard_normal((40, 24, 3, 3)).astype(np.float32)
    outs = []
    for nt in (1, 2):
        with dl.num_threads(nt), conv_algorithm("im2col"):
            xt = dl.tensor(x, requires_grad=True)
            y = F.conv2d(xt, dl.tensor(w), None, 2, 1)
            y.square().sum().backward()
            outs.append((y.numpy(), xt.grad.numpy()))
    want = ref_conv2d(x, w, None, (2, 2), (1, 1), (1, 1), 1)
    for y, gx in outs:
        assert rel_err(y, want) < 1e-5
    assert rel_err(outs[1][0], outs[0][0]) < 1e-6
    assert rel_err(outs[1][1], outs[0][1]) < 1e-5


@pytest.fixture
def empty_cache():
    winograd_cache_info(clear=True)
    yield
    winograd_cache_info(clear=True)


# (C, H, W, K): few tiles beside many filters (the panel split once the transform is cached),
# K off the GEMM panels, odd maps
WINO_CASES = [(64, 7, 7, 75), (40, 13, 11, 47), (129, 5, 9, 50)]


@pytest.mark.parametrize("algo", ("winograd2x2", "winograd4x4"))
@pytest.mark.parametrize("case", WINO_CASES)
def test_cached_winograd_batch1_matches_reference(isa, threads, algo, case, rng, empty_cache):
    C, H, W, K = case
    x = rng.standard_normal((1, C, H, W)).astype(np.float32)
    w = dl.tensor((rng.standard_normal((K, C, 3, 3)) / np.sqrt(9 * C)).astype(np.float32))
    b = rng.standard_normal(K).astype(np.float32)
    want = ref_conv2d(x, w.numpy(), b, (1, 1), (1, 1), (1, 1), 1)
    with conv_algorithm(algo), dl.no_grad():
        outs = [F.conv2d(dl.tensor(x), w, dl.tensor(b), 1, 1).numpy() for _ in range(3)]
    info = winograd_cache_info()
    assert info["hits"] == 2 and info["misses"] == 1, info
    for y in outs:
        assert rel_err(y, want) < (1e-5 if algo == "winograd2x2" else 1e-4)
    np.testing.assert_array_equal(outs[2], outs[1])


@pytest.mark.parametrize("where", ("first", "middle", "last"))
def test_cache_sees_a_change_in_any_piece_of_large_weights(threads, where, rng, empty_cache):
    """Weights over twice the comparison grain (2^17 floats) compare in pieces, one per
    thread: a one-value change in any piece must give the new weights' output."""
    C, K = 192, 160                       # 276,480 weights
    x = rng.standard_normal((1, C, 6, 6)).astype(np.float32)
    w = dl.tensor((rng.standard_normal((K, C, 3, 3)) / np.sqrt(9 * C)).astype(np.float32))
    with conv_algorithm("winograd2x2"), dl.no_grad():
        F.conv2d(dl.tensor(x), w, None, 1, 1)
        F.conv2d(dl.tensor(x), w, None, 1, 1)
        assert winograd_cache_info()["hits"] == 1
        flat = w.numpy().reshape(-1)
        i = {"first": 0, "middle": flat.size // 2 + 7, "last": flat.size - 1}[where]
        flat[i] += 3.0
        got = F.conv2d(dl.tensor(x), w, None, 1, 1).numpy()
    assert winograd_cache_info()["hits"] == 1
    want = ref_conv2d(x, w.numpy(), None, (1, 1), (1, 1), (1, 1), 1)
    assert rel_err(got, want) < 1e-5
