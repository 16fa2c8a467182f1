"""Eager depthwise conv2d with "same" padding, float32 (csrc/conv_dw_same_simd.c: the forward
and stride-1 input gradient on the executor's in-place kernel, the 3x3 weight and bias
gradients in one pass): against a float64 NumPy reference on odd plane sizes (vector tails,
one-column and one-row planes, rows shorter and longer than 14), on every SIMD path and at 1
and 2 threads, and IEEE specials landing where the float64 band kernel puts them."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from test_conv import ref_conv2d

# (N, C, H, W, kernel, stride): 3x3 at stride 1 and 2 on planes of every width class, and
# small maps' 5x5 (the in-place kernel takes other odd filters below 14 columns)
CASES = [
    (2, 3, 5, 13, 3, 1),
    (1, 4, 14, 14, 3, 1),
    (3, 5, 17, 33, 3, 1),
    (2, 3, 1, 1, 3, 1),
    (2, 2, 1, 40, 3, 1),
    (1, 2, 40, 1, 3, 1),
    (2, 3, 16, 17, 3, 2),
    (2, 3, 9, 9, 5, 1),
    (1, 2, 7, 6, 5, 2),
    # whole groups of 16 planes of a small map (the executor may run those with channels as
    # the vector lanes) and a leftover
    (2, 16, 7, 9, 3, 1),
    (1, 17, 6, 5, 3, 2),
    # over the eager conv grain (2^20 multiply-adds): at 2 threads the planes and the weight
    # gradient's channels are split
    (4, 32, 40, 37, 3, 1),
]


def _grads(x, w, b, gy, stride, dtype):
    k = w.shape[-1]
    xt, wt, bt = (dl.tensor(a.astype(dtype), requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, stride, k // 2, 1, x.shape[1])
    y.backward(dl.tensor(gy.astype(dtype)))
    return y.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("case", CASES)
def test_depthwise_same_matches_reference(isa, threads, case, rng):
    N, C, H, W, k, st = case
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((C, 1, k, k)).astype(np.float32)
    b = rng.standard_normal(C).astype(np.float32)
    OH, OW = (H - 1) // st + 1, (W - 1) // st + 1
    gy = rng.standard_normal((N, C, OH, OW)).astype(np.float32)
    y, gx, gw, gb = _grads(x, w, b, gy, st, np.float32)
    ref = ref_conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                     (st, st), (k // 2, k // 2), (1, 1), C)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    # the gradients of the float64 kernels (checked by gradcheck in test_conv.py)
    _, gx64, gw64, gb64 = _grads(x, w, b, gy, st, np.float64)
    np.testing.assert_allclose(gx, gx64, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gw, gw64, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(gb, gb64, rtol=1e-5, atol=1e-4)


def _specials_match(x, w, gy):
    b = np.zeros(x.shape[1], np.float32)
    got = _grads(x, w, b, gy, 1, np.float32)
    want = _grads(x, w, b, gy, 1, np.float64)
    for name, g, r in zip(("output", "input grad", "weight grad", "bias grad"), got, want):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(r), err_msg=name)
        np.testing.assert_array_equal(np.isinf(g), np.isinf(r), err_msg=name)


@pytest.mark.parametrize("W", [13, 20, 40])
def test_depthwise_same_specials_where_float64_puts_them(isa, W):
    """An inf or NaN in the input, the output gradient or a weight: the same outputs and
    gradients turn NaN / inf as in the float64 band kernel (padding taps included: an inf
    gradient on the first row meets the padding row's zeros)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 3, 6, W)).astype(np.float32)
    w = rng.standard_normal((3, 1, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((1, 3, 6, W)).astype(np.float32)
    x[0, 0, 2, W - 1] = np.inf
    x[0, 1, 0, 0] = np.nan
    gy[0, 2, 0, 5] = np.inf
    gy[0, 1, 5, W - 1] = np.nan
    _specials_match(x, w, gy)
    w2 = w.copy()
    w2[1, 0, 0, 2] = np.inf      # a weight's inf meets the padding's zeros
    _specials_match(rng.standard_normal(x.shape).astype(np.float32), w2,
                    rng.standard_normal(gy.shape).astype(np.float32))


def test_depthwise_same_without_bias(isa, threads, rng):
    """No bias: the output and the input gradient start from zero (no bias pointer at all)."""
    x = rng.standard_normal((2, 16, 9, 20)).astype(np.float32)
    w = rng.standard_normal((16, 1, 3, 3)).astype(np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    xt, wt = dl.tensor(x, requires_grad=True), dl.tensor(w, requires_grad=True)
    y = F.conv2d(xt, wt, None, 1, 1, 1, 16)
    y.backward(dl.tensor(gy))
    ref = ref_conv2d(x.astype(np.float64), w.astype(np.float64), None, (1, 1), (1, 1), (1, 1), 16)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)
    x64, w64 = (dl.tensor(a.astype(np.float64), requires_grad=True) for a in (x, w))
    F.conv2d(x64, w64, None, 1, 1, 1, 16).backward(dl.tensor(gy.astype(np.float64)))
    np.testing.assert_allclose(xt.grad.numpy(), x64.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wt.grad.numpy(), w64.grad.numpy(), rtol=1e-5, atol=1e-4)
