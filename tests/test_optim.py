"""dlcore.optim: parity with torch.optim over 100 steps for every option, the fused kernels
against a NumPy reference on every ISA path and thread count, state_dict round trips, errors."""
import copy

import numpy as np
import pytest

import dlcore as dl
from dlcore import _C
from dlcore.nn import Parameter
from dlcore.optim import SGD, Adam, AdamW, RMSprop, Adagrad

SHAPES = [(7,), (3, 5), (33,), (1,)]


# ------------------------------------------------------------------- helpers: two runs
def _make_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _grads(params, step, rng):
    """Gradient of a noisy quadratic: keeps the trajectory bounded and parameter-dependent."""
    return [(0.5 * (p - 0.3) + 0.2 * rng.standard_normal(p.shape)).astype(p.dtype)
            for p in params]


def _groups(params, group_opts, to_param):
    """Splits the parameters over len(group_opts) groups, each with its options."""
    k = len(group_opts)
    out = []
    for i, opts in enumerate(group_opts):
        out.append(dict(params=[to_param(p) for p in params[i::k]], **opts))
    return out


def _run_dl(cls, defaults, group_opts, dtype, steps, seed=0):
    arrays = _make_params(dtype, seed)
    params = [Parameter(a.copy()) for a in arrays]
    k = len(group_opts)
    groups = [dict(params=params[i::k], **o) for i, o in enumerate(group_opts)]
    opt = cls(groups, **defaults)
    rng = np.random.default_rng(seed + 1)
    for t in range(steps):
        grads = _grads([p._data for p in params], t, rng)
        for p, g in zip(params, grads):
            p.grad = dl.tensor(g)
        opt.step()
    return [p._data for p in params], opt


def _run_torch(torch, cls, defaults, group_opts, dtype, steps, seed=0):
    arrays = _make_params(dtype, seed)
    params = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in arrays]
    k = len(group_opts)
    groups = [dict(params=params[i::k], **o) for i, o in enumerate(group_opts)]
    opt = cls(groups, **defaults)
    rng = np.random.default_rng(seed + 1)
    for t in range(steps):
        grads = _grads([p.detach().numpy() for p in params], t, rng)
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g)
        opt.step()
    return [p.detach().numpy() for p in params], opt


def _assert_close(got, want, dtype):
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for g, w in zip(got, want):
        scale = max(1.0, float(np.abs(w).max()))
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * scale)


