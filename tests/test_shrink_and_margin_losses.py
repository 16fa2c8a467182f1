"""The shrinkage/gating activations and the margin / NLL losses composed from Tensor ops:
parity with torch (values and gradients), float64 finite differences, torch's errors.  Their
OpInfo/ModuleInfo samples run in test_torch_opinfo / test_torch_moduleinfo as well."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from _torch_parity import check, gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

R = np.random.default_rng(11)
X = R.standard_normal((4, 6)) * 1.5
X[0, :3] = [0.5, -0.5, 0.1]  # at and near the shrink thresholds
Y = np.sign(R.standard_normal((4, 6)))
T = R.uniform(0, 3, (4, 6))
V = R.uniform(0.1, 2, (4, 6))

ACTS = {
    "softsign": lambda f, x: f.softsign(x),
    "tanhshrink": lambda f, x: f.tanhshrink(x),
    "hardshrink": lambda f, x: f.hardshrink(x, 0.4),
    "softshrink": lambda f, x: f.softshrink(x, 0.3),
    "threshold": lambda f, x: f.threshold(x, 0.2, -3.0),
    "glu": lambda f, x: f.glu(x, 1),
}
LOSSES = {  # (loss(f, *tensors, reduction), arrays, indices of the arrays that take a gradient)
    "soft_margin": (lambda f, x, y, r: f.soft_margin_loss(x, y, reduction=r), [X, Y], (0,)),
    "hinge_embedding": (lambda f, x, y, r: f.hinge_embedding_loss(x, y, margin=0.7,
                                                                  reduction=r), [X, Y], (0,)),
    "multilabel_soft_margin": (lambda f, x, y, r: f.multilabel_soft_margin_loss(
        x, y, reduction=r), [X, (Y > 0).astype(np.float64)], (0, 1)),
    "poisson_nll": (lambda f, x, t, r: f.poisson_nll_loss(x, t, full=True, reduction=r),
                    [X, T], (0, 1)),
    "poisson_nll_rate": (lambda f, x, t, r: f.poisson_nll_loss(x, t, log_input=False,
                                                               reduction=r),
                         [np.abs(X) + 0.1, T], (0, 1)),
    "gaussian_nll": (lambda f, x, t, v, r: f.gaussian_nll_loss(x, t, v, full=True, reduction=r),
                     [X, T, V], (0, 1, 2)),
    "gaussian_nll_homoscedastic": (lambda f, x, t, v, r: f.gaussian_nll_loss(x, t, v,
                                                                              reduction=r),
                                   [X, T, V[:, :1]], (0, 1, 2)),
}


@pytest.mark.parametrize("name", sorted(ACTS))
def test_activation_matches_torch_and_gradcheck(name):
    f = ACTS[name]
    check(lambda x: f(F, x), lambda x: f(TF, x), [X])
    gradcheck(lambda x: f(F, x), [X[1:]])  # (away from the kinks of row 0)


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_matches_torch_and_gradcheck(name, reduction):
    f, arrays, diff = LOSSES[name]
    res = []
    for lib, fn in ((dl, F), (torch, TF)):
        ins = [lib.tensor(a.copy(), dtype=lib.float64, requires_grad=i in diff)
               for i, a in enumerate(arrays)]
        out = f(fn, *ins, reduction)
        w = np.random.default_rng(0).standard_normal(tuple(out.shape))
        (out * lib.tensor(w, dtype=lib.float64)).sum().backward()
        res.append([out.detach().numpy()] + [ins[i].grad.numpy() for i in diff])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    if reduction == "mean":
        ins = [dl.tensor(a.copy(), dtype=dl.float64, requires_grad=i in diff)
               for i, a in enumerate(arrays)]
        assert dl.autograd.gradcheck(lambda *t: f(F, *t, reduction), tuple(ins))


def test_modules_match_functions():
    x = dl.tensor(X)
    assert np.allclose(dl.nn.GLU(1)(x).numpy(), F.glu(x, 1).numpy())
    assert np.allclose(dl.nn.Threshold(0.2, -3.0)(x).numpy(), F.threshold(x, 0.2, -3.0).numpy())
    m = dl.nn.GaussianNLLLoss(full=True)
    assert np.allclose(m(x, dl.tensor(T), dl.tensor(V)).item(),
                       TF.gaussian_nll_loss(torch.tensor(X), torch.tensor(T), torch.tensor(V),
                                            full=True).item())


def test_errors_as_torch():
    x = dl.tensor(X)
    for lib, f, make in ((dl, F, dl.tensor), (torch, TF, torch.tensor)):
        with pytest.raises((ValueError, RuntimeError)):
            f.glu(make(X[:, :5]), 1)  # odd halving dim
        with pytest.raises((ValueError, RuntimeError)):
            f.softshrink(make(X), -0.5)
        with pytest.raises(ValueError, match="negative"):
            f.gaussian_nll_loss(make(X), make(T), make(-V))
        with pytest.raises(ValueError):
            f.gaussian_nll_loss(make(X), make(T), make(V[:2]))
    with pytest.raises(TypeError):
        F.softsign(np.ones(3))
    assert x.shape == (4, 6)
