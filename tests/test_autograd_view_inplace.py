"""In-place ops on views of tensors in the graph (torch's CopySlices), and ops recorded before
an in-place change reading the old value: gradients compared with torch's."""
import numpy as np
import pytest

import dlcore as dl


def row_mul(m, x):  # a row of a graph tensor changed in place; the base used afterwards
    y = x * 2
    y[1].mul_(3)
    return (y * y).sum()


def consumer_before(m, x):  # an op recorded before the in-place change reads the old value
    y = x * 2
    z = y + 0
    y.mul_(3)
    return z.sum() + (y * z).sum()


def view_made_before(m, x):  # a view made before its base changed reads the new value
    y = x * 2
    v = y[0:2]
    y.mul_(3)
    return (v * v).sum()


def view_of_view(m, x):
    y = x.exp() * 1
    v = y[:, 1:]
    w = v[1:]
    w.mul_(x[1:, :2])
    return (y * y).sum() + v.sum() + w.sum()


def sibling_views(m, x):  # two views of one row: changing one changes the other
    y = x * 1
    a, b = y[0], y[0]
    a.mul_(5)
    return (b * y).sum()


def transposed(m, x):
    y = x * 1
    y.t()[0].add_(x[:, 0])
    return (y ** 2).sum()


def copy_zero_fill(m, x):
    y = x * 2
    y[:, 1].copy_(x[:, 0] ** 2)
    y[2].zero_()
    y[0].fill_(1.5)
    return (y ** 3).sum()


def expanded_reader(m, x):  # an expanded view read after its base changed through another view
    y = x * 2
    v = y.unsqueeze(0).expand(2, 4, 3)
    y[0].mul_(3)
    return (v * v).sum()


def augmented(m, x):
    y = x * 2
    v = y[1]
    v += x[0]
    v -= 1
    v *= x[2]
    v /= 2
    return (y ** 2).sum() + v.sum()


def clamp_on_slice(m, x):
    y = x.clone()
    y[1:3].clamp_(min=0.5, max=1.2)
    return (y ** 2).sum()


def flat_view_relu(m, x):
    y = x - 0.6
    y.view(-1)[2:8].relu_()
    return (y ** 2).sum()


def chained_slices_then_setitem(m, x):
    y = x * 3
    y[1:][0].mul_(x[0])
    y[2] = y[1] * 2
    return (y ** 2).sum()


CASES = {f.__name__: f for f in (row_mul, consumer_before, view_made_before, view_of_view,
                                 sibling_views, transposed, copy_zero_fill, expanded_reader,
                                 augmented, clamp_on_slice, flat_view_relu,
                                 chained_slices_then_setitem)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_torch(name, torch):
    f = CASES[name]
    base = (np.arange(12.0).reshape(4, 3) / 7).astype(np.float64)
    grads, values = [], []
    for m in (dl, torch):
        x = m.tensor(base.copy(), requires_grad=True)
        out = f(m, x)
        values.append(float(out.item()))
        out.backward()
        grads.append(np.asarray(x.grad.detach().numpy()))
    np.testing.assert_allclose(values[0], values[1], rtol=1e-12)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-12)


def test_second_backward_through_view_update_matches_torch(torch):
    base = np.linspace(-1, 1, 6).reshape(2, 3)
    res = []
    for m in (dl, torch):
        x = m.tensor(base.copy(), requires_grad=True)
        y = x * x
        y[0].mul_(x[1])
        (g,) = m.autograd.grad(y.sum(), x, create_graph=True)
        (h,) = m.autograd.grad((g * g).sum(), x)
        res.append((g.detach().numpy(), h.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-12)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-12)


def test_view_of_leaf_refused_as_torch():
    x = dl.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[0:2].mul_(2)


def test_expanded_view_cannot_be_written():
    y = dl.ones(3, requires_grad=True) * 2
    v = y.unsqueeze(0).expand(2, 3)
    with pytest.raises(RuntimeError, match="expanded"):
        v.add_(1)


def test_values_and_storage_after_view_update():
    x = dl.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x * 1
    arr = y.numpy()
    y[:, 1].mul_(10)
    assert y.numpy() is arr  # the base keeps its storage
    np.testing.assert_array_equal(arr, [[0, 10, 2], [3, 40, 5]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 10, 1], [1, 10, 1]])


def test_mul_by_a_constant_keeps_nothing_to_check(torch):
    """x * 2 saves no copy of x, so changing x in place afterwards is allowed (torch agrees);
    the factor that is saved still gets checked."""
    for m in (dl, torch):
        x = m.ones(4, 3, requires_grad=True)
        y = x * 3
        z = y[1] * 2
        y[2] = 5.0
        z.sum().backward()
        np.testing.assert_array_equal(np.asarray(x.grad.numpy())[1], 6.0)
        w = m.ones(3, requires_grad=True)
        y = x[0] * 1
        z = y * w  # saves y for w's gradient
        y.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()
