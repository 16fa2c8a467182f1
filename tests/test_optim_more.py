"""Adamax, NAdam, RAdam, Rprop, ASGD and Adafactor against torch.optim: trajectories over
many steps for each option, a torch state_dict continued in dlcore, dlcore's own state_dict
round trip, and bad hyper-parameters."""
import copy

import numpy as np
import pytest

import dlcore as dl
from dlcore.nn import Parameter

torch = pytest.importorskip("torch")

SHAPES = [(7,), (3, 5), (2, 3, 4), (1,)]

CASES = {
    "adamax": ("Adamax", dict(lr=0.01)),
    "adamax_all": ("Adamax", dict(lr=0.02, betas=(0.8, 0.9), eps=1e-4, weight_decay=0.1,
                                  maximize=True)),
    "nadam": ("NAdam", dict(lr=0.01)),
    "nadam_wd": ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    "nadam_decoupled": ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True,
                                      maximize=True, betas=(0.8, 0.95))),
    "radam": ("RAdam", dict(lr=0.01)),
    "radam_wd": ("RAdam", dict(lr=0.01, weight_decay=0.1, betas=(0.9, 0.8))),
    "radam_decoupled": ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True,
                                      maximize=True)),
    "rprop": ("Rprop", dict(lr=0.01)),
    "rprop_all": ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2),
                                maximize=True)),
    "asgd": ("ASGD", dict(lr=0.05)),
    "asgd_all": ("ASGD", dict(lr=0.05, lambd=1e-2, alpha=0.5, t0=5, weight_decay=0.1,
                              maximize=True)),
    "adafactor": ("Adafactor", dict()),
    "adafactor_all": ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-4, 1e-2), d=1.5,
                                        weight_decay=0.05, maximize=True)),
}


def _grads(arrays, rng):
    """Gradient of a noisy quadratic: bounded and parameter-dependent, with sign flips."""
    return [(0.5 * (a - 0.3) + 0.2 * rng.standard_normal(a.shape)).astype(a.dtype)
            for a in arrays]


def _run(lib, cls, kw, dtype, steps, groups=False, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    if lib is torch:
        params = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in arrays]
        as_np, as_t = (lambda p: p.detach().numpy()), torch.from_numpy
    else:
        params = [Parameter(a.copy()) for a in arrays]
        as_np, as_t = (lambda p: p._data), dl.tensor
    spec = params
    if groups:  # a second group with half the learning rate of the defaults
        spec = [dict(params=params[::2]), dict(params=params[1::2], lr=kw.get("lr", 0.01) / 2)]
    opt = cls(spec, **kw)
    grng = np.random.default_rng(seed + 1)
    for _ in range(steps):
        for p, g in zip(params, _grads([as_np(p) for p in params], grng)):
            p.grad = as_t(g)
        opt.step()
    return [as_np(p).copy() for p in params], opt, params