# ------------------------------------------------------------------------ torch parity
CASES = {
    "sgd": ("SGD", dict(lr=0.05), [{}]),
    "sgd_momentum": ("SGD", dict(lr=0.05, momentum=0.9), [{}]),
    "sgd_dampening": ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3), [{}]),
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True), [{}]),
    "sgd_wd": ("SGD", dict(lr=0.05, weight_decay=0.1), [{}]),
    "sgd_maximize": ("SGD", dict(lr=0.01, momentum=0.5, maximize=True), [{}]),
    "sgd_groups": ("SGD", dict(lr=0.05, momentum=0.9),
                   [{}, dict(lr=0.02, nesterov=True, weight_decay=0.01),
                    dict(momentum=0.0, weight_decay=0.2, maximize=True)]),
    "adam": ("Adam", dict(lr=0.01), [{}]),
    "adam_amsgrad": ("Adam", dict(lr=0.01, amsgrad=True), [{}]),
    "adam_wd": ("Adam", dict(lr=0.01, weight_decay=0.1), [{}]),
    "adam_maximize": ("Adam", dict(lr=0.01, maximize=True, amsgrad=True, weight_decay=0.05),
                      [{}]),
    "adam_betas": ("Adam", dict(lr=0.02, betas=(0.3, 0.6), eps=1e-3), [{}]),
    "adam_decoupled": ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
                       [{}]),
    "adam_groups": ("Adam", dict(lr=0.01),
                    [{}, dict(lr=0.003, amsgrad=True, weight_decay=0.02),
                     dict(betas=(0.8, 0.99), maximize=True)]),
    "adamw": ("AdamW", dict(lr=0.01), [{}]),
    "adamw_amsgrad": ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.1), [{}]),
    "adamw_groups": ("AdamW", dict(lr=0.01),
                     [dict(weight_decay=0.0), dict(lr=0.05, weight_decay=0.3)]),
    "rmsprop": ("RMSprop", dict(lr=0.01), [{}]),
    "rmsprop_centered": ("RMSprop", dict(lr=0.01, centered=True), [{}]),
    "rmsprop_momentum": ("RMSprop", dict(lr=0.01, momentum=0.9), [{}]),
    "rmsprop_all": ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1,
                                    alpha=0.3, eps=1e-4), [{}]),
    "rmsprop_maximize": ("RMSprop", dict(lr=0.005, maximize=True), [{}]),
    "rmsprop_groups": ("RMSprop", dict(lr=0.01),
                       [{}, dict(centered=True, alpha=0.9), dict(momentum=0.7, lr=0.002)]),
    "adagrad": ("Adagrad", dict(lr=0.1), [{}]),
    "adagrad_decay": ("Adagrad", dict(lr=0.1, lr_decay=0.05), [{}]),
    "adagrad_all": ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1,
                                    initial_accumulator_value=0.5, eps=1e-6), [{}]),
    "adagrad_maximize": ("Adagrad", dict(lr=0.05, maximize=True), [{}]),
    "adagrad_groups": ("Adagrad", dict(lr=0.1),
                       [{}, dict(lr=0.3, lr_decay=0.1), dict(weight_decay=0.05)]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_parity_with_torch(case, dtype, torch):
    name, defaults, group_opts = CASES[case]
    got, _ = _run_dl(getattr(dl.optim, name), defaults, group_opts, dtype, 100)
    want, _ = _run_torch(torch, getattr(torch.optim, name), defaults, group_opts, dtype, 100)
    _assert_close(got, want, dtype)


def test_parity_default_threads_large(torch):
    """A buffer big enough to be split over threads, against torch."""
    _C.set_num_threads(2)
    try:
        rng = np.random.default_rng(3)
        a = rng.standard_normal(70001).astype(np.float32)
        p = Parameter(a.copy())
        tp = torch.nn.Parameter(torch.from_numpy(a.copy()))
        opt = Adam([p], lr=0.01, amsgrad=True, weight_decay=0.01)
        topt = torch.optim.Adam([tp], lr=0.01, amsgrad=True, weight_decay=0.01)
        for _ in range(10):
            g = rng.standard_normal(a.shape).astype(np.float32)
            p.grad = dl.tensor(g)
            tp.grad = torch.from_numpy(g.copy())
            opt.step()
            topt.step()
        _assert_close([p._data], [tp.detach().numpy()], np.float32)
    finally:
        _C.set_num_threads(1)


# ------------------------------------------------- kernels vs NumPy: every ISA, 1/2 threads
def _ref_sgd(p, g, st, lr, momentum, dampening, wd, nesterov, maximize):
    d = -g if maximize else g.copy()
    if wd:
        d = d + wd * p
    if momentum:
        if "buf" not in st:
            st["buf"] = d.copy()
        else:
            st["buf"] = st["buf"] * momentum + (1 - dampening) * d
        d = d + momentum * st["buf"] if nesterov else st["buf"]
    return p - lr * d


def _ref_adam(p, g, st, lr, b1, b2, eps, wd, amsgrad, maximize, decoupled):
    d = -g if maximize else g.copy()
    st["t"] = st.get("t", 0) + 1
    if wd:
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            d = d + wd * p
    st["m"] = st.get("m", 0) * b1 + (1 - b1) * d
    st["v"] = st.get("v", 0) * b2 + (1 - b2) * d * d
    v = st["v"]
    if amsgrad:
        st["vmax"] = np.maximum(st.get("vmax", 0), v)
        v = st["vmax"]
    bc1, bc2 = 1 - b1 ** st["t"], 1 - b2 ** st["t"]
    return p - lr / bc1 * st["m"] / (np.sqrt(v) / np.sqrt(bc2) + eps)


def _ref_rmsprop(p, g, st, lr, alpha, eps, wd, momentum, centered, maximize):
    d = -g if maximize else g.copy()
    if wd:
        d = d + wd * p
    st["sq"] = st.get("sq", 0) * alpha + (1 - alpha) * d * d
    if centered:
        st["ga"] = st.get("ga", 0) * alpha + (1 - alpha) * d
        avg = np.sqrt(st["sq"] - st["ga"] ** 2) + eps
    else:
        avg = np.sqrt(st["sq"]) + eps
    if momentum > 0:
        st["buf"] = st.get("buf", 0) * momentum + d / avg
        return p - lr * st["buf"]
    return p - lr * d / avg


def _ref_adagrad(p, g, st, lr, lr_decay, wd, eps, maximize):
    d = -g if maximize else g.copy()
    st["t"] = st.get("t", 0) + 1
    if wd:
        d = d + wd * p
    st["sum"] = st.get("sum", 0) + d * d
    clr = lr / (1 + (st["t"] - 1) * lr_decay)
    return p - clr * d / (np.sqrt(st["sum"]) + eps)


KERNEL_CASES = [
    (SGD, _ref_sgd, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01,
                         nesterov=False, maximize=False)),
    (SGD, _ref_sgd, dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0,
                         nesterov=True, maximize=True)),
    (Adam, _ref_adam, dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
                           amsgrad=True, maximize=False)),
    (AdamW, _ref_adam, dict(lr=0.01, betas=(0.4, 0.9), eps=1e-6, weight_decay=0.1,
                            amsgrad=False, maximize=True)),
    (RMSprop, _ref_rmsprop, dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.01,
                                 momentum=0.5, centered=True, maximize=False)),
    (RMSprop, _ref_rmsprop, dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0,
                                 momentum=0.0, centered=False, maximize=True)),
    (Adagrad, _ref_adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, eps=1e-10,
                                 maximize=False)),
]


