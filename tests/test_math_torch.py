"""torch's top-level math added in dlcore.ops.math_torch: values, shapes and dtypes against
torch, errors, float64 gradients, and the Tensor-method / in-place forms."""
import math
import warnings

import numpy as np
import pytest

import dlcore as dl

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def _close(ours, theirs, tol=1e-12):
    o = ours.detach().numpy() if hasattr(ours, "detach") else np.asarray(ours)
    t = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert o.shape == t.shape, (o.shape, t.shape)
    assert str(o.dtype) == str(t.dtype), (o.dtype, t.dtype)
    np.testing.assert_allclose(o, t, rtol=tol, atol=tol)


def _pair(a, dtype=np.float64):
    a = np.asarray(a, dtype)
    return dl.tensor(a), torch.tensor(a)


@pytest.mark.parametrize("beta, alpha", [(1, 1), (0.5, 2.0), (0, 3.0)])
def test_fused_multiply_adds(beta, alpha):
    inp, tinp = _pair(RNG.standard_normal((3,)))
    inp._data[0] = tinp[0] = math.nan if beta == 0 else 1.0   # beta=0 ignores input
    m, tm = _pair(RNG.standard_normal((3, 5)))
    v, tv = _pair(RNG.standard_normal(5))
    kw = dict(beta=beta, alpha=alpha)
    _close(dl.addmv(inp, m, v, **kw), torch.addmv(tinp, tm, tv, **kw))
    _close(inp.addmv(m, v, **kw), tinp.addmv(tm, tv, **kw))
    v1, tv1 = _pair(RNG.standard_normal(3))
    _close(dl.addr(m, v1, v, **kw), torch.addr(tm, tv1, tv, **kw))
    b1, tb1 = _pair(RNG.standard_normal((4, 3, 2)))
    b2, tb2 = _pair(RNG.standard_normal((4, 2, 5)))
    _close(dl.addbmm(m, b1, b2, **kw), torch.addbmm(tm, tb1, tb2, **kw))
    bi, tbi = _pair(RNG.standard_normal((1, 3, 5)))
    _close(dl.baddbmm(bi, b1, b2, **kw), torch.baddbmm(tbi, tb1, tb2, **kw))
    x, tx = _pair(RNG.standard_normal((3, 5)))
    x.addr_(v1, v, **kw)
    tx.addr_(tv1, tv, **kw)
    _close(x, tx)
    with pytest.raises(RuntimeError):
        dl.baddbmm(bi, b1, b2[:2])


def test_fused_gradients():
    g = np.random.default_rng(1)
    t = [dl.tensor(g.standard_normal(s), dtype=dl.float64, requires_grad=True)
         for s in [(3,), (3, 4), (4,), (2, 3, 4), (2, 4, 3)]]
    assert dl.autograd.gradcheck(lambda a, m, v: dl.addmv(a, m, v, beta=0.5, alpha=2), t[:3])
    assert dl.autograd.gradcheck(lambda m, a, v: dl.addr(m, a, v, alpha=-1), (t[1], t[0], t[2]))
    base = dl.tensor(g.standard_normal((3, 3)), dtype=dl.float64, requires_grad=True)
    assert dl.autograd.gradcheck(lambda i, a, b: dl.addbmm(i, a, b, beta=2, alpha=0.5),
                                 (base, t[3], t[4]))
    assert dl.autograd.gradcheck(lambda i, a, b: dl.baddbmm(i, a, b, beta=0),
                                 (base, t[3], t[4]))


