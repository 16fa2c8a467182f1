"""The backward engine and float64 gradient checks of every core differentiable op."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.autograd import gradcheck


def t64(*shape, positive=False, seed=0):
    r = np.random.default_rng(seed)
    a = r.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return dl.tensor(a, dtype=dl.float64, requires_grad=True)


UNARY = {
    "exp": lambda x: x.exp(),
    "log": lambda x: x.abs().add(0.5).log(),
    "log1p": lambda x: x.abs().log1p(),
    "sqrt": lambda x: (x * x + 1).sqrt(),
    "abs": lambda x: x.abs(),
    "neg": lambda x: -x,
    "sin": lambda x: x.sin(),
    "cos": lambda x: x.cos(),
    "pow_scalar": lambda x: x ** 3,
    "rpow": lambda x: 2.0 ** x,
    "clamp": lambda x: x.clamp(-0.5, 0.7),
    "relu": lambda x: x.relu(),
    "sigmoid": lambda x: x.sigmoid(),
    "tanh": lambda x: x.tanh(),
    "softmax": lambda x: x.softmax(-1),
    "softmax0": lambda x: x.softmax(0),
    "log_softmax": lambda x: x.log_softmax(1),
    "sum_all": lambda x: x.sum(),
    "sum_dim": lambda x: x.sum(1, keepdim=True),
    "sum_dims": lambda x: x.sum((0, 2)),
    "mean": lambda x: x.mean(-1),
    "var": lambda x: x.var(1),
    "var_biased": lambda x: x.var(0, unbiased=False, keepdim=True),
    "std": lambda x: x.std(),
    "prod": lambda x: x.prod(1),
    "max_all": lambda x: x.max(),
    "max_dim": lambda x: x.max(1)[0],
    "min_dim_keep": lambda x: x.min(2, keepdim=True).values,
    "amax": lambda x: x.amax((1, 2)),
    "logsumexp": lambda x: x.logsumexp(1),
    "cumsum": lambda x: x.cumsum(2),
    "reshape": lambda x: x.reshape(5, -1),
    "flatten": lambda x: x.flatten(1),
    "permute": lambda x: x.permute(2, 0, 1) * dl.arange(60, dtype=dl.float64).reshape(5, 3, 4),
    "transpose": lambda x: x.transpose(0, 2),
    "T": lambda x: x.T,
    "expand": lambda x: x[:, :1].expand(3, 4, 5),
    "repeat": lambda x: x.repeat(2, 1, 3),
    "squeeze_unsqueeze": lambda x: x.unsqueeze(1).squeeze(1),
    "getitem_slice": lambda x: x[1:, ::2, -1],
    "getitem_int_array": lambda x: x[dl.tensor([0, 2, 0, 0])],
    "getitem_bool": lambda x: x[x > 0],
    "getitem_mixed": lambda x: x[:, [1, 1, 3], 2:4],
    "gather": lambda x: x.gather(1, dl.tensor(np.array([[[0, 1, 2, 3, 0]] * 2] * 3))),
    "masked_fill": lambda x: x.masked_fill(x < 0, 0.25),
    "tril": lambda x: x.tril(),
    "triu": lambda x: x.triu(1),
    "flip": lambda x: x.flip((0, 2)),
    "split": lambda x: x.split([1, 3], 1)[1],
    "chunk": lambda x: x.chunk(2, 2)[0],
    "norm": lambda x: x.norm(dim=1),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck(name):
    x = t64(3, 4, 5)
    assert gradcheck(UNARY[name], (x,))


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b.abs() + 1),
    "pow": lambda a, b: (a.abs() + 0.5) ** b,
    "maximum": lambda a, b: dl.maximum(a, b),
    "minimum": lambda a, b: dl.minimum(a, b),
    "where": lambda a, b: dl.where(a > b, a, b * 2),
    "matmul": lambda a, b: a @ (b.transpose(-1, -2) if b.ndim >= 2 else b),
}


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)),
                                    ((1,), (2, 3)), ((), (2, 3))])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_broadcast_gradcheck(name, shapes):
    a = t64(*shapes[0], seed=1)
    b = t64(*shapes[1], seed=2)
    if name == "matmul" and (a.ndim < 1 or b.ndim < 1 or a.shape[-1] != b.shape[-1]):
        pytest.skip("shapes do not chain")
    assert gradcheck(BINARY[name], (a, b))


@pytest.mark.parametrize("sa,sb", [((5, 3), (3, 4)), ((2, 5, 3), (3, 4)), ((2, 5, 3), (2, 3, 4)),
                                   ((3,), (3, 4)), ((5, 3), (3,)), ((3,), (3,)),
                                   ((2, 1, 5, 3), (4, 3, 2)), ((7, 1), (1, 6))])
def test_matmul_gradcheck(sa, sb):
    a, b = t64(*sa, seed=3), t64(*sb, seed=4)
    assert gradcheck(lambda a, b: a @ b, (a, b))


def test_matmul_transposed_views_gradcheck():
    a, b = t64(3, 5, seed=3), t64(4, 3, seed=4)
    assert gradcheck(lambda a, b: a.T @ b.T, (a, b))


def test_cat_stack_gradcheck():
    a, b, c = t64(2, 3, seed=1), t64(2, 5, seed=2), t64(2, 3, seed=3)
    assert gradcheck(lambda a, b, c: dl.cat([a, b, c], 1), (a, b, c))
    assert gradcheck(lambda a, c: dl.stack([a, c, a], 1), (a, c))


def test_linear_gradcheck():
    x, w, b = t64(4, 3, 5, seed=1), t64(6, 5, seed=2), t64(6, seed=3)
    assert gradcheck(lambda x, w, b: dl.nn.functional.linear(x, w, b), (x, w, b))
    assert gradcheck(lambda x, w: dl.nn.functional.linear(x, w), (x, w))


def test_einsum_gradcheck():
    a, b = t64(2, 3, 4, seed=1), t64(4, 5, seed=2)
    assert gradcheck(lambda a, b: dl.einsum("bij,jk->bik", a, b), (a, b))
    assert gradcheck(lambda a, b: dl.einsum("bij,jk->k", a, b), (a, b))


def test_repeated_integer_indices_accumulate():
    x = dl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[dl.tensor([0, 0, 2, 0])].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


def test_gradient_accumulates_on_leaves_and_zero_grad():
    x = dl.tensor([1.0, -2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 - 4])


def test_reused_tensor_gets_summed_gradient():
    x = dl.tensor(2.0, requires_grad=True)
    y = x * x * x + x  # x used four times
    y.backward()
    assert x.grad.item() == pytest.approx(3 * 4 + 1)


def test_deep_graph_has_no_recursion_limit():
    x = dl.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20000):
        y = y + 1e-4 * y
    y.sum().backward()
    assert np.isfinite(x.grad.item()) and x.grad.item() > 1


def test_diamond_graph():
    x = dl.tensor([0.5, 1.5], requires_grad=True, dtype=dl.float64)
    assert gradcheck(lambda x: (lambda a: a.exp() * a.sin() + a)(x * 2), (x,))


def test_retain_graph():
    x = dl.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])
    z = (x * x).sum()
    z.backward()
    with pytest.raises(RuntimeError, match="second time"):
        z.backward()


def test_backward_non_scalar_needs_gradient():
    x = dl.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    y.backward(dl.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2, 4, 6])
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(dl.ones(4))


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        dl.ones(2).sum().backward()


def test_no_grad_and_enable_grad():
    x = dl.ones(2, requires_grad=True)
    with dl.no_grad():
        y = x * 2
        with dl.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @dl.no_grad()
    def f(a):
        return a * 3

    assert not f(x).requires_grad


def test_detach_stops_gradient():
    x = dl.tensor([3.0], requires_grad=True)
    y = x * x.detach()
    y.backward()
    assert x.grad.item() == 3.0


def test_retain_grad_on_intermediate():
    x = dl.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [6.0, 12.0])


def test_shared_gradient_arrays_are_not_aliased():
    a = dl.ones(3, requires_grad=True)
    b = dl.ones(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.mul_(5)
    assert b.grad.tolist() == [1.0, 1.0, 1.0]


def test_float32_grads_stay_float32():
    x = dl.randn(3, requires_grad=True)
    (x * 2.5).sum().backward()
    assert x.grad.dtype == dl.float32


def test_gradcheck_detects_wrong_gradient():
    from dlcore.autograd import Function

    class Bad(Function):
        def forward(self, a):
            return a * 2

        def backward(self, g):
            return g * 3

    x = t64(4)
    with pytest.raises(AssertionError, match="differ"):
        gradcheck(lambda x: Bad.apply(x), (x,))
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda x: x * 2, (dl.randn(3, requires_grad=True),))


def test_inplace_on_leaf_requiring_grad_raises():
    x = dl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x.add_(1)
    with dl.no_grad():
        x.add_(1)
    assert x.tolist() == [2.0, 2.0]


def test_leaf_hook_sees_gradient():
    x = dl.ones(2, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    (x * 4).sum().backward()
    assert seen == [[4.0, 4.0]]