def _close(got, want, dtype):
    rtol = 2e-5 if dtype == np.float32 else 1e-11
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * max(1.0, np.abs(w).max()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_trajectory_matches_torch(case, dtype):
    name, kw = CASES[case]
    got, _, _ = _run(dl, getattr(dl.optim, name), kw, dtype, 40)
    want, _, _ = _run(torch, getattr(torch.optim, name), kw, dtype, 40)
    _close(got, want, dtype)


@pytest.mark.parametrize("name", ["Adamax", "NAdam", "RAdam", "Rprop", "ASGD", "Adafactor"])
def test_param_groups_match_torch(name):
    got, dopt, _ = _run(dl, getattr(dl.optim, name), dict(lr=0.02), np.float64, 15, True)
    want, topt, _ = _run(torch, getattr(torch.optim, name), dict(lr=0.02), np.float64, 15, True)
    _close(got, want, np.float64)
    # the same state entries under the same names
    dsd, tsd = dopt.state_dict(), topt.state_dict()
    assert sorted(dsd["state"]) == sorted(tsd["state"])
    for k in tsd["state"]:
        assert sorted(dsd["state"][k]) == sorted(tsd["state"][k])
        for n, v in tsd["state"][k].items():
            np.testing.assert_allclose(np.asarray(dsd["state"][k][n].numpy()
                                                  if hasattr(dsd["state"][k][n], "numpy")
                                                  else dsd["state"][k][n]),
                                       v.numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
def test_torch_state_dict_continues_in_dlcore(case):
    name, kw = CASES[case]
    _, topt, tparams = _run(torch, getattr(torch.optim, name), kw, np.float64, 6)
    tsd = topt.state_dict()
    sd = {"state": {k: {n: (v.numpy().copy() if hasattr(v, "numpy") else v)
                        for n, v in st.items()} for k, st in tsd["state"].items()},
          "param_groups": copy.deepcopy(tsd["param_groups"])}
    params = [Parameter(p.detach().numpy().copy()) for p in tparams]
    opt = getattr(dl.optim, name)(params)
    opt.load_state_dict(sd)
    rng = np.random.default_rng(9)
    for _ in range(8):
        for p, tp in zip(params, tparams):
            g = rng.standard_normal(p.shape)
            p.grad, tp.grad = dl.tensor(g), torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    _close([p._data for p in params], [p.detach().numpy() for p in tparams], np.float64)


@pytest.mark.parametrize("case", sorted(CASES))
def test_state_dict_round_trip(case):
    name, kw = CASES[case]
    cls = getattr(dl.optim, name)
    _, opt, params = _run(dl, cls, kw, np.float32, 5)
    sd = copy.deepcopy(opt.state_dict())
    params2 = [Parameter(p._data.copy()) for p in params]
    opt2 = cls(params2)
    opt2.load_state_dict(sd)
    for ps, o in ((params, opt), (params2, opt2)):
        rng = np.random.default_rng(3)
        for _ in range(5):
            for p in ps:
                p.grad = dl.tensor(rng.standard_normal(p.shape).astype(np.float32))
            o.step()
    for p, q in zip(params, params2):
        np.testing.assert_array_equal(p._data, q._data)


def test_training_reduces_loss():
    rng = np.random.default_rng(0)
    x = dl.tensor(rng.standard_normal((64, 5)).astype(np.float32))
    y = x @ dl.tensor(rng.standard_normal((5, 1)).astype(np.float32))
    for name in ["Adamax", "NAdam", "RAdam", "Rprop", "ASGD", "Adafactor"]:
        dl.manual_seed(0)
        net = dl.nn.Linear(5, 1)
        opt = getattr(dl.optim, name)(net.parameters(), lr=0.02)
        first = None
        for _ in range(150):
            opt.zero_grad()
            loss = dl.nn.functional.mse_loss(net(x), y)
            loss.backward()
            opt.step()
            first = first if first is not None else loss.item()
        assert loss.item() < 0.3 * first, name


BAD = [
    ("Adamax", dict(lr=-1), ValueError),
    ("Adamax", dict(betas=(1.0, 0.9)), ValueError),
    ("Adamax", dict(eps=-1e-8), ValueError),
    ("NAdam", dict(momentum_decay=-0.1), ValueError),
    ("NAdam", dict(weight_decay=-0.1), ValueError),
    ("RAdam", dict(betas=(0.9, 1.5)), ValueError),
    ("Rprop", dict(etas=(1.5, 1.2)), ValueError),
    ("Rprop", dict(etas=(0.5, 0.9)), ValueError),
    ("Rprop", dict(lr=-0.1), ValueError),
    ("ASGD", dict(lr=-0.1), ValueError),
    ("ASGD", dict(weight_decay=-0.1), ValueError),
    ("Adafactor", dict(beta2_decay=0.5), ValueError),
    ("Adafactor", dict(d=0.5), ValueError),
    ("Adafactor", dict(eps=(-1.0, 1e-3)), ValueError),
    ("Adamax", dict(lr="x"), TypeError),
]


@pytest.mark.parametrize("i", range(len(BAD)))
def test_bad_hyperparameters_raise_like_torch(i):
    name, kw, exc = BAD[i]
    with pytest.raises(exc):
        getattr(dl.optim, name)([dl.zeros(3, requires_grad=True)], **kw)
    with pytest.raises((ValueError, TypeError)):  # torch refuses the same arguments
        getattr(torch.optim, name)([torch.zeros(3, requires_grad=True)], **kw)


def test_load_state_dict_bad_shape_raises():
    p = [Parameter(np.zeros((3, 4), np.float32))]
    opt = dl.optim.Adafactor(p)
    p[0].grad = dl.ones(3, 4)
    opt.step()
    sd = copy.deepcopy(opt.state_dict())
    sd["state"][0]["row_var"] = np.zeros((4, 1), np.float32)
    with pytest.raises(ValueError, match="row_var"):
        dl.optim.Adafactor([Parameter(np.zeros((3, 4), np.float32))]).load_state_dict(sd)
    o2 = dl.optim.NAdam([Parameter(np.zeros(3, np.float32))])
    with pytest.raises(ValueError, match="mu_product"):
        o2.load_state_dict({"state": {0: {"step": 1.0, "mu_product": np.zeros(3),
                                          "exp_avg": np.zeros(3), "exp_avg_sq": np.zeros(3)}},
                            "param_groups": [o2.state_dict()["param_groups"][0]]})
