"""Winograd weight gradient (csrc/winograd_wgrad.c): F(2x2, 3x3) and F(4x4, 3x3) against a
float64 NumPy reference on odd sizes, paddings 0-2, batch 1 and odd, odd channel counts, every
ISA path and 1 and 2 threads; its float32 error; the choice and its override; non-finite
operands; repeatability; parity with torch through autograd."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from dlcore.ops.conv import conv2d_algorithm, conv_algorithm

TILES = ("winograd2x2", "winograd4x4")


def ref_weight_grad(x, gy, pad):
    """gw[k, c, r, s] = sum_{n, i, j} gy[n, k, i, j] x[n, c, i - pad + r, j - pad + s], fp64."""
    x, gy = x.astype(np.float64), gy.astype(np.float64)
    OH, OW = gy.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    gw = np.zeros((gy.shape[1], x.shape[1], 3, 3))
    for r in range(3):
        for s in range(3):
            gw[:, :, r, s] = np.einsum("nkhw,nchw->kc", gy, xp[:, :, r:r + OH, s:s + OW])
    return gw


def rel_err(got, want):
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def weight_grad(x, gy, pad, algo, with_bias=False):
    """conv2d's weight (and bias) gradient for output gradient gy, through autograd."""
    K = gy.shape[1]
    w = dl.tensor(np.zeros((K, x.shape[1], 3, 3), np.float32), requires_grad=True)
    b = dl.tensor(np.zeros(K, np.float32), requires_grad=True) if with_bias else None
    with conv_algorithm(algo):
        y = F.conv2d(dl.tensor(x), w, b, 1, pad)
        y.backward(dl.tensor(gy))
    return (w.grad.numpy(), b.grad.numpy()) if with_bias else w.grad.numpy()


# (N, C, H, W, K, pad): maps smaller than a tile, odd maps and channel counts (around the
# GEMM panels: MR 14 / NR 32 on AVX-512), one channel, batch 1 and odd, more tiles than one
# block (so the per-block accumulation and the two threads' shares both run)
CASES = [
    (1, 1, 1, 1, 1, 1),
    (2, 3, 7, 9, 5, 1),
    (3, 17, 13, 10, 19, 0),
    (1, 8, 5, 6, 15, 2),
    (3, 5, 11, 4, 29, 1),
    (1, 40, 6, 7, 3, 1),
    (2, 16, 17, 19, 33, 1),
    (5, 9, 30, 27, 7, 0),
]


@pytest.mark.parametrize("algo", TILES)
@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_weight_grad_matches_reference(isa, threads, algo, case, rng):
    N, C, H, W, K, pad = case
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    gy = rng.standard_normal((N, K, H + 2 * pad - 2, W + 2 * pad - 2)).astype(np.float32)
    with conv_algorithm(algo):
        assert conv2d_algorithm(x.shape, (K, C, 3, 3), 1, pad, weight_grad=True) == algo
    gw, gb = weight_grad(x, gy, pad, algo, with_bias=True)
    assert rel_err(gw, ref_weight_grad(x, gy, pad)) < 2e-5
    np.testing.assert_allclose(gb, gy.astype(np.float64).sum((0, 2, 3)), rtol=1e-5, atol=1e-4)


