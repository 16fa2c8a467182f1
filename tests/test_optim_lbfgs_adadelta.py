"""optim.LBFGS (fixed step and strong-Wolfe line search, closure API) and optim.Adadelta
against torch on the same problems, step for step; argument errors."""
import numpy as np
import pytest

import dlcore as dl

torch = pytest.importorskip("torch")


def _problem(lib, dtype):
    """A small least-squares + quartic problem (2 parameter tensors) in `lib`."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((12, 5))
    b = rng.standard_normal(12)
    w0 = rng.standard_normal(5) * 0.1
    c0 = np.array([0.5])
    T = lib.tensor
    w = T(w0.astype(dtype), requires_grad=True)
    c = T(c0.astype(dtype), requires_grad=True)
    A_, b_ = T(A.astype(dtype)), T(b.astype(dtype))

    def loss_fn():
        r = A_ @ w + c - b_
        return (r * r).mean() + ((w * w) * (w * w)).sum() * 0.01 + (c * c).sum()
    return [w, c], loss_fn


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
@pytest.mark.parametrize("history", [100, 3])
def test_lbfgs_matches_torch(line_search, history):
    kw = dict(lr=0.8 if line_search is None else 1, max_iter=7, history_size=history,
              line_search_fn=line_search)
    pd, fd = _problem(dl, np.float64)
    pt, ft = _problem(torch, np.float64)
    od = dl.optim.LBFGS(pd, **kw)
    ot = torch.optim.LBFGS(pt, **kw)
    for _ in range(4):
        def cd():
            od.zero_grad()
            loss = fd()
            loss.backward()
            return loss

        def ct():
            ot.zero_grad()
            loss = ft()
            loss.backward()
            return loss
        ld = od.step(cd)
        lt = ot.step(ct)
        assert abs(ld.item() - lt.item()) < 1e-9
        for a, b in zip(pd, pt):
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-7, atol=1e-9)
    sd, st = od.state[pd[0]], ot.state[pt[0]]
    assert sd["func_evals"] == st["func_evals"] and sd["n_iter"] == st["n_iter"]


def test_lbfgs_converges_float32_lstm_style():
    # the time-sequence-prediction shape: a float32 model, LBFGS with a closure
    dl.manual_seed(0)
    net = dl.nn.Sequential(dl.nn.Linear(1, 16), dl.nn.Tanh(), dl.nn.Linear(16, 1))
    x = dl.linspace(-2, 2, 64).reshape(64, 1)
    y = (x * 1.5).sin()
    opt = dl.optim.LBFGS(net.parameters(), lr=0.8)
    first = None
    for _ in range(10):
        def closure():
            opt.zero_grad()
            loss = dl.nn.functional.mse_loss(net(x), y)
            loss.backward()
            return loss
        loss = opt.step(closure).item()
        first = loss if first is None else first
    final = dl.nn.functional.mse_loss(net(x), y).item()
    assert final < 0.05 * first


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.5, rho=0.8, weight_decay=0.1),
                                dict(eps=1e-4, maximize=True)])
def test_adadelta_matches_torch(kw):
    pd, fd = _problem(dl, np.float64)
    pt, ft = _problem(torch, np.float64)
    od = dl.optim.Adadelta(pd, **kw)
    ot = torch.optim.Adadelta(pt, **kw)
    for _ in range(6):
        for o, f in ((od, fd), (ot, ft)):
            o.zero_grad()
            f().backward()
            o.step()
    for a, b in zip(pd, pt):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(od.state[pd[0]]["acc_delta"].numpy(),
                               ot.state[pt[0]]["acc_delta"].numpy(), rtol=1e-10)


def test_errors():
    p = [dl.zeros(3, requires_grad=True)]
    with pytest.raises(ValueError, match="line_search_fn"):
        dl.optim.LBFGS(p, line_search_fn="armijo")
    with pytest.raises(RuntimeError, match="closure"):
        dl.optim.LBFGS(p).step(None)
    with pytest.raises(ValueError, match="rho"):
        dl.optim.Adadelta(p, rho=1.5)
    with pytest.raises(ValueError, match="parameter groups"):
        dl.optim.LBFGS([{"params": p}, {"params": [dl.zeros(2, requires_grad=True)]}])
