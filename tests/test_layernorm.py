"""Fused LayerNorm / RMSNorm: kernels vs NumPy on every ISA path and thread count, gradcheck,
parity with torch, bad input."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore import _C


def ln_ref(x, w, b, eps, rms=False):
    x64 = x.astype(np.float64)
    m = 0.0 if rms else x64.mean(-1, keepdims=True)
    r = 1.0 / np.sqrt(((x64 - m) ** 2).mean(-1, keepdims=True) + eps)
    y = (x64 - m) * r
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y, m, r


@pytest.mark.parametrize("shape", [(1, 1), (7, 17), (33, 100), (3, 5, 768)])
@pytest.mark.parametrize("rms", [False, True])
def test_kernel_matches_reference(isa, threads, rng, shape, rms):
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    n = shape[-1]
    w = rng.standard_normal(n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    rows = x.size // n
    y = np.empty_like(x)
    mean, rstd = np.empty(rows, np.float32), np.empty(rows, np.float32)
    _C.layer_norm_forward(x, n, w, None if rms else b, 1e-5, y, None if rms else mean, rstd, rms)
    yr, mr, rr = ln_ref(x, w, None if rms else b, 1e-5, rms)
    np.testing.assert_allclose(y, yr, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(rstd, rr.ravel(), rtol=1e-4)
    g = rng.standard_normal(shape).astype(np.float32)
    dx, dw, db = np.empty_like(x), np.empty(n, np.float32), np.empty(n, np.float32)
    _C.layer_norm_backward(x, n, w, None if rms else mean, rstd, g, dx, dw,
                           None if rms else db, rms)
    # reference gradients in float64
    x64, g64 = x.astype(np.float64).reshape(-1, n), g.astype(np.float64).reshape(-1, n)
    xh = (x64 - (0.0 if rms else x64.mean(-1, keepdims=True))) * rr.reshape(-1, 1)
    gg = g64 * w
    mg = 0.0 if rms else gg.mean(-1, keepdims=True)
    dxr = (gg - mg - xh * (gg * xh).mean(-1, keepdims=True)) * rr.reshape(-1, 1)
    np.testing.assert_allclose(dx.reshape(-1, n), dxr, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(dw, (g64 * xh).sum(0), rtol=1e-3, atol=1e-3)
    if not rms:
        np.testing.assert_allclose(db, g64.sum(0), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("n", [1, 2, 3, 8, 17])
def test_rows_of_equal_values_normalize_to_exactly_zero(isa, n):
    """x - mean is exact when a row's values are equal (always for one element): the output
    must be the bias to float32 rounding, not noise of |x| * rstd * eps (rstd ~ 316 here).
    One fused x * rstd - mean * rstd once gave 2e-4 off for x = 1.77, n = 1 (torch's OpInfo)."""
    x = np.full((4, n), 1.7656, np.float32) * np.arange(1, 5, dtype=np.float32)[:, None]
    w = np.linspace(0.5, 2.0, n).astype(np.float32)
    b = np.linspace(-1.0, 1.0, n).astype(np.float32)
    y = np.empty_like(x)
    mean, rstd = np.empty(4, np.float32), np.empty(4, np.float32)
    _C.layer_norm_forward(x, n, w, b, 1e-5, y, mean, rstd, False)
    np.testing.assert_allclose(y, np.broadcast_to(b, x.shape), rtol=0, atol=1e-6)
    # the input's gradient there is rstd * (g - mean(g)), g = dy * gamma: exactly 0 for one
    # element, not rstd times the rounding of dy * gamma
    dy = np.linspace(-1.3, 2.1, 4 * n).astype(np.float32).reshape(4, n)
    dx, dw, db = np.empty_like(x), np.zeros(n, np.float32), np.zeros(n, np.float32)
    _C.layer_norm_backward(x, n, w, mean, rstd, dy, dx, dw, db, False)
    g = dy.astype(np.float64) * w
    want = rstd[:, None].astype(np.float64) * (g - g.mean(-1, keepdims=True))
    np.testing.assert_allclose(dx, want, rtol=1e-5, atol=1e-6 if n == 1 else 1e-3)


@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, False)])
def test_layernorm_module_matches_torch(torch, rng, affine, bias):
    x = rng.standard_normal((4, 6, 2, 9)).astype(np.float32)
    tm = torch.nn.LayerNorm((2, 9), eps=1e-4, elementwise_affine=affine, bias=bias)
    with torch.no_grad():
        for p in tm.parameters():
            p.copy_(torch.randn(p.shape))
    m = nn.LayerNorm((2, 9), eps=1e-4, elementwise_affine=affine, bias=bias)
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    assert set(m.state_dict()) == set(tm.state_dict())
    xt = dl.tensor(x, requires_grad=True)
    X = torch.tensor(x, requires_grad=True)
    y, Y = m(xt), tm(X)
    g = rng.standard_normal(x.shape).astype(np.float32)
    y.backward(dl.tensor(g))
    Y.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), Y.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), atol=1e-4)
    for (name, p), (tname, tp) in zip(m.named_parameters(), tm.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), atol=1e-4)


def test_rmsnorm_matches_torch(torch, rng):
    x = rng.standard_normal((5, 33)).astype(np.float32)
    tm = torch.nn.RMSNorm(33, eps=1e-6)
    with torch.no_grad():
        tm.weight.copy_(torch.randn(33))
    m = nn.RMSNorm(33, eps=1e-6)
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    xt, X = dl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, Y = m(xt), tm(X)
    y.sum().backward()
    Y.sum().backward()
    np.testing.assert_allclose(y.numpy(), Y.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), atol=1e-4)
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), atol=1e-4)


@pytest.mark.parametrize("rms", [False, True])
def test_gradcheck(rng, rms):
    x = dl.tensor(rng.standard_normal((3, 4, 5)), requires_grad=True)
    w = dl.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    b = dl.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    if rms:
        assert dl.autograd.gradcheck(lambda x, w: F.rms_norm(x, (4, 5), w, 1e-3), (x, w))
    else:
        assert dl.autograd.gradcheck(lambda x, w, b: F.layer_norm(x, (4, 5), w, b, 1e-3),
                                     (x, w, b))


def test_bad_input():
    x = dl.randn(3, 4)
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(x, (5,))
    with pytest.raises(ValueError, match="weight must have shape"):
        F.layer_norm(x, (4,), dl.ones(3))
    with pytest.raises(TypeError, match="float32 or float64"):
        F.layer_norm(dl.tensor(np.ones((2, 4), np.int64)), (4,))
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(0)
