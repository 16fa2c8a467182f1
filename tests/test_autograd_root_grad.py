"""The gradient given to backward() is used without a copy, and nothing the engine does may
write into the caller's array: a leaf keeps its own copy, a second backward accumulates into
that copy, hooks and retain_grad see the values, and a given gradient of another dtype is cast."""
import numpy as np
import pytest

import dlcore as dl


def _given(shape, dtype=np.float32):
    g = np.arange(np.prod(shape), dtype=dtype).reshape(shape) / 7 + 1
    return g, g.copy()


def test_output_is_a_leaf_twice():
    x = dl.ones(3, 4, requires_grad=True)
    g, before = _given((3, 4))
    x.backward(dl.from_numpy(g))
    x.backward(dl.from_numpy(g))
    np.testing.assert_array_equal(g, before)
    np.testing.assert_array_equal(x.grad.numpy(), 2 * before)
    assert not np.shares_memory(x.grad.numpy(), g)


@pytest.mark.parametrize("op", ["add_self", "relu", "sigmoid", "reshape", "mul", "sum_keep"])
def test_given_gradient_is_never_written(op):
    x = dl.tensor(np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4), requires_grad=True)
    f = {"add_self": lambda t: t + t, "relu": dl.relu, "sigmoid": dl.sigmoid,
         "reshape": lambda t: t.reshape(12), "mul": lambda t: t * 3.0,
         "sum_keep": lambda t: t.sum(1, keepdim=True)}[op]
    y = f(x)
    g, before = _given(tuple(y.shape))
    y.backward(dl.from_numpy(g))
    y2 = f(x)
    y2.backward(dl.from_numpy(g))           # accumulates into x.grad
    np.testing.assert_array_equal(g, before)
    assert not np.shares_memory(x.grad.numpy(), g)
    x1 = dl.tensor(x.detach().numpy().copy(), requires_grad=True)
    f(x1).backward(dl.from_numpy(before.copy()))
    np.testing.assert_allclose(x.grad.numpy(), 2 * x1.grad.numpy(), rtol=1e-6)


def test_hooks_and_retain_grad_see_the_values():
    x = dl.ones(2, 3, requires_grad=True)
    y = x * 2.0
    y.retain_grad()
    seen = []
    y.register_hook(lambda gr: seen.append(gr.numpy().copy()))
    g, before = _given((2, 3))
    y.backward(dl.from_numpy(g))
    np.testing.assert_array_equal(seen[0], before)
    np.testing.assert_array_equal(y.grad.numpy(), before)
    assert not np.shares_memory(y.grad.numpy(), g)
    y.grad.numpy()[...] = 0                    # retain_grad's copy is the tensor's own
    np.testing.assert_array_equal(g, before)


def test_other_dtype_is_cast():
    x = dl.ones(4, requires_grad=True)
    g = np.array([1, 2, 3, 4], dtype=np.float64)
    (x * 1.0).backward(dl.from_numpy(g))
    assert x.grad.dtype == dl.float32
    np.testing.assert_array_equal(x.grad.numpy(), [1, 2, 3, 4])


def test_autograd_grad_returns_an_array_of_its_own():
    x = dl.ones(3, requires_grad=True)
    y = x * 1.0
    g, before = _given((3,))
    (gy,) = dl.autograd.grad(y, y, dl.from_numpy(g))
    gy.numpy()[...] = -1
    np.testing.assert_array_equal(g, before)
