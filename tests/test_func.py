"""dl.func (torch.func's transforms) against torch.func: per-sample gradients through
functional_call + vmap + grad, model ensembling with stack_module_state, Jacobians, Hessians,
vjp/jvp, nesting, in_dims/out_dims, and torch's errors."""
import numpy as np
import pytest

import dlcore as dl


def _same(a, b, tol=1e-5):
    if isinstance(b, dict):
        assert list(a) == list(b)
        for k in b:
            _same(a[k], b[k], tol)
        return
    if isinstance(b, (tuple, list)):
        assert len(a) == len(b)
        for p, q in zip(a, b):
            _same(p, q, tol)
        return
    assert tuple(a.shape) == tuple(b.shape)
    assert a.requires_grad == b.requires_grad
    np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=tol, atol=tol)


def _model(E, rng):
    m = E.nn.Sequential(E.nn.Linear(4, 6), E.nn.Tanh(), E.nn.Linear(6, 3))
    with E.no_grad():
        for p in m.parameters():
            p.copy_(E.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    return m


def test_per_sample_gradients(torch):
    outs = []
    for E in (dl, torch):
        rng = np.random.default_rng(0)
        m = _model(E, rng)
        x = E.tensor(rng.standard_normal((5, 4)).astype(np.float32))
        y = E.tensor(rng.integers(0, 3, 5))
        params = {k: v.detach() for k, v in m.named_parameters()}

        def loss(p, xi, yi):
            out = E.func.functional_call(m, p, (xi.unsqueeze(0),))
            return E.nn.functional.cross_entropy(out, yi.unsqueeze(0))
        outs.append(E.func.vmap(E.func.grad(loss), in_dims=(None, 0, 0))(params, x, y))
    _same(*outs)
    # and each equals an ordinary backward on that one sample
    rng = np.random.default_rng(0)
    m = _model(dl, rng)
    x = dl.tensor(rng.standard_normal((5, 4)).astype(np.float32))
    y = dl.tensor(rng.integers(0, 3, 5))
    m.zero_grad()
    dl.nn.functional.cross_entropy(m(x[2:3]), y[2:3]).backward()
    np.testing.assert_allclose(outs[0]["0.weight"][2].numpy(), m[0].weight.grad.numpy(),
                               rtol=1e-5, atol=1e-6)


def test_ensembling_with_stack_module_state(torch):
    outs = []
    for E in (dl, torch):
        rng = np.random.default_rng(1)
        models = [_model(E, rng) for _ in range(3)]
        params, buffers = E.func.stack_module_state(models)
        base = models[0]
        x = E.tensor(rng.standard_normal((2, 4)).astype(np.float32))

        def f(p, b, xi):
            return E.func.functional_call(base, (p, b), (xi,))
        outs.append(E.func.vmap(f, in_dims=(0, 0, None))(params, buffers, x))
        assert params["0.weight"].shape[0] == 3 and params["0.weight"].requires_grad
    _same(*outs)


FUNCS = {
    "hessian": lambda E: E.func.hessian(lambda x: (x ** 3).sum() + (x[0] * x[1]))(
        E.tensor([1.0, 2.0, -1.0])),
    "jacrev_two_args": lambda E: E.func.jacrev(lambda a, b: (a * b).sin(), argnums=(0, 1))(
        E.tensor([0.5, 1.0]), E.tensor([2.0, -1.0])),
    "jacfwd_matrix": lambda E: E.func.jacfwd(lambda a: a @ a)(
        E.tensor([[1.0, 2.0], [0.5, -1.0]])),
    "grad_grad": lambda E: E.func.grad(E.func.grad(lambda x: (x ** 4).sum() * 1.0))(
        E.tensor(1.5)),
    "grad_has_aux": lambda E: E.func.grad(lambda x: ((x ** 2).sum(), x.mean()), has_aux=True)(
        E.tensor([1.0, 3.0])),
    "grad_and_value": lambda E: E.func.grad_and_value(lambda x, y: (x * y).sum(), argnums=1)(
        E.tensor([1.0, 3.0]), E.tensor([2.0, 2.0])),
    "vjp": lambda E: E.func.vjp(lambda x, y: (x * y, x + y), E.tensor([1.0, 2.0]),
                                E.tensor([3.0, 4.0]))[1]((E.tensor([1.0, 0.0]),
                                                          E.tensor([0.5, 0.5]))),
    "jvp": lambda E: E.func.jvp(lambda x: x.exp() * x, (E.tensor([0.0, 1.0]),),
                                (E.tensor([1.0, 2.0]),)),
    "vmap_out_dims": lambda E: E.func.vmap(lambda x: (x.sum(0), x * 2), in_dims=1,
                                           out_dims=(0, 1))(E.ones(2, 3, 4)),
    "vmap_nested": lambda E: E.func.vmap(E.func.vmap(lambda a, b: a * b))(
        E.arange(6.0).reshape(2, 3), E.arange(6.0).reshape(2, 3) + 1),
    "vmap_dict_in": lambda E: E.func.vmap(lambda d: d["a"] + d["b"], in_dims=({"a": 0,
                                                                              "b": None},))(
        {"a": E.ones(3, 2), "b": E.tensor([1.0, 2.0])}),
}


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_transforms_match_torch(torch, name):
    _same(FUNCS[name](dl), FUNCS[name](torch))


def test_errors_like_torch(torch):
    for E in (dl, torch):
        with pytest.raises(ValueError, match="same size in the mapped dimension"):
            E.func.vmap(lambda a, b: a + b)(E.ones(3), E.ones(4))
        with pytest.raises(ValueError):
            E.func.vmap(lambda a: a, in_dims=2)(E.ones(3))
        with pytest.raises(RuntimeError):
            E.func.grad(lambda x: x * 2)(E.ones(3))
        with pytest.raises(RuntimeError):
            E.func.grad(lambda x: x.sum(), argnums=2)(E.ones(3))
        m = E.nn.Linear(2, 2)
        with pytest.raises(RuntimeError, match="Missing key"):
            E.func.functional_call(m, {"weight": E.zeros(2, 2)}, (E.ones(1, 2),), strict=True)


def test_functional_call_restores_the_module():
    m = dl.nn.Linear(2, 2)
    w = m.weight
    with pytest.raises((RuntimeError, ValueError)):   # a weight of the wrong shape
        dl.func.functional_call(m, {"weight": dl.zeros(3, 3)}, (dl.ones(1, 2),))
    assert m.weight is w and list(m.state_dict()) == ["weight", "bias"]
    out = dl.func.functional_call(m, {"weight": dl.zeros(2, 2), "bias": dl.ones(2)},
                                  (dl.ones(1, 2),))
    np.testing.assert_array_equal(out.numpy(), [[1.0, 1.0]])
    assert m.weight is w
    from dlcore.nn.utils.stateless import functional_call
    assert functional_call is dl.func.functional_call
