"""float32 im2col/col2im for strided taps (tap_columns, the AVX-512 stride-2 permute, the
scalar stride-3 loop) on every ISA path: conv2d forward and both gradients, and
conv_transpose2d (whose forward is col2im), against the NumPy reference and the float64
kernels, on odd sizes with padding and dilation, whole images and tiles that start mid-row."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from test_conv import check_conv2d_float32, ref_conv_transpose2d


def _t(a, grad=False):
    return dl.tensor(a, requires_grad=grad)


# N, C, H, W, K, (R, S), stride, padding, dilation: the DCGAN 4x4/2 pair, ResNet's 3x3/2 and
# 7x7/2 stem, a 1x1/2 shortcut, stride 3 with dilation, rows longer than one vector (37
# outputs: two full 16-lane permutes and a tail), maps narrower than the kernel's reach
CASES = [
    (2, 3, 14, 14, 4, (4, 4), (2, 2), (1, 1), (1, 1)),
    (3, 2, 17, 13, 5, (3, 3), (2, 2), (1, 1), (1, 1)),
    (2, 3, 19, 21, 4, (7, 7), (2, 2), (3, 3), (1, 1)),
    (2, 5, 9, 11, 3, (1, 1), (2, 2), (0, 0), (1, 1)),
    (2, 3, 16, 23, 4, (3, 2), (3, 3), (2, 1), (2, 2)),
    (1, 2, 5, 75, 3, (3, 4), (1, 2), (1, 2), (1, 1)),
    (2, 2, 3, 4, 3, (4, 4), (2, 3), (2, 2), (1, 1)),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("budget", [0, 3 * 4 * 7])
def test_strided_conv2d_every_isa(isa, case, budget, rng):
    """budget (bytes of one column tile; 0: the default) small enough that the tiles start
    mid-row exercises the first run's offset column."""
    N, C, H, W, K, (R, S), st, pd, dil = case
    check_conv2d_float32(rng, (N, C, H, W), (K, C, R, S), st, pd, dil, 1, budget)


@pytest.mark.parametrize("case", [
    (3, 4, 7, 7, 3, (4, 4), (2, 2), (1, 1), (0, 0)),     # DCGAN's generator upsampling
    (2, 3, 6, 9, 2, (3, 3), (2, 2), (1, 1), (1, 1)),
    (2, 2, 5, 4, 3, (3, 5), (3, 2), (0, 2), (2, 1)),
    (1, 2, 3, 20, 2, (4, 4), (2, 2), (1, 1), (0, 1)),
])
def test_strided_conv_transpose2d_every_isa(isa, threads, case, rng):
    N, C, H, W, K, (R, S), st, pd, opad = case
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((C, K, R, S)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    xt, wt = _t(x, True), _t(w, True)
    y = F.conv_transpose2d(xt, wt, _t(b), st, pd, opad)
    ref = ref_conv_transpose2d(x.astype(np.float64), w.astype(np.float64), b, st, pd, opad)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    gy = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(dl.tensor(gy))
    x64, w64 = _t(x.astype(np.float64), True), _t(w.astype(np.float64), True)
    F.conv_transpose2d(x64, w64, _t(b.astype(np.float64)), st, pd, opad).backward(
        dl.tensor(gy.astype(np.float64)))
    for got, want in ((xt, x64), (wt, w64)):
        want = want.grad.numpy()
        np.testing.assert_allclose(got.grad.numpy(), want, rtol=1e-4,
                                   atol=1e-4 * np.abs(want).max())


def test_strided_conv_gradcheck_float64(rng):
    """The float64 kernels (the float32 ones' reference above) by finite differences on a
    strided, padded, dilated case."""
    x = _t(rng.standard_normal((2, 2, 9, 8)), True)
    w = _t(rng.standard_normal((3, 2, 4, 3)), True)
    assert dl.autograd.gradcheck(lambda a, c: F.conv2d(a, c, None, (2, 3), (1, 2), (1, 2)),
                                 (x, w))
    xt = _t(rng.standard_normal((2, 3, 4, 5)), True)
    wt = _t(rng.standard_normal((3, 2, 4, 4)), True)
    assert dl.autograd.gradcheck(lambda a, c: F.conv_transpose2d(a, c, None, 2, 1), (xt, wt))