def _ref_args(cls, kw):
    if cls is SGD:
        return (kw["lr"], kw["momentum"], kw["dampening"], kw["weight_decay"], kw["nesterov"],
                kw["maximize"])
    if cls in (Adam, AdamW):
        return (kw["lr"], kw["betas"][0], kw["betas"][1], kw["eps"], kw["weight_decay"],
                kw["amsgrad"], kw["maximize"], cls is AdamW)
    if cls is RMSprop:
        return (kw["lr"], kw["alpha"], kw["eps"], kw["weight_decay"], kw["momentum"],
                kw["centered"], kw["maximize"])
    return (kw["lr"], kw["lr_decay"], kw["weight_decay"], kw["eps"], kw["maximize"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("k", range(len(KERNEL_CASES)))
def test_kernels_vs_numpy(k, dtype, isa, threads):
    cls, ref, kw = KERNEL_CASES[k]
    rng = np.random.default_rng(k)
    sizes = (1, 7, 17, 33, 100, 70001)  # the last is split over the threads
    arrays = [rng.standard_normal(n) for n in sizes]
    params = [Parameter(a.astype(dtype)) for a in arrays]
    opt = cls(params, **kw)
    refs = [a.copy() for a in arrays]
    states = [{} for _ in arrays]
    args = _ref_args(cls, kw)
    for _ in range(5):
        for i, p in enumerate(params):
            g = rng.standard_normal(p.shape)
            p.grad = dl.tensor(g.astype(dtype))
            refs[i] = ref(refs[i], g.astype(dtype).astype(np.float64), states[i], *args)
        opt.step()
    rtol = 2e-5 if dtype == np.float32 else 1e-11
    for p, r in zip(params, refs):
        np.testing.assert_allclose(p._data, r, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("isa_name", list(_C.supported_isas()))
def test_isa_paths_agree(isa_name):
    """Every SIMD path gives the same update as the portable one (to rounding)."""
    rng = np.random.default_rng(9)
    a = rng.standard_normal(1001).astype(np.float32)
    grads = [rng.standard_normal(1001).astype(np.float32) for _ in range(5)]
    out = {}
    prev = _C.get_isa()
    try:
        for name in ("generic", isa_name):
            _C.set_isa(name)
            p = Parameter(a.copy())
            opt = Adam([p], lr=0.01, amsgrad=True)
            for g in grads:
                p.grad = dl.tensor(g)
                opt.step()
            out[name] = p._data.copy()
    finally:
        _C.set_isa(prev)
    np.testing.assert_allclose(out[isa_name], out["generic"], rtol=1e-6, atol=1e-7)


def test_nan_and_inf_propagate():
    p = Parameter(np.array([1.0, np.inf, 2.0, 3.0], dtype=np.float32))
    opt = Adam([p], lr=0.1)
    p.grad = dl.tensor(np.array([np.nan, 1.0, 1.0, 1.0], dtype=np.float32))
    opt.step()
    assert np.isnan(p._data[0]) and np.isposinf(p._data[1]) and np.isfinite(p._data[2:]).all()
    q = Parameter(np.array([np.inf, 1.0], dtype=np.float32))
    sgd = SGD([q], lr=0.1)  # weight_decay 0 must not turn inf * 0 into NaN
    q.grad = dl.tensor(np.array([1.0, 1.0], dtype=np.float32))
    sgd.step()
    assert np.isposinf(q._data[0])


# ------------------------------------------------------------------ optimizer mechanics
def test_skips_params_without_grad():
    a, b = Parameter(np.ones(3, np.float32)), Parameter(np.ones(3, np.float32))
    opt = Adam([a, b], lr=0.1)
    a.grad = dl.tensor(np.ones(3, np.float32))
    opt.step()
    assert not np.allclose(a._data, 1.0)
    np.testing.assert_array_equal(b._data, 1.0)
    assert b not in opt.state and a in opt.state


def test_non_contiguous_param_updated_in_place():
    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    p = Parameter(np.zeros(1))
    p._data = base.T  # a transposed view: not C-contiguous
    ref = Parameter(np.ascontiguousarray(base.T))
    g = np.linspace(-1, 1, 12).reshape(4, 3)
    for q in (p, ref):
        q.grad = dl.tensor(g)
    o1, o2 = SGD([p], lr=0.1, momentum=0.9), SGD([ref], lr=0.1, momentum=0.9)
    for _ in range(3):
        o1.step()
        o2.step()
    np.testing.assert_array_equal(p._data, ref._data)
    np.testing.assert_array_equal(base.T, ref._data)  # written through the view
    p.grad = dl.tensor(np.asfortranarray(g))  # a non-contiguous gradient is fine too
    o1.step()
    o2.step()
    np.testing.assert_array_equal(p._data, ref._data)


def test_zero_grad_and_closure():
    p = Parameter(np.ones(4, np.float32))
    opt = SGD([p], lr=0.5)
    p.grad = dl.tensor(np.ones(4, np.float32))
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad._data, 0)
    opt.zero_grad()
    assert p.grad is None

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss.item()) == 4.0
    np.testing.assert_allclose(p._data, 0.0)  # p - 0.5 * 2p


def test_training_reduces_loss():
    dl.manual_seed(0)
    model = dl.nn.Linear(5, 1)
    rng = np.random.default_rng(0)
    x = dl.tensor(rng.standard_normal((64, 5)).astype(np.float32))
    y = dl.tensor((x._data @ np.arange(1, 6, dtype=np.float32))[:, None])
    opt = Adam(model.parameters(), lr=0.05)
    first = None
    for _ in range(200):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        first = first if first is not None else float(loss.item())
    assert float(loss.item()) < 1e-2 * first


def test_add_param_group_and_defaults():
    a, b = Parameter(np.ones(2, np.float32)), Parameter(np.ones(2, np.float32))
    opt = SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    named = Adam([("w", a), ("b", b)], lr=0.1)
    assert named.param_groups[0]["param_names"] == ["w", "b"]


# ------------------------------------------------------------------------ state_dict
OPT_FACTORIES = {
    "sgd": lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda ps: Adam([dict(params=ps[:2]), dict(params=ps[2:], amsgrad=True)], lr=0.01),
    "adamw": lambda ps: AdamW(ps, lr=0.01, weight_decay=0.1),
    "rmsprop": lambda ps: RMSprop(ps, lr=0.01, centered=True, momentum=0.5),
    "adagrad": lambda ps: Adagrad(ps, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
}


def _steps(opt, params, rng, n):
    for _ in range(n):
        for p in params:
            p.grad = dl.tensor(rng.standard_normal(p.shape).astype(p._data.dtype))
        opt.step()


@pytest.mark.parametrize("name", sorted(OPT_FACTORIES))
def test_state_dict_round_trip(name):
    rng = np.random.default_rng(0)
    arrays = _make_params(np.float32)
    params = [Parameter(a.copy()) for a in arrays]
    opt = OPT_FACTORIES[name](params)
    _steps(opt, params, np.random.default_rng(1), 7)
    sd = copy.deepcopy(opt.state_dict())
    assert sorted(sd["state"]) == list(range(len(params)))
    # a fresh optimizer on copies of the current parameters, loaded from the saved state
    params2 = [Parameter(p._data.copy()) for p in params]
    opt2 = OPT_FACTORIES[name](params2)
    opt2.load_state_dict(sd)
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    _steps(opt, params, rng_a, 6)
    _steps(opt2, params2, rng_b, 6)
    for p, q in zip(params, params2):
        np.testing.assert_array_equal(p._data, q._data)
    del rng


def test_load_torch_state_dict(torch):
    """A torch Adam state (tensors converted to NumPy) continues identically in dlcore."""
    arrays = _make_params(np.float64)
    tparams = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in arrays]
    topt = torch.optim.Adam(tparams, lr=0.01, amsgrad=True)
    rng = np.random.default_rng(2)
    for _ in range(5):
        for p in tparams:
            p.grad = torch.from_numpy(rng.standard_normal(tuple(p.shape)))
        topt.step()
    tsd = topt.state_dict()
    sd = {"state": {k: {n: v.numpy().copy() for n, v in st.items()}
                    for k, st in tsd["state"].items()},
          "param_groups": copy.deepcopy(tsd["param_groups"])}
    params = [Parameter(p.detach().numpy().copy()) for p in tparams]
    opt = Adam(params, lr=0.5)
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["amsgrad"] is True
    for _ in range(5):
        for p, tp in zip(params, tparams):
            g = rng.standard_normal(p.shape)
            p.grad = dl.tensor(g)
            tp.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    _assert_close([p._data for p in params], [p.detach().numpy() for p in tparams],
                  np.float64)


def test_load_state_dict_mismatch_errors():
    params = [Parameter(a) for a in _make_params(np.float32)]
    opt = Adam(params, lr=0.01)
    _steps(opt, params, np.random.default_rng(0), 1)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        Adam([dict(params=params[:2]), dict(params=params[2:])]).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameters in the state dict"):
        Adam(params[:3]).load_state_dict(sd)
    other = [Parameter(np.zeros((2, 2), np.float32)) for _ in params]
    with pytest.raises(ValueError, match="shape"):
        Adam(other).load_state_dict(sd)
    bad = copy.deepcopy(sd)
    del bad["state"][0]["exp_avg_sq"]
    with pytest.raises(ValueError, match="exp_avg_sq"):
        Adam(params).load_state_dict(bad)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        Adam(params).load_state_dict({"state": {}})


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("make, match", [
    (lambda ps: SGD(ps, lr=-0.1), "lr"),
    (lambda ps: SGD(ps, lr=float("nan")), "NaN"),
    (lambda ps: SGD(ps, lr=0.1, momentum=-0.5), "momentum"),
    (lambda ps: SGD(ps, lr=0.1, weight_decay=-1), "weight_decay"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), "nesterov"),
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda ps: Adam(ps, lr=-1e-3), "lr"),
    (lambda ps: Adam(ps, betas=(1.0, 0.999)), "index 0"),
    (lambda ps: Adam(ps, betas=(0.9, -0.1)), "index 1"),
    (lambda ps: Adam(ps, betas=(0.9,)), "pair"),
    (lambda ps: Adam(ps, eps=-1e-8), "eps"),
    (lambda ps: AdamW(ps, weight_decay=-0.1), "weight_decay"),
    (lambda ps: RMSprop(ps, alpha=-0.1), "alpha"),
    (lambda ps: RMSprop(ps, momentum=-0.1), "momentum"),
    (lambda ps: Adagrad(ps, lr_decay=-1), "lr_decay"),
    (lambda ps: Adagrad(ps, initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda ps: Adam([dict(params=ps, lr=-1.0)]), "lr"),
    (lambda ps: SGD([], lr=0.1), "empty"),
])
def test_bad_hyperparameters_raise(make, match):
    params = [Parameter(np.ones(3, np.float32))]
    with pytest.raises(ValueError, match=match):
        make(params)