def test_logaddexp2_logcumsumexp():
    a, ta = _pair(RNG.standard_normal((3, 7)) * 50)
    b, tb = _pair(RNG.standard_normal((3, 7)) * 50)
    _close(dl.logaddexp2(a, b), torch.logaddexp2(ta, tb))
    _close(a.logaddexp2(b), ta.logaddexp2(tb))
    for dim in (0, 1, -1):
        _close(dl.logcumsumexp(a, dim), torch.logcumsumexp(ta, dim), 1e-10)
    c, tc = _pair([[-np.inf, -np.inf, 1.0], [1000.0, -1000.0, np.inf]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _close(c.logcumsumexp(1), tc.logcumsumexp(1))
    x = dl.tensor(RNG.standard_normal((3, 5)) * 10, dtype=dl.float64, requires_grad=True)
    assert dl.autograd.gradcheck(lambda t: dl.logcumsumexp(t, 1), (x,))
    assert dl.autograd.gradcheck(lambda t: dl.logaddexp2(t, t * 2), (x,))


def test_frexp_ldexp_nextafter():
    a, ta = _pair([0.0, 1.0, -3.5, 1e-310, 1e300, np.inf, np.nan, 0.375])
    m, e = dl.frexp(a)
    tm, te = torch.frexp(ta)
    _close(m, tm)
    _close(e, te)
    _close(a.frexp().mantissa, ta.frexp().mantissa)
    with pytest.raises(RuntimeError):
        dl.frexp(dl.tensor([1, 2]))
    p, tp = _pair([1.0, -2.0, 3.0])
    k, tk = _pair([2, -1, 0], np.int64)
    _close(dl.ldexp(p, k), torch.ldexp(tp, tk))
    _close(p.ldexp(k), tp.ldexp(tk))
    _close(dl.nextafter(p, dl.tensor([2.0, 0.0, 3.0], dtype=dl.float64)),
           torch.nextafter(tp, torch.tensor([2.0, 0.0, 3.0], dtype=torch.float64)))
    q, tq = _pair([1.0, 2.0], np.float32)
    _close(q.nextafter(dl.tensor([0.0, 3.0])), tq.nextafter(torch.tensor([0.0, 3.0])))
    x = dl.tensor([1.0, -2.0], dtype=dl.float64, requires_grad=True)
    assert dl.autograd.gradcheck(lambda t: dl.ldexp(t, dl.tensor([3, -1])), (x,))


def test_frexp_nextafter_gradients_and_refusals_like_torch():
    # frexp's mantissa: d/dx = 2^-exponent (piecewise); nextafter: 1 for input, 0 for other
    x = np.array([0.3, -5.0, 1e-310, 7.0, 1e300])
    a, ta = dl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    g = np.array([1.0, -2.0, 0.5, 3.0, 1.5])
    (dl.frexp(a).mantissa * dl.tensor(g)).sum().backward()
    (torch.frexp(ta).mantissa * torch.tensor(g)).sum().backward()
    _close(a.grad, ta.grad)
    assert dl.autograd.gradcheck(lambda t: dl.frexp(t).mantissa, (dl.tensor(
        [0.3, -5.0, 7.0], dtype=dl.float64, requires_grad=True),))
    b = dl.tensor([1.0, 2.0], requires_grad=True)
    o = dl.tensor([3.0], dtype=dl.float64, requires_grad=True)  # float32 and 0-d-ish float64
    r = dl.nextafter(b, o)
    tb, to = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([3.0],
                                                                        dtype=torch.float64,
                                                                        requires_grad=True)
    tr = torch.nextafter(tb, to)
    _close(r, tr)
    r.sum().backward()
    tr.sum().backward()
    _close(b.grad, tb.grad)
    _close(o.grad, to.grad)
    i = dl.tensor([1, 2, 3])
    for fn in (dl.ldexp, dl.nextafter, dl.igamma, dl.igammac, dl.special.gammainc):
        with pytest.raises(TypeError):
            fn(dl.tensor([1.0]), 2)                 # torch has no Python-number overload
        with pytest.raises(TypeError):
            fn(2, dl.tensor([1.0]))
    for fn in (dl.nextafter, dl.igamma, dl.igammac):
        with pytest.raises(NotImplementedError):
            fn(i, i)                                # integer-only: torch refuses
    _close(dl.ldexp(i, i), torch.ldexp(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 3])))
    _close(dl.igamma(dl.tensor([1.5], dtype=dl.float32), dl.tensor([2])),
           torch.igamma(torch.tensor([1.5]), torch.tensor([2])), 1e-6)


@pytest.mark.parametrize("fn", ["linspace", "logspace"])
def test_steps_must_be_an_int(fn):
    for bad in (1.0, True, dl.tensor(3.0)):
        with pytest.raises(TypeError):
            getattr(dl, fn)(0, 3, bad)
        with pytest.raises(TypeError):
            getattr(torch, fn)(0, 3, torch.tensor(3.0) if isinstance(bad, dl.Tensor) else bad)
    with pytest.raises(RuntimeError):
        getattr(dl, fn)(0, 3, -1)
    _close(getattr(dl, fn)(0, 3, dl.tensor(4)), getattr(torch, fn)(0, 3, torch.tensor(4)), 1e-6)


