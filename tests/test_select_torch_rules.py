"""torch's argument rules and gradients for the select/index ops and reflected remainder that
OpInfo's sample subset may skip: index_put_ accumulate on and off the graph, scatter with
int32 indices and 0-d tensors, diff's order, narrow's start, x % y and n % x, pow of numbers."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.autograd import gradcheck

torch = pytest.importorskip("torch")


def test_index_put_accumulate_adds_repeated_indices_off_the_graph():
    x, tx = dl.zeros(5), torch.zeros(5)
    x.index_put_((dl.tensor([1, 1, 3]),), dl.tensor([1., 2., 3.]), accumulate=True)
    tx.index_put_((torch.tensor([1, 1, 3]),), torch.tensor([1., 2., 3.]), accumulate=True)
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


def test_index_put_accumulate_gradients():
    idx = (dl.tensor([0, 2, 0]),)
    a = dl.tensor(np.random.default_rng(1).standard_normal((3, 2)), requires_grad=True)
    v = dl.tensor(np.random.default_rng(2).standard_normal((3, 2)), requires_grad=True)
    assert gradcheck(lambda p, q: p.index_put(idx, q, accumulate=True), (a, v))
    # recorded in place on a non-leaf, as torch does
    y = a * 1.0
    y.index_put_(idx, v, accumulate=True)
    y.sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), np.ones((3, 2)))


def test_scatter_int32_index_and_0d():
    x, tx = dl.zeros(3), torch.zeros(3)
    got = x.scatter(0, dl.tensor([1], dtype=dl.int32), dl.tensor([5.]))
    np.testing.assert_array_equal(
        got.numpy(), tx.scatter(0, torch.tensor([1], dtype=torch.int32),
                                torch.tensor([5.])).numpy())
    with pytest.raises(RuntimeError, match="int32/int64"):
        x.scatter(0, dl.tensor([1], dtype=dl.int8), dl.tensor([5.]))
    s = dl.tensor(1., requires_grad=True)
    out = s.scatter(0, dl.tensor(0), 2.5)
    assert tuple(out.shape) == () and out.item() == 2.5
    with pytest.raises(RuntimeError, match="out of bounds"):
        s.scatter(0, dl.tensor(1), 2.5)


def test_diff_order_rules():
    x = dl.tensor([[1., 4., 9.]])
    ap = dl.tensor([[16.]])
    assert tuple(x.diff(0, append=ap).shape) == (1, 3)  # torch: the 0-th diff ignores append
    with pytest.raises(RuntimeError, match="non-negative"):
        x.diff(-1)
    with pytest.raises(TypeError, match="'n'"):
        x.diff(1.0)


def test_narrow_start_must_be_an_integral_0d_tensor():
    x = dl.zeros(4, 3)
    assert tuple(x.narrow(0, dl.tensor(1), 2).shape) == (2, 3)
    for bad in (dl.tensor(True), dl.tensor(1.0), dl.tensor([1])):
        with pytest.raises(RuntimeError, match="0-dim integral"):
            x.narrow(0, bad, 2)


def test_remainder_operators_match_torch_and_differentiate():
    for a, b in ((7, [3, -2]), (7.5, [2., -2.])):
        np.testing.assert_array_equal((a % dl.tensor(b)).numpy(), (a % torch.tensor(b)).numpy())
        np.testing.assert_array_equal((dl.tensor(b) % a).numpy(), (torch.tensor(b) % a).numpy())
    u = dl.tensor([5.3, -7.1, 2.2], dtype=dl.float64, requires_grad=True)
    w = dl.tensor([3.1, 2.4, -1.7], dtype=dl.float64, requires_grad=True)
    assert gradcheck(lambda p, q: p % q, (u, w))
    assert gradcheck(lambda p, q: p.__rmod__(q), (u, w))


def test_pow_needs_a_tensor():
    with pytest.raises(TypeError, match="pow"):
        dl.pow(2, 3)
    assert dl.pow(2, dl.tensor([3])).tolist() == [8]