def test_bad_params_raise():
    p = Parameter(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="iterable"):
        SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="set"):
        SGD({p}, lr=0.1)
    with pytest.raises(TypeError, match="Tensors"):
        SGD([np.ones(3)], lr=0.1)
    with pytest.raises(TypeError, match="floating point"):
        SGD([dl.tensor(np.ones(3, np.int64))], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        SGD([p, p], lr=0.1)


def test_bad_grads_raise():
    p = Parameter(np.ones(3, np.float32))
    opt = Adam([p])
    p.grad = dl.tensor(np.ones(4, np.float32))
    with pytest.raises(ValueError, match="shape"):
        opt.step()
    p.grad = dl.tensor(np.ones(3, np.float64))
    with pytest.raises(TypeError, match="dtype"):
        opt.step()
    q = Parameter(np.ones(3, np.float16))
    q.grad = dl.tensor(np.ones(3, np.float16))
    with pytest.raises(TypeError, match="float32 or float64"):
        Adam([q]).step()


def test_kernel_wrapper_checks():
    p, g = np.ones(8, np.float32), np.ones(8, np.float32)
    m, v = np.zeros(8, np.float32), np.zeros(8, np.float32)
    args = (0.1, 0.9, 0.999, 1e-8, 0.0, False, False, 0.1, 1.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.adam_update(p, g, np.zeros(16, np.float32)[::2], v, None, *args)
    with pytest.raises(TypeError, match="dtype"):
        _C.adam_update(p, g, m.astype(np.float64), v, None, *args)
    with pytest.raises(ValueError, match="elements"):
        _C.adam_update(p, g, m, np.zeros(7, np.float32), None, *args)
    with pytest.raises(ValueError, match="share memory"):
        _C.adam_update(p, g, m, m, None, *args)
    with pytest.raises(ValueError, match="share memory"):
        _C.adam_update(p, p, m, v, None, *args)
    ro = np.ones(8, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        _C.sgd_update(ro, g, None, 0.1)
    with pytest.raises(ValueError, match="momentum_buffer"):
        _C.sgd_update(p, g, None, 0.1, momentum=0.9)
    with pytest.raises(TypeError, match="NumPy array"):
        _C.adagrad_update(p, g, [0.0] * 8, 0.1, 1e-10, 0.0, False)
    _C.sgd_update(np.ones(0, np.float32), np.ones(0, np.float32), None, 0.1)  # empty is a no-op


def test_sumsq_kernel(isa, threads):
    rng = np.random.default_rng(4)
    for n in (0, 1, 7, 17, 33, 100, 70001):
        x = rng.standard_normal(n).astype(np.float32)
        want = float(np.sum(x.astype(np.float64) ** 2))
        assert _C.sumsq(x) == pytest.approx(want, rel=1e-6, abs=1e-12)
        xd = x.astype(np.float64)
        assert _C.sumsq(xd) == pytest.approx(want, rel=1e-12, abs=1e-12)
    big = np.full(33, 1e30, np.float32)  # squares overflow float32, not the double sum
    assert _C.sumsq(big) == pytest.approx(33 * float(big[0]) ** 2, rel=1e-6)
    assert _C.sumsq(np.ascontiguousarray(big[::2])) == pytest.approx(17 * float(big[0]) ** 2,
                                                                     rel=1e-6)
    assert np.isnan(_C.sumsq(np.array([1.0, np.nan], np.float32)))


def test_clip_grad_norm_uses_double_sum():
    from dlcore.nn.utils import clip_grad_norm_
    rng = np.random.default_rng(0)
    ps = [Parameter(np.zeros(n, np.float32)) for n in (7, 70001)]
    for p in ps:
        p.grad = dl.tensor(rng.standard_normal(p.shape).astype(np.float32))
    want = np.sqrt(sum(float(np.sum(p.grad._data.astype(np.float64) ** 2)) for p in ps))
    total = clip_grad_norm_(ps, 1.0)
    assert float(total.item()) == pytest.approx(want, rel=1e-6)
    after = np.sqrt(sum(float(np.sum(p.grad._data.astype(np.float64) ** 2)) for p in ps))
    assert after == pytest.approx(1.0, rel=1e-5)