def test_cov_corrcoef():
    x, tx = _pair(RNG.standard_normal((3, 6)))
    _close(dl.cov(x), torch.cov(tx))
    _close(x.cov(correction=0), tx.cov(correction=0))
    fw, tfw = _pair([1, 2, 1, 3, 1, 1], np.int64)
    aw, taw = _pair(RNG.uniform(0.5, 2, 6))
    _close(dl.cov(x, fweights=fw, aweights=aw), torch.cov(tx, fweights=tfw, aweights=taw))
    _close(dl.cov(x, aweights=aw, correction=2), torch.cov(tx, aweights=taw, correction=2))
    _close(dl.cov(x[0]), torch.cov(tx[0]))
    _close(dl.corrcoef(x), torch.corrcoef(tx))
    _close(x.corrcoef(), tx.corrcoef())
    _close(dl.corrcoef(x[:1]), torch.corrcoef(tx[:1]))
    xi, txi = _pair([[1, 2, 4], [0, 3, 1]], np.int64)
    _close(dl.cov(xi), torch.cov(txi), 1e-6)
    with pytest.raises(RuntimeError):
        dl.cov(x, fweights=aw)
    g = dl.tensor(RNG.standard_normal((3, 5)), dtype=dl.float64, requires_grad=True)
    assert dl.autograd.gradcheck(dl.cov, (g,))
    assert dl.autograd.gradcheck(dl.corrcoef, (g,))


def test_trapezoid_family():
    y, ty = _pair(RNG.standard_normal((3, 6)))
    x, tx = _pair(np.sort(RNG.uniform(0, 5, 6)))
    for dim in (0, 1, -1):
        _close(dl.trapezoid(y, dim=dim), torch.trapezoid(ty, dim=dim))
        _close(dl.trapezoid(y, dx=0.5, dim=dim), torch.trapezoid(ty, dx=0.5, dim=dim))
        _close(dl.cumulative_trapezoid(y, dim=dim), torch.cumulative_trapezoid(ty, dim=dim))
    _close(dl.trapezoid(y, x), torch.trapezoid(ty, tx))
    _close(dl.trapz(y, x), torch.trapz(ty, tx))
    _close(dl.trapz(y, dx=2.0), torch.trapz(ty, dx=2.0))
    _close(dl.cumulative_trapezoid(y, x), torch.cumulative_trapezoid(ty, tx))
    _close(dl.trapezoid(dl.zeros(3, 0, dtype=dl.float64)),
           torch.trapezoid(torch.zeros(3, 0, dtype=torch.float64)))
    yi, tyi = _pair([1, 3, 4], np.int64)
    _close(dl.trapezoid(yi), torch.trapezoid(tyi), 1e-6)
    g = dl.tensor(RNG.standard_normal((3, 5)), dtype=dl.float64, requires_grad=True)
    assert dl.autograd.gradcheck(lambda t: dl.trapezoid(t, dl.tensor(
        np.arange(5.0) ** 2, dtype=dl.float64)), (g,))
    assert dl.autograd.gradcheck(lambda t: dl.cumulative_trapezoid(t, dim=0), (g,))


def test_vander():
    x, tx = _pair([1.0, 2.0, -3.0, 0.5])
    for N in (None, 0, 1, 3, 6):
        for inc in (False, True):
            _close(dl.vander(x, N, inc), torch.vander(tx, N, inc))
    xi, txi = _pair([1, 2, 3], np.int64)
    _close(dl.vander(xi), torch.vander(txi))
    g = dl.tensor([1.0, 2.0, -0.5], dtype=dl.float64, requires_grad=True)
    assert dl.autograd.gradcheck(lambda t: dl.vander(t, 4), (g,))


@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "blackman_window",
                                  "bartlett_window", "kaiser_window"])
@pytest.mark.parametrize("n", [0, 1, 2, 5, 16, 31])
def test_windows(name, n):
    for periodic in (True, False):
        _close(getattr(dl, name)(n, periodic), getattr(torch, name)(n, periodic), 1e-6)
        _close(getattr(dl, name)(n, periodic, dtype=dl.float64),
               getattr(torch, name)(n, periodic, dtype=torch.float64), 1e-12)
    with pytest.raises(RuntimeError):
        getattr(dl, name)(-1)


def test_window_parameters_and_logspace():
    _close(dl.hamming_window(9, False, 0.6, 0.4), torch.hamming_window(9, False, 0.6, 0.4),
           1e-6)
    _close(dl.kaiser_window(9, True, 3.0), torch.kaiser_window(9, True, 3.0), 1e-6)
    _close(dl.logspace(-2, 3, 11), torch.logspace(-2, 3, 11), 1e-6)
    _close(dl.logspace(0, 4, 5, base=2.0, dtype=dl.float64),
           torch.logspace(0, 4, 5, base=2.0, dtype=torch.float64))
    _close(dl.logspace(1, 1, 0), torch.logspace(1, 1, 0))
