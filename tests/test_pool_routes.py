"""Eager float32 max_pool2d without indices runs the inference plan's kernels (csrc/
pool_routes.c: 3x3/2 and windows larger than 2x2): checked against a NumPy float64
reference on odd sizes, every padding up to half the window, strides, ceil mode and
dilation, with NaN and -inf in the input, and against the indices path (pool.c's kernel)."""
import itertools

import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F


def _out(n, k, s, p, d, ceil):
    eff = d * (k - 1) + 1
    num = n + 2 * p - eff
    o = (-(-num // s) if ceil else num // s) + 1
    if ceil and (o - 1) * s >= n + p:      # the last window must start inside
        o -= 1
    return o


def reference(x, k, s, p, d, ceil):
    """max over each window (-inf padding; a window holding NaN gives NaN)."""
    N, C, H, W = x.shape
    OH, OW = _out(H, k[0], s[0], p[0], d[0], ceil), _out(W, k[1], s[1], p[1], d[1], ceil)
    xp = np.full((N, C, H + 2 * p[0] + k[0] * d[0] + s[0], W + 2 * p[1] + k[1] * d[1] + s[1]),
                 -np.inf)
    xp[:, :, p[0]:p[0] + H, p[1]:p[1] + W] = x
    y = np.full((N, C, OH, OW), -np.inf)
    nan = np.zeros((N, C, OH, OW), bool)
    for r, c in itertools.product(range(k[0]), range(k[1])):
        v = xp[:, :, r * d[0]:r * d[0] + s[0] * OH:s[0], c * d[1]:c * d[1] + s[1] * OW:s[1]]
        nan |= np.isnan(v)
        y = np.fmax(y, v)
    y[nan] = np.nan
    return y


CASES = [((3, 3), (2, 2), (1, 1), (1, 1)), ((3, 3), (2, 2), (0, 0), (1, 1)),
         ((3, 3), (2, 2), (1, 0), (1, 1)), ((3, 3), (1, 1), (1, 1), (1, 1)),
         ((5, 5), (1, 1), (2, 2), (1, 1)), ((5, 5), (3, 3), (1, 2), (1, 1)),
         ((2, 3), (1, 2), (1, 1), (1, 1)), ((3, 2), (3, 1), (0, 1), (1, 1)),
         ((4, 4), (4, 4), (2, 0), (1, 1)), ((3, 3), (2, 2), (1, 1), (2, 2)),
         ((2, 2), (2, 2), (1, 0), (1, 1)), ((7, 7), (2, 3), (3, 3), (1, 1))]


@pytest.mark.parametrize("k,s,p,d", CASES)
@pytest.mark.parametrize("ceil", [False, True])
@pytest.mark.parametrize("hw", [(7, 9), (17, 33), (1, 40), (56, 57)])
def test_matches_numpy(isa, k, s, p, d, ceil, hw, rng):
    H, W = hw
    if H + 2 * p[0] < d[0] * (k[0] - 1) + 1 or W + 2 * p[1] < d[1] * (k[1] - 1) + 1:
        pytest.skip("window larger than the padded input")
    x = rng.standard_normal((2, 3, H, W)).astype(np.float32)
    x.reshape(-1)[rng.integers(0, x.size, 3)] = -np.inf
    x[1, 2].reshape(-1)[rng.integers(0, H * W)] = np.nan
    with dl.no_grad():
        got = F.max_pool2d(dl.tensor(x), k, s, p, d, ceil_mode=ceil).numpy()
        with_idx, idx = F.max_pool2d(dl.tensor(x), k, s, p, d, ceil_mode=ceil,
                                     return_indices=True)
    want = reference(x.astype(np.float64), k, s, p, d, ceil)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want.astype(np.float32))
    np.testing.assert_array_equal(got, with_idx.numpy())


def test_threads_and_batch(threads, rng):
    x = rng.standard_normal((3, 64, 30, 31)).astype(np.float32)
    with dl.no_grad():
        for k, s, p in (((3, 3), 2, 1), ((5, 5), 1, 2)):
            got = F.max_pool2d(dl.tensor(x), k, s, p).numpy()
            np.testing.assert_array_equal(got, reference(x.astype(np.float64), k, (s, s),
                                                         (p, p), (1, 1), False))


def test_training_forward_and_backward_unchanged(torch, rng):
    x = rng.standard_normal((2, 4, 13, 11)).astype(np.float32)
    xt = dl.tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, 3, 2, 1, ceil_mode=True)
    y.sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, 3, 2, 1, ceil_mode=True)
    ty.sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(xt.grad.numpy(), tx.grad.numpy())
