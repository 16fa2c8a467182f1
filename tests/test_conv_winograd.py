"""Winograd convolution (csrc/winograd.c): F(2x2, 3x3) and F(4x4, 3x3), forward and input
gradient, against a float64 NumPy reference on odd sizes, paddings 0-3, batch 1 and odd,
odd channel counts, every ISA path and thread count; its float32 error; the algorithm choice
and its override; non-finite inputs."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from dlcore.ops.conv import (conv2d_algorithm, conv_algorithm, get_conv_algorithm,
                             set_conv_algorithm)

TILES = ("winograd2x2", "winograd4x4")


def ref_conv3x3(x, w, b, pad):
    """y[n, k] = sum_{c, r, s} w[k, c, r, s] x[n, c, i - pad + r, j - pad + s] in float64."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    N, C, H, W = x.shape
    OH, OW = H + 2 * pad - 2, W + 2 * pad - 2
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    y = np.zeros((N, w.shape[0], OH, OW))
    for r in range(3):
        for s in range(3):
            y += np.einsum("nchw,kc->nkhw", xp[:, :, r:r + OH, s:s + OW], w[:, :, r, s])
    return y if b is None else y + b.astype(np.float64)[None, :, None, None]


def ref_input_grad(gy, w, pad, H, W):
    """The adjoint of ref_conv3x3 in x: every output gradient scattered back over its taps."""
    gy, w = gy.astype(np.float64), w.astype(np.float64)
    N, K, OH, OW = gy.shape
    gxp = np.zeros((N, w.shape[1], H + 2 * pad, W + 2 * pad))
    for r in range(3):
        for s in range(3):
            gxp[:, :, r:r + OH, s:s + OW] += np.einsum("nkhw,kc->nchw", gy, w[:, :, r, s])
    return gxp[:, :, pad:pad + H, pad:pad + W]


def rel_err(got, want):
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


# (N, C, H, W, K, pad): odd maps, maps smaller than a tile, channel counts around the GEMM
# panels (MR = 14 on AVX-512) and above one GEMM pass (256 channels), batch 1 and odd
CASES = [
    (1, 2, 1, 1, 1, 1),
    (2, 3, 7, 9, 5, 1),
    (3, 17, 13, 10, 19, 2),
    (1, 8, 5, 6, 15, 0),
    (3, 5, 11, 4, 29, 1),
    (1, 300, 6, 7, 3, 1),
    (2, 16, 17, 19, 33, 3),
    # few tiles beside many filters, gradients recorded (no filter cache): winograd.c's panel
    # mode, the first large enough for two threads to split its channels and panels
    (4, 70, 5, 3, 61, 1),
    (1, 40, 2, 2, 33, 1),
]


