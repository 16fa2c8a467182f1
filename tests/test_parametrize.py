"""nn.utils.parametrize / parametrizations (weight_norm, spectral_norm) and the older hook
forms nn.utils.weight_norm / spectral_norm against torch on loaded state (state_dict keys,
forward, gradients of the stored originals, power iteration in training and eval), custom
parametrizations, removal, errors."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.nn.utils import parametrize, parametrizations as P
from _torch_parity import check_module

torch = pytest.importorskip("torch")
TP = torch.nn.utils.parametrizations


def _x(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_parametrization_matches_torch(dim):
    tm = TP.weight_norm(torch.nn.Linear(5, 4), dim=dim)
    m = P.weight_norm(dl.nn.Linear(5, 4), dim=dim)
    assert sorted(m.state_dict()) == sorted(tm.state_dict())
    assert "parametrizations.weight.original0" in m.state_dict()
    check_module(m, tm, [_x(3, 5)])
    np.testing.assert_allclose(m.weight.numpy(), tm.weight.detach().numpy(), rtol=1e-6)
    assert parametrize.is_parametrized(m, "weight") and not parametrize.is_parametrized(m, "bias")


def test_weight_norm_conv_trains_and_removes():
    m = P.weight_norm(dl.nn.Conv2d(2, 3, 3))
    w0 = m.weight.numpy().copy()
    opt = dl.optim.SGD(m.parameters(), lr=0.1)
    names = sorted(n for n, _ in m.named_parameters())
    assert names == ["bias", "parametrizations.weight.original0",
                     "parametrizations.weight.original1"]
    loss = m(dl.randn(2, 2, 5, 5)).pow(2).mean()
    loss.backward()
    opt.step()
    assert not np.allclose(m.weight.numpy(), w0)
    w1 = m.weight.numpy().copy()
    parametrize.remove_parametrizations(m, "weight")
    assert type(m) is dl.nn.Conv2d and isinstance(m.weight, dl.nn.Parameter)
    np.testing.assert_allclose(m.weight.numpy(), w1, rtol=1e-6)
    assert sorted(m.state_dict()) == ["bias", "weight"]


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("make", ["linear", "conv", "convT"])
def test_spectral_norm_parametrization_matches_torch(train, make):
    if make == "linear":
        tm, m, x = torch.nn.Linear(6, 4), dl.nn.Linear(6, 4), _x(3, 6)
    elif make == "conv":
        tm, m, x = torch.nn.Conv2d(2, 3, 3), dl.nn.Conv2d(2, 3, 3), _x(2, 2, 5, 5)
    else:
        tm, m, x = (torch.nn.ConvTranspose2d(2, 3, 3), dl.nn.ConvTranspose2d(2, 3, 3),
                    _x(2, 2, 4, 4))
    TP.spectral_norm(tm)
    P.spectral_norm(m)
    assert sorted(m.state_dict()) == sorted(tm.state_dict())
    for _ in range(2):  # the power iteration's u, v carry over between calls, as in torch
        check_module(m, tm, [x], train=train, rtol=1e-4, atol=1e-5)
        for p in list(m.parameters()) + list(tm.parameters()):
            p.grad = None


def test_spectral_norm_bounds_the_largest_singular_value():
    m = P.spectral_norm(dl.nn.Linear(8, 8), n_power_iterations=5)
    m.weight  # noqa: B018
    for _ in range(10):
        w = m.weight.detach().numpy()
    assert abs(np.linalg.svd(w, compute_uv=False)[0] - 1.0) < 1e-3


@pytest.mark.parametrize("train", [True, False])
def test_old_style_hooks_match_torch(train):
    tm = torch.nn.utils.weight_norm(torch.nn.Linear(5, 3))
    m = dl.nn.utils.weight_norm(dl.nn.Linear(5, 3))
    assert sorted(m.state_dict()) == sorted(tm.state_dict()) == ["bias", "weight_g", "weight_v"]
    check_module(m, tm, [_x(4, 5)], train=train)
    dl.nn.utils.remove_weight_norm(m)
    assert sorted(m.state_dict()) == ["bias", "weight"]

    tm = torch.nn.utils.spectral_norm(torch.nn.Conv2d(2, 3, 3))
    m = dl.nn.utils.spectral_norm(dl.nn.Conv2d(2, 3, 3))
    assert sorted(m.state_dict()) == sorted(tm.state_dict())
    check_module(m, tm, [_x(2, 2, 5, 5)], train=train, rtol=1e-4, atol=1e-5)
    dl.nn.utils.remove_spectral_norm(m)
    assert "weight" in m.state_dict() and "weight_orig" not in m.state_dict()


class _Symmetric(dl.nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).transpose(0, 1)


class _Scale(dl.nn.Module):
    def forward(self, X):
        return X * 2.0

    def right_inverse(self, X):
        return X / 2.0


def test_custom_parametrization_chain_and_assignment():
    m = dl.nn.Linear(3, 3)
    parametrize.register_parametrization(m, "weight", _Symmetric())
    w = m.weight.numpy()
    np.testing.assert_allclose(w, w.T)
    parametrize.register_parametrization(m, "weight", _Scale())
    np.testing.assert_allclose(m.weight.numpy(), 2 * w)
    target = np.arange(9, dtype=np.float32).reshape(3, 3)
    target = target + target.T
    with pytest.raises(RuntimeError, match="no right_inverse"):
        m.weight = dl.tensor(target)  # _Symmetric has no right_inverse
    other = dl.nn.Linear(3, 3)  # untouched by the per-instance class
    assert type(other) is dl.nn.Linear and "weight" in other._parameters
    with parametrize.cached():
        assert m.weight is m.weight
    assert m.weight is not m.weight


def test_errors():
    m = dl.nn.Linear(3, 3)
    with pytest.raises(ValueError, match="no parameter or buffer 'nope'"):
        parametrize.register_parametrization(m, "nope", _Scale())

    class Shrink(dl.nn.Module):
        def forward(self, X):
            return X[:1]
    with pytest.raises(ValueError, match="keep the shape"):
        parametrize.register_parametrization(m, "weight", Shrink())
    assert isinstance(m.weight, dl.nn.Parameter) and "weight" in m._parameters
    with pytest.raises(ValueError, match="no parametrization"):
        parametrize.remove_parametrizations(m, "weight")
    with pytest.raises(ValueError, match="n_power_iterations"):
        P.spectral_norm(dl.nn.Linear(2, 2), n_power_iterations=0)
