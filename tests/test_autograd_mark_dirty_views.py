"""A user-defined autograd.Function that changes a view in place (ctx.mark_dirty on a slice of a
tensor in the graph): the base's graph takes the new values as torch's CopySlices does, other
views of it read them, ops recorded before read the old ones.  Gradients and version counts are
compared with torch's; a view of a leaf that requires grad is refused as torch refuses it."""
import numpy as np
import pytest

import dlcore as dl


def _scale_(lib):
    class Scale_(lib.autograd.Function):
        """x *= k in place; k's gradient needs x's old value (saved as a copy)."""
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x.clone(), k)
            x.mul_(k)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            x0, k = ctx.saved_tensors
            return g * k, (g * x0).sum().reshape(k.shape)
    return Scale_


def _square_(lib):
    class Square_(lib.autograd.Function):
        """x = x**2 in place, saving the result (marked dirty, then read by backward)."""
        @staticmethod
        def forward(ctx, x):
            x.mul_(x)
            ctx.mark_dirty(x)
            ctx.save_for_backward(x)
            return x

        @staticmethod
        def backward(ctx, g):
            y, = ctx.saved_tensors
            return 2 * y.sqrt() * g
    return Square_


def row_then_base_and_views(lib, x, k):
    y = x * 2
    v = y[1]
    w = y[:, 2]  # a sibling view made before: reads the new values
    r = _scale_(lib).apply(v, k)
    assert r is v
    return (y * y).sum() + (w ** 3).sum() + (v * v).sum()


def consumer_before(lib, x, k):  # recorded before the change: reads the old value
    y = x * 3
    v = y[:, 1:]
    z = v * 1.5
    _scale_(lib).apply(v, k)
    return (z * v).sum() + y.sum()


def view_of_view(lib, x, k):
    y = x + 1
    v = y[1:]
    w = v[:, :2]
    _scale_(lib).apply(w, k)
    return (y ** 2).sum() + (v * x[1:]).sum() + w.sum()


def transposed_column(lib, x, k):
    y = x * x
    _scale_(lib).apply(y.t()[1], k)
    return (y ** 3).sum()


def saved_dirty_output(lib, x, k):
    y = x * 1.0 + 2.0
    v = y.view(-1)[3:9]
    _square_(lib).apply(v)
    return (y * k).sum() + (v ** 2).sum()


CASES = {f.__name__: f for f in (row_then_base_and_views, consumer_before, view_of_view,
                                 transposed_column, saved_dirty_output)}
X0 = (np.arange(12.0).reshape(3, 4) - 5.5) / 7
K0 = np.array(1.7)


def _run(lib, f, x0=X0, k0=K0):
    x = lib.tensor(x0.copy(), dtype=lib.float64, requires_grad=True)
    k = lib.tensor(k0.copy(), dtype=lib.float64, requires_grad=True)
    out = f(lib, x, k)
    out.backward()
    return float(out.item()), np.asarray(x.grad.numpy()), np.asarray(k.grad.numpy())


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_torch(name, torch):
    mine, theirs = _run(dl, CASES[name]), _run(torch, CASES[name])
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_finite_differences(name):
    f = CASES[name]

    def loss(x, k):
        return f(dl, x, k)
    x = dl.tensor(X0.copy(), dtype=dl.float64, requires_grad=True)
    k = dl.tensor(K0.copy(), dtype=dl.float64, requires_grad=True)
    assert dl.autograd.gradcheck(loss, (x, k))


def test_version_counts_match_torch(torch):
    counts = []
    for lib in (dl, torch):
        x = lib.tensor(X0.copy(), dtype=lib.float64, requires_grad=True)
        y = x * 2
        v = y[1]
        _scale_(lib).apply(v, lib.tensor(2.0, dtype=lib.float64))
        counts.append((v._version, y._version))
    assert counts[0] == counts[1]


def test_view_of_leaf_refused_as_torch(torch):
    for lib in (dl, torch):
        x = lib.tensor(X0.copy(), dtype=lib.float64, requires_grad=True)
        with pytest.raises(RuntimeError, match="view of a leaf Variable that requires grad"):
            _scale_(lib).apply(x[1:], lib.tensor(2.0, dtype=lib.float64))


def test_base_saved_by_an_earlier_op_is_caught(torch):
    # exp saved its output y; changing a view of y in place must make exp's backward refuse
    for lib in (dl, torch):
        x = lib.tensor(X0.copy(), dtype=lib.float64, requires_grad=True)
        y = x.exp()
        _scale_(lib).apply(y[0], lib.tensor(2.0, dtype=lib.float64))
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
