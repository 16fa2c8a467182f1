"""Edge cases that random-data tests miss (issue #19 item 7: tests that catch bugs): pooling
windows that cross the padded border under ceil_mode, ties in max/min and their gradients,
norms whose eps matters, even-kernel 'same' padding.  Each against torch."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(x, grad=True):
    return dl.tensor(x, requires_grad=grad), torch.tensor(x, requires_grad=grad)


def _check_grad(y, ty, a, t, seed=0, rtol=1e-6, atol=1e-7):
    g = np.random.default_rng(seed).standard_normal(tuple(ty.shape)).astype(a.numpy().dtype)
    y.backward(dl.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("size,k,s,p", [(5, 3, 2, 1), (6, 3, 2, 1), (7, 2, 2, 1), (5, 4, 3, 2),
                                        (8, 3, 3, 1)])
@pytest.mark.parametrize("cip", [True, False])
def test_avg_pool_ceil_mode_windows_at_the_padded_border(size, k, s, p, cip, isa):
    x = np.random.default_rng(size * 10 + k).standard_normal((2, 3, size, size + 1))
    for dtype in (np.float32, np.float64):
        a, t = _pair(x.astype(dtype))
        y = F.avg_pool2d(a, k, s, p, ceil_mode=True, count_include_pad=cip)
        ty = TF.avg_pool2d(t, k, s, p, ceil_mode=True, count_include_pad=cip)
        assert tuple(y.shape) == tuple(ty.shape)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
        _check_grad(y, ty, a, t, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size,k,s,p", [(5, 3, 2, 1), (6, 2, 2, 1), (7, 3, 3, 1)])
def test_max_pool_ceil_mode_and_nan(size, k, s, p):
    x = np.random.default_rng(size).standard_normal((1, 2, size, size)).astype(np.float32)
    x[0, 0, size - 1, size - 1] = np.nan  # a NaN in the last (partial) window propagates
    x[0, 1, 0, 0] = np.nan
    y = F.max_pool2d(dl.tensor(x), k, s, p, ceil_mode=True)
    ty = TF.max_pool2d(torch.tensor(x), k, s, p, ceil_mode=True)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


def _tied_pairs():
    """(a, t, b, u): dlcore and torch leaves of two float64 vectors, a == b at 0, 2 and 4."""
    a, t = _pair(np.array([1.0, 2.0, 3.0, -1.0, 0.0]))
    b, u = _pair(np.array([1.0, 1.0, 3.0, 0.0, 0.0]))
    return a, t, b, u


def test_maximum_minimum_split_the_gradient_of_ties():
    for op in ("maximum", "minimum"):
        a, t, b, u = _tied_pairs()
        y, ty = getattr(dl, op)(a, b), getattr(torch, op)(t, u)
        y.backward(dl.ones(5, dtype=dl.float64))
        ty.backward(torch.ones(5, dtype=torch.float64))
        np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())
        np.testing.assert_array_equal(b.grad.numpy(), u.grad.numpy())
        assert a.grad.numpy()[0] == 0.5


def test_maximum_minimum_split_ties_when_the_backward_builds_a_graph():
    # create_graph=True runs each Function's graph-building backward, a second copy of the
    # tie rule; its gradient must split ties as the plain backward (and torch) does
    for op in ("maximum", "minimum"):
        a, t, b, u = _tied_pairs()
        y, ty = (getattr(dl, op)(a, b) * a).sum(), (getattr(torch, op)(t, u) * t).sum()
        ga, gb = dl.autograd.grad(y, (a, b), create_graph=True)
        tga, tgb = torch.autograd.grad(ty, (t, u), create_graph=True)
        np.testing.assert_array_equal(ga.numpy(), tga.detach().numpy())
        np.testing.assert_array_equal(gb.numpy(), tgb.detach().numpy())
        assert gb.numpy()[0] == 0.5      # d/db of max(a, b) * a at a = b = 1 is a / 2


@pytest.mark.parametrize("reduce", ["amax", "amin", "max", "min"])
def test_reductions_over_ties_match_torch_gradients(reduce):
    x = np.array([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]])
    a, t = _pair(x)
    y, ty = getattr(a, reduce)(), getattr(t, reduce)()
    y.backward()
    ty.backward()
    np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())


def test_clamp_gradient_at_the_bounds():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    a, t = _pair(x)
    y, ty = a.clamp(-0.5, 0.5), t.clamp(-0.5, 0.5)
    _check_grad(y, ty, a, t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 33])
def test_layer_norm_and_rms_norm_where_eps_matters(dtype, n, isa):
    # inputs at 0.01 scale with eps 0.01: eps is most of the denominator, so its place shows
    x = (np.random.default_rng(n).standard_normal((5, n)) * 0.01).astype(dtype)
    w = np.random.default_rng(1).standard_normal(n).astype(dtype)
    b = np.random.default_rng(2).standard_normal(n).astype(dtype)
    for eps in (1e-2, 0.5):
        a, t = _pair(x)
        y = F.layer_norm(a, (n,), dl.tensor(w), dl.tensor(b), eps)
        ty = TF.layer_norm(t, (n,), torch.tensor(w), torch.tensor(b), eps)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=2e-5, atol=1e-6)
        _check_grad(y, ty, a, t, rtol=1e-4, atol=1e-5)
        a, t = _pair(x)
        y = F.rms_norm(a, (n,), dl.tensor(w), eps)
        ty = TF.rms_norm(t, (n,), torch.tensor(w), eps)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=2e-5, atol=1e-6)
        _check_grad(y, ty, a, t, rtol=1e-4, atol=1e-5)


def test_batch_norm_where_eps_matters():
    x = (np.random.default_rng(3).standard_normal((4, 3, 2, 2)) * 0.01).astype(np.float32)
    for training in (True, False):
        m, tm = dl.nn.BatchNorm2d(3, eps=1e-2), torch.nn.BatchNorm2d(3, eps=1e-2)
        m.train(training)
        tm.train(training)
        y, ty = m(dl.tensor(x)), tm(torch.tensor(x))
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("k", [2, 4, (2, 3)])
def test_conv_same_padding_with_an_even_kernel(k):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 2, 7, 6)).astype(np.float32)
    ks = (k, k) if isinstance(k, int) else k
    w = rng.standard_normal((3, 2) + ks).astype(np.float32)
    y = F.conv2d(dl.tensor(x), dl.tensor(w), padding="same")
    ty = TF.conv2d(torch.tensor(x), torch.tensor(w), padding="same")
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-5, atol=1e-5)
