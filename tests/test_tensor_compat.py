"""Tensor methods scripts call that dlcore builds from existing ops (dlcore/ops/tensor_compat.py):
values and errors against torch, float64 finite-difference gradients for the differentiable
ones."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.autograd import gradcheck


@pytest.fixture
def x():
    return np.random.default_rng(0).standard_normal((2, 5, 4))


def _both(torch, fn, *arrays):
    a = fn(dl, *[dl.tensor(v) for v in arrays])
    b = fn(torch, *[torch.tensor(v) for v in arrays])
    if isinstance(b, (tuple, list)):
        assert len(a) == len(b)
        for p, q in zip(a, b):
            np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-6, atol=1e-12)
            assert tuple(p.shape) == tuple(q.shape)
        return
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-12)


CASES = {
    "unfold_last": lambda E, t: t.unfold(2, 2, 1),
    "unfold_mid_step": lambda E, t: t.unfold(1, 2, 2),
    "unfold_whole": lambda E, t: t.unfold(-1, 4, 3),
    "index_copy": lambda E, t: t.index_copy(1, E.tensor([4, 0]), E.ones(2, 2, 4, dtype=t.dtype)),
    "masked_scatter": lambda E, t: t.masked_scatter(t > 0.3, -E.arange(40, dtype=t.dtype)),
    "masked_scatter_bcast": lambda E, t: t.masked_scatter(E.tensor([True, False, True, False]),
                                                          E.arange(40, dtype=t.dtype)),
    "quantile": lambda E, t: t.quantile(0.3),
    "quantile_dims": lambda E, t: t.quantile(E.tensor([0.1, 0.5, 1.0], dtype=t.dtype), dim=1,
                                            keepdim=True),
    "quantile_lower": lambda E, t: t.quantile(0.37, 2, interpolation="lower"),
    "quantile_higher": lambda E, t: t.quantile(0.37, 2, interpolation="higher"),
    "quantile_mid": lambda E, t: t.quantile(0.37, 0, interpolation="midpoint"),
    "quantile_nearest": lambda E, t: t.quantile(0.5, 1, interpolation="nearest"),
    "sum_to_size": lambda E, t: t.sum_to_size(5, 1),
    "sum_to_size_same": lambda E, t: t.sum_to_size(2, 5, 4),
    "split_with_sizes": lambda E, t: t.split_with_sizes([1, 3], 2),
    "where_method": lambda E, t: t.where(t > 0, 0.5),
    "broadcast_to": lambda E, t: t.broadcast_to((3, 2, 5, 4)),
    "fill_diagonal": lambda E, t: t[0].clone().fill_diagonal_(2.0),
    "fill_diagonal_wrap": lambda E, t: E.zeros(7, 3, dtype=t.dtype).fill_diagonal_(1.0, wrap=True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(torch, x, name):
    _both(torch, CASES[name], x)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_matches_torch_with_gradients(torch, reduce, include_self):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4))
    src = rng.standard_normal((3, 5))
    src[0, 1] = 0.0                                  # a zero in a product
    src[1, 2] = src[1, 0]                             # a tie for amax/amin
    idx = np.array([[0, 1, 0, 3, 1], [2, 2, 2, 0, 0], [1, 1, 3, 3, 1]])
    grads = []
    for E in (dl, torch):
        ta = E.tensor(a, requires_grad=True)
        ts = E.tensor(src, requires_grad=True)
        out = ta.scatter_reduce(1, E.tensor(idx), ts, reduce, include_self=include_self)
        w = E.tensor(np.arange(12.0).reshape(3, 4))
        (out * w).sum().backward()
        grads.append((out.detach().numpy(), ta.grad.numpy(), ts.grad.numpy()))
    for mine, ref in zip(*grads):
        np.testing.assert_allclose(mine, ref, rtol=1e-6, atol=1e-12)


def test_scatter_reduce_max_min_aliases(torch):
    # torch takes 'max' and 'min' as amax/amin (forward only: it has no gradient for them)
    for r in ("max", "min"):
        _both(torch, lambda E, t: E.zeros(1, 3).scatter_reduce(1, E.tensor([[0, 0, 1]]), t, r),
              np.array([[-1.0, 2.0, -3.0]], np.float32))


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax"])
def test_scatter_reduce_gradcheck(reduce):
    rng = np.random.default_rng(2)
    a = dl.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    s = dl.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    idx = dl.tensor(np.array([[0, 2, 0, 1], [1, 1, 2, 2]]))
    assert gradcheck(lambda p, q: p.scatter_reduce(1, idx, q, reduce), (a, s))
    assert gradcheck(lambda p, q: p.scatter_reduce(1, idx, q, reduce, include_self=False),
                     (a, s))


def test_gradchecks(x):
    t = dl.tensor(x[:, :3, :3], requires_grad=True)
    assert gradcheck(lambda v: v.unfold(1, 2, 1), (t,))
    assert gradcheck(lambda v: v.index_copy(2, dl.tensor([2, 0]), v[:, :, :2] * 3), (t,))
    assert gradcheck(lambda v: v.masked_scatter(v > 0, v.flip(0) * 2), (t,))
    assert gradcheck(lambda v: v.quantile(dl.tensor([0.2, 0.9], dtype=dl.float64), dim=1), (t,))
    assert gradcheck(lambda v: v.sum_to_size(3, 1), (t,))


def test_unique_consecutive_matches_torch(torch):
    data = np.array([[1, 1, 2], [1, 1, 2], [3, 1, 2], [3, 1, 2], [1, 1, 2]])
    for kw in (dict(), dict(return_inverse=True), dict(return_counts=True),
               dict(return_inverse=True, return_counts=True, dim=0),
               dict(return_counts=True, dim=1)):
        _both(torch, lambda E, t: t.unique_consecutive(**kw), data)
    _both(torch, lambda E, t: E.unique_consecutive(t, return_counts=True), np.array([5, 5, 5]))


def test_in_place_shape_changes_match_torch(torch):
    for E in (dl, torch):
        a = E.ones(3, requires_grad=True)
        w = a * E.tensor([1.0, 2.0, 3.0])
        w.unsqueeze_(1)
        w.t_()
        w.squeeze_(0)
        w.unsqueeze_(0).transpose_(0, 1).swapaxes_(0, 1)
        assert tuple(w.shape) == (1, 3)
        (w * w).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), [2.0, 8.0, 18.0])
        with pytest.raises(RuntimeError, match="leaf Variable"):
            E.ones(2, requires_grad=True).unsqueeze_(0)
        plain = E.zeros(2, 3)
        view = plain[0]
        plain.t_()
        view += 1     # t_ rebinds the shape, not the storage
        assert plain.sum().item() == 3.0 and tuple(plain.shape) == (3, 2)


def test_in_place_value_methods():
    t = dl.zeros(3, 2)
    t.index_copy_(0, dl.tensor([2]), dl.ones(1, 2))
    t.index_add_(0, dl.tensor([0, 0]), dl.ones(2, 2))
    t.index_fill_(1, dl.tensor([1]), -1.0)
    t.masked_scatter_(t == 0, dl.full((6,), 7.0))
    t.scatter_reduce_(0, dl.tensor([[1, 1]]), dl.full((1, 2), 5.0), "amax")
    np.testing.assert_array_equal(t.numpy(), [[2, -1], [7, 5], [1, -1]])


def test_legacy_constructors_and_storage_facts(torch):
    for E in (dl, torch):
        t = E.tensor([[1.5, 2.0]], dtype=E.float64)
        assert tuple(t.new(2, 3).shape) == (2, 3) and t.new(2, 3).dtype == E.float64
        assert tuple(t.new(E.Size([4])).shape) == (4,)
        np.testing.assert_array_equal(t.new([1, 2]).numpy(), [1.0, 2.0])
        np.testing.assert_array_equal(t.new((2, 3)).numpy(), [2.0, 3.0])
        assert tuple(t.new().shape) == (0,)
        assert t.byte().dtype == E.uint8 and t.char().dtype == E.int8
        assert t.nbytes == 16 and t.itemsize == 8
        assert t.data_ptr() == t[0].data_ptr() != 0


def test_errors_like_torch(torch, x):
    for E in (dl, torch):
        t = E.tensor(x)
        with pytest.raises(RuntimeError):
            t.unfold(2, 5, 1)
        with pytest.raises(RuntimeError):
            t.unfold(2, 2, 0)
        with pytest.raises(RuntimeError):
            t.sum_to_size(3, 1)
        with pytest.raises(RuntimeError):
            t.split_with_sizes([1, 2], 2)
        with pytest.raises(RuntimeError):
            t.quantile(1.5)
        with pytest.raises(RuntimeError):
            t.masked_scatter(t > -10, E.zeros(3, dtype=t.dtype))
        with pytest.raises(RuntimeError):
            t.scatter_reduce(0, E.zeros(1, 1, 1, dtype=E.int64), t, "maximum")
        with pytest.raises(RuntimeError):
            E.zeros(2, 3, 4).fill_diagonal_(1.0)


def test_conjugate_transposes_match_torch(torch):
    x = np.arange(24.0).reshape(2, 3, 4)
    _both(torch, lambda E, t: t.mH, x)
    _both(torch, lambda E, t: t.adjoint(), x)
    _both(torch, lambda E, t: t[0].H, x)
    for E in (dl, torch):
        with pytest.raises(RuntimeError):
            E.tensor(x).H
        with pytest.raises(RuntimeError):
            E.ones(3).mH


def test_resize_keeps_the_leading_elements_as_torch():
    torch = pytest.importorskip("torch")
    for T in (dl, torch):
        t = T.arange(6.).reshape(2, 3)
        assert t.resize_(3, 2) is t and t.tolist() == [[0, 1], [2, 3], [4, 5]]
        assert t.resize_(4).tolist() == [0, 1, 2, 3]
        assert tuple(t.resize_as_(T.zeros(2, 2)).shape) == (2, 2)
        with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
            T.ones(3, requires_grad=True).resize_(2)