def test_float32_error_against_float64():
    """The stated budget: within 1e-4 of max |gw| for both tile sizes (measured here: F(2x2)
    ~5e-7, F(4x4) ~5e-6, im2col ~3e-7) on a layer whose sums run over 8 x 28 x 28 pixels."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 32, 28, 28)).astype(np.float32)
    gy = rng.standard_normal((8, 48, 28, 28)).astype(np.float32)
    want = ref_weight_grad(x, gy, 1)
    errs = {a: rel_err(weight_grad(x, gy, 1, a), want) for a in TILES + ("im2col",)}
    assert errs["winograd4x4"] < 1e-4, errs
    assert errs["winograd2x2"] < 1e-5, errs
    assert errs["im2col"] < 1e-5, errs


def test_repeatable_bit_for_bit(threads, rng):
    """Threads sum fixed shares of the tiles: the same call gives the same bits."""
    x = rng.standard_normal((4, 24, 19, 21)).astype(np.float32)
    gy = rng.standard_normal((4, 20, 19, 21)).astype(np.float32)
    for algo in TILES:
        first = weight_grad(x, gy, 1, algo)
        np.testing.assert_array_equal(weight_grad(x, gy, 1, algo), first)


def test_auto_choice_follows_the_shape():
    with conv_algorithm("auto"):
        wg = dict(weight_grad=True)
        assert conv2d_algorithm((32, 64, 56, 56), (64, 64, 3, 3), 1, 1, **wg) == "winograd4x4"
        assert conv2d_algorithm((8, 128, 28, 28), (128, 128, 3, 3), 1, 1, **wg) \
            .startswith("winograd")
        # the first layer (3 input channels) stays on im2col, as do strides, groups, 1x1
        assert conv2d_algorithm((32, 3, 32, 32), (32, 3, 3, 3), 1, 1, **wg) == "im2col"
        assert conv2d_algorithm((8, 64, 56, 56), (64, 64, 3, 3), 2, 1, **wg) == "im2col"
        assert conv2d_algorithm((8, 64, 56, 56), (64, 32, 3, 3), 1, 1, groups=2, **wg) \
            == "im2col"
        assert conv2d_algorithm((8, 64, 56, 56), (64, 64, 1, 1), 1, 0, **wg) == "im2col"
    with conv_algorithm("im2col"):
        assert conv2d_algorithm((32, 64, 56, 56), (64, 64, 3, 3), 1, 1, weight_grad=True) \
            == "im2col"


@pytest.mark.parametrize("algo", TILES)
@pytest.mark.parametrize("where", ["input", "grad"])
def test_nonfinite_operands_fall_back_to_im2col(algo, where, rng):
    """A transform would turn one infinity into NaN across its tile's taps: such operands take
    im2col, so the gradient equals im2col's bit for bit, infinities and NaN included."""
    x = rng.standard_normal((2, 6, 9, 9)).astype(np.float32)
    gy = rng.standard_normal((2, 5, 9, 9)).astype(np.float32)
    (x if where == "input" else gy)[1, 2, 4, 5] = np.inf
    want = weight_grad(x, gy, 1, "im2col")
    got = weight_grad(x, gy, 1, algo)
    np.testing.assert_array_equal(got, want)
    assert np.isinf(got).any()


def test_conv_transpose2d_weight_grad_uses_it_too(rng):
    """conv_transpose2d's weight gradient is conv2d's with the roles of input and gradient
    swapped: the same kernel, checked against the reference with x and g exchanged."""
    x = rng.standard_normal((3, 7, 10, 9)).astype(np.float32)     # (N, C_in, H, W)
    w = dl.tensor(np.zeros((7, 6, 3, 3), np.float32), requires_grad=True)
    for algo in TILES:
        w.grad = None
        with conv_algorithm(algo):
            y = F.conv_transpose2d(dl.tensor(x), w, None, 1, 1)
            g = rng.standard_normal(y.shape).astype(np.float32)
            y.backward(dl.tensor(g))
        # conv2d(g) -> x: gw[c_in, c_out] = sum x[n, c_in] * g[n, c_out] shifted
        assert rel_err(w.grad.numpy(), ref_weight_grad(g, x, 1)) < 2e-5


def test_matches_torch_through_autograd(torch, rng):
    x = rng.standard_normal((4, 16, 15, 13)).astype(np.float32)
    w = (rng.standard_normal((24, 16, 3, 3)) * 0.1).astype(np.float32)
    gy = rng.standard_normal((4, 24, 15, 13)).astype(np.float32)
    tw = torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(torch.tensor(x), tw, None, 1, 1).backward(torch.tensor(gy))
    want = tw.grad.numpy()
    for algo in TILES:
        wt = dl.tensor(w, requires_grad=True)
        with conv_algorithm(algo):
            F.conv2d(dl.tensor(x), wt, None, 1, 1).backward(dl.tensor(gy))
        assert rel_err(wt.grad.numpy(), want) < 2e-5