@pytest.mark.parametrize("algo", TILES)
@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_forward_and_input_grad_match_reference(isa, threads, algo, case, rng):
    N, C, H, W, K, pad = case
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((K, C, 3, 3)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    xt, wt = dl.tensor(x, requires_grad=True), dl.tensor(w)
    with conv_algorithm(algo):
        assert conv2d_algorithm(x.shape, w.shape, 1, pad) == algo
        assert conv2d_algorithm(x.shape, w.shape, 1, pad, input_grad=True) == algo
        y = F.conv2d(xt, wt, dl.tensor(b), 1, pad)
        gy = rng.standard_normal(y.shape).astype(np.float32)
        y.backward(dl.tensor(gy))
    assert rel_err(y.numpy(), ref_conv3x3(x, w, b, pad)) < 1e-5
    assert rel_err(xt.grad.numpy(), ref_input_grad(gy, w, pad, H, W)) < 1e-5


@pytest.mark.parametrize("algo", TILES)
def test_conv_transpose2d_stride1_runs_winograd_with_its_bias(isa, algo, rng):
    """conv_transpose2d's forward is conv2d's input gradient with a bias to start from."""
    x = rng.standard_normal((2, 9, 8, 11)).astype(np.float32)
    w = rng.standard_normal((9, 6, 3, 3)).astype(np.float32)   # (C_in, C_out, 3, 3)
    b = rng.standard_normal(6).astype(np.float32)
    with conv_algorithm(algo):
        y = F.conv_transpose2d(dl.tensor(x), dl.tensor(w), dl.tensor(b), 1, 1).numpy()
    # the transposed convolution is the input gradient of conv2d with weight w (K=9, C=6)
    want = ref_input_grad(x, w, 1, 8, 11) + b[None, :, None, None]
    assert rel_err(y, want) < 1e-5


def test_float32_error_against_float64():
    """The error budget the docs state: F(4x4) within 1e-4 of max |y| (it measures ~1e-5),
    F(2x2) within 1e-5, on a ResNet-sized layer with 256 input channels."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 256, 14, 14)).astype(np.float32)
    w = (rng.standard_normal((64, 256, 3, 3)) * 0.05).astype(np.float32)
    want = ref_conv3x3(x, w, None, 1)
    errs = {}
    for algo in TILES + ("im2col",):
        with conv_algorithm(algo):
            errs[algo] = rel_err(F.conv2d(dl.tensor(x), dl.tensor(w), None, 1, 1).numpy(), want)
    assert errs["winograd4x4"] < 1e-4, errs
    assert errs["winograd2x2"] < 1e-5, errs
    assert errs["im2col"] < 1e-5, errs


def test_auto_choice_follows_the_shape():
    with conv_algorithm("auto"):
        # many channels and tiles: Winograd; few input channels, strides, 1x1, groups: im2col
        assert conv2d_algorithm((32, 64, 56, 56), (64, 64, 3, 3), 1, 1).startswith("winograd")
        assert conv2d_algorithm((8, 256, 14, 14), (256, 256, 3, 3), 1, 1).startswith("winograd")
        assert conv2d_algorithm((32, 3, 32, 32), (32, 3, 3, 3), 1, 1) == "im2col"
        assert conv2d_algorithm((8, 64, 56, 56), (64, 64, 3, 3), 2, 1) == "im2col"
        assert conv2d_algorithm((8, 64, 56, 56), (64, 64, 3, 3), 1, 2, dilation=2) == "im2col"
        assert conv2d_algorithm((8, 64, 56, 56), (64, 32, 3, 3), 1, 1, groups=2) == "im2col"
        assert conv2d_algorithm((8, 64, 56, 56), (64, 64, 1, 1), 1, 0) == "im2col"
    with conv_algorithm("im2col"):
        assert conv2d_algorithm((32, 64, 56, 56), (64, 64, 3, 3), 1, 1) == "im2col"
    with conv_algorithm("winograd"):
        assert conv2d_algorithm((8, 64, 56, 56), (64, 64, 3, 3), 2, 1) == "im2col"


def test_algorithm_setting_round_trips_and_rejects_bad_names():
    prev = get_conv_algorithm()
    assert set_conv_algorithm("winograd4x4") == prev
    assert get_conv_algorithm() == "winograd4x4"
    set_conv_algorithm(prev)
    with pytest.raises(ValueError, match="conv_algo: name must be one of"):
        set_conv_algorithm("fft")
    assert get_conv_algorithm() == prev


@pytest.mark.parametrize("algo", TILES)
def test_nan_and_inf_stay_where_they_belong(algo, rng):
    """A tile's transforms mix its values, so a non-finite input takes the im2col path: an
    output whose window misses the bad pixel stays finite and exact."""
    x = rng.standard_normal((1, 8, 12, 12)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    want = ref_conv3x3(np.nan_to_num(x), w, None, 1)
    x[0, 3, 5, 6] = np.inf
    x[0, 1, 9, 2] = np.nan
    with conv_algorithm(algo):
        y = F.conv2d(dl.tensor(x), dl.tensor(w), None, 1, 1).numpy()
    touched = np.zeros((12, 12), bool)
    touched[4:7, 5:8] = touched[8:11, 1:4] = True
    assert not np.isfinite(y[:, :, touched]).any()
    np.testing.assert_allclose(y[:, :, ~touched], want[:, :, ~touched], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("algo", TILES)
@pytest.mark.parametrize("shape,record", [((2, 6, 9, 9, 5), False), ((4, 70, 5, 3, 61), True)],
                         ids=["cached", "panel-mode"])
def test_nonfinite_weights_fall_back_to_im2col(isa, threads, algo, shape, record, rng):
    """Also where the filters are transformed panel by panel (recording gradients, few
    tiles): the bad weight is found before any output is written."""
    N, C, H, W, K = shape
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((K, C, 3, 3)).astype(np.float32)
    w[2, 3, 1, 1] = np.inf
    with conv_algorithm("im2col"):
        want = F.conv2d(dl.tensor(x), dl.tensor(w), None, 1, 1).numpy()
    with conv_algorithm(algo):
        got = F.conv2d(dl.tensor(x), dl.tensor(w, requires_grad=record), None, 1, 1).numpy()
    np.testing.assert_array_equal(got, want)
    assert np.isfinite(np.delete(got, 2, axis=1)).all()


def test_input_grad_choice_prices_its_own_im2col_path(isa, threads, rng):
    """The input gradient's im2col path (W^T gy through a transposed weight pack, then col2im
    over the input channels) costs more than the forward's: on AVX2 a 2x128x14x14 layer keeps
    im2col for its (uncached) forward but takes Winograd for its input gradient; whatever
    each ISA picks, the gradient matches the reference."""
    x = rng.standard_normal((2, 128, 14, 14)).astype(np.float32)
    w = (rng.standard_normal((128, 128, 3, 3)) * 0.05).astype(np.float32)
    with conv_algorithm("auto"):
        if isa == "avx2":
            assert conv2d_algorithm(x.shape, w.shape, 1, 1) == "im2col"
            assert conv2d_algorithm(x.shape, w.shape, 1, 1, input_grad=True).startswith("winograd")
        xt = dl.tensor(x, requires_grad=True)
        y = F.conv2d(xt, dl.tensor(w), None, 1, 1)
        gy = rng.standard_normal(y.shape).astype(np.float32)
        y.backward(dl.tensor(gy))
    assert rel_err(xt.grad.numpy(), ref_input_grad(gy, w, 1, 14, 14)) < 1e-4
