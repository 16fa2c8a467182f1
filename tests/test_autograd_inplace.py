"""In-place ops inside the graph and version counters, with PyTorch as the oracle: the same
program gives the same values and gradients, and raises where PyTorch raises."""
import numpy as np
import pytest

import dlcore as dl

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X0 = RNG.standard_normal((3, 4))
W0 = RNG.standard_normal((3, 4))


def _both(program):
    """Run program(lib, x, w) in dlcore and torch on the same float64 leaves; return
    (dlcore out, x.grad, w.grad), (torch ...)."""
    res = []
    for lib in (dl, torch):
        x = lib.tensor(X0.copy(), dtype=lib.float64, requires_grad=True)
        w = lib.tensor(W0.copy(), dtype=lib.float64, requires_grad=True)
        out = program(lib, x, w)
        out.sum().backward()
        grads = [None if t.grad is None else np.asarray(t.grad.detach().numpy()) for t in (x, w)]
        res.append((np.asarray(out.detach().numpy()), *grads))
    return res


def _assert_same(a, b):
    for u, v in zip(a, b):
        if u is None or v is None:
            assert u is None and v is None
        else:
            np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


PROGRAMS = {
    "add_": lambda lib, x, w: (x * 2).add_(w, alpha=3) * w,
    "sub_": lambda lib, x, w: (x * 2).sub_(w) * x,
    "mul_": lambda lib, x, w: (x + 1).mul_(w) * x,
    "mul_scalar": lambda lib, x, w: (x * w).mul_(3.0),
    "div_": lambda lib, x, w: (x * w).div_(w * w + 1),
    "clamp_": lambda lib, x, w: (x * w).clamp_(-0.3, 0.4) * x,
    "relu_": lambda lib, x, w: (x * w).relu_() * w,
    "masked_fill_": lambda lib, x, w: (x * w).masked_fill_(lib.tensor(X0 > 0), 2.5) * w,
    "copy_": lambda lib, x, w: (x * 2).copy_(w * 3) * x,
    "copy_broadcast": lambda lib, x, w: (x * 2).copy_(w[0] ** 2) + x,
    "zero_": lambda lib, x, w: (x * w).zero_() + x * w,
    "fill_": lambda lib, x, w: (x * w).fill_(1.5) * w,
    "setitem_tensor": lambda lib, x, w: _setitem(x * 2, (slice(None), 1), w[:, 0] ** 2) * w,
    "setitem_scalar": lambda lib, x, w: _setitem(x * w, (0, slice(1, 3)), 7.0) * x,
    "setitem_mask": lambda lib, x, w: _setitem(x * w, lib.tensor(X0 > 0.5), 0.0) * x,
    "setitem_into_plain": lambda lib, x, w: _setitem(lib.zeros(3, 4, dtype=lib.float64),
                                                     1, w[2] * x[1]) * 2,
    "iadd_chain": lambda lib, x, w: _iadd(x * w, w),
    "two_inplace": lambda lib, x, w: (x * 1.0).mul_(w).add_(x).relu_(),
}


def _setitem(t, idx, v):
    t[idx] = v
    return t


def _iadd(t, w):
    t += w
    t *= w
    return t


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_inplace_on_graph_tensor_matches_torch(name):
    ours, theirs = _both(PROGRAMS[name])
    _assert_same(ours, theirs)


def test_inplace_gradients_pass_gradcheck():
    x = dl.tensor(X0.copy(), dtype=dl.float64, requires_grad=True)
    w = dl.tensor(W0.copy(), dtype=dl.float64, requires_grad=True)
    for name in ("add_", "mul_", "div_", "clamp_", "setitem_tensor", "copy_", "two_inplace"):
        assert dl.autograd.gradcheck(lambda a, b: PROGRAMS[name](dl, a, b), (x, w)), name


def _message(lib, program):
    x = lib.tensor(X0.copy(), dtype=lib.float64, requires_grad=True)
    w = lib.tensor(W0.copy(), dtype=lib.float64, requires_grad=True)
    with pytest.raises(RuntimeError) as e:
        program(lib, x, w)
    return str(e.value)


MODIFIED = {
    # a tensor saved for backward, then changed in place: both libraries refuse the backward
    "input_of_mul": lambda lib, x, w: _then(lambda h: (h * w, h.add_(1)), x * 1.0),
    "output_of_exp": lambda lib, x, w: _then(lambda h: (h, h.mul_(2)), x.exp()),
    "output_of_sigmoid_under_no_grad": lambda lib, x, w: _under_no_grad(lib, x.sigmoid()),
    "view_of_saved": lambda lib, x, w: _view_change(lib, x * 1.0, w),
    "matmul_operand": lambda lib, x, w: _then(lambda h: (h @ w.T, h.zero_()), x + 0),
}


def _then(make, h):
    out, _ = make(h)
    out.sum().backward()


def _under_no_grad(lib, y):
    with lib.no_grad():
        y.mul_(2)
    y.sum().backward()


def _view_change(lib, h, w):
    out = h * w
    with lib.no_grad():
        h[0].fill_(3.0)  # through a view: the storage is the saved one
    out.sum().backward()


@pytest.mark.parametrize("name", sorted(MODIFIED))
def test_modified_saved_tensor_raises_as_torch(name):
    ours = _message(dl, MODIFIED[name])
    theirs = _message(torch, MODIFIED[name])
    for msg in (ours, theirs):
        assert "modified by an inplace operation" in msg
        assert "is at version" in msg and "expected version" in msg
    # the version numbers are the same as torch's
    assert ours.split("is at version")[1][:3] == theirs.split("is at version")[1][:3]


def test_saved_tensor_error_names_the_op():
    x = dl.randn(3, requires_grad=True)
    h = x * 1.0
    y = h * x
    h.add_(1)
    with pytest.raises(RuntimeError, match=r"input 0 of Mul, is at version 1; expected version 0"):
        y.sum().backward()


def test_unsaved_input_changed_in_place_is_fine_as_in_torch():
    for lib in (dl, torch):
        x = lib.tensor(X0.copy(), requires_grad=True)
        h = x * 2
        y = h + 1           # add saves nothing
        h.add_(5)
        y.sum().backward()
        np.testing.assert_allclose(np.asarray(x.grad.numpy()), 2.0)


def test_version_counter_counts_like_torch():
    for lib in (dl, torch):
        t = lib.zeros(4)
        v = [t._version]
        t.add_(1)
        t[1] = 3.0
        t.mul_(2)
        t[2:].zero_()  # a view: shares the counter
        v.append(t._version)
        assert v == [0, 4], lib.__name__


@pytest.mark.parametrize("op", ["add_", "mul_", "zero_", "fill_", "setitem", "iadd"])
def test_inplace_on_leaf_requiring_grad_raises_as_torch(op):
    progs = {"add_": lambda t: t.add_(1), "mul_": lambda t: t.mul_(2), "zero_": lambda t: t.zero_(),
             "fill_": lambda t: t.fill_(1), "setitem": lambda t: t.__setitem__(0, 1.0),
             "iadd": lambda t: t.__iadd__(1)}
    for lib in (dl, torch):
        t = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used "
                                               "in an in-place operation"):
            progs[op](t)
        with lib.no_grad():
            progs[op](t)  # allowed outside grad mode (what optimizers do)


def test_inplace_on_non_leaf_no_longer_says_leaf():
    x = dl.ones(3, requires_grad=True)
    y = x * 2
    y.add_(1)  # was refused with a message about leaves
    assert y.grad_fn is not None and not y.is_leaf
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2.0)


def test_inplace_on_view_of_graph_tensor_updates_the_base():
    # once refused; now torch's CopySlices semantics (tests/test_autograd_view_inplace.py)
    x = dl.ones(3, 4, requires_grad=True)
    y = x * 2
    y[0].mul_(3)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0], 6.0)
    np.testing.assert_array_equal(x.grad.numpy()[1:], 2.0)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[0].add_(1)


def test_inplace_keeps_storage_and_identity():
    x = dl.ones(3, requires_grad=True)
    y = x * 2
    arr = y.numpy()
    z = y.mul_(3)
    assert z is y and y.numpy() is arr
    np.testing.assert_array_equal(arr, 6.0)



class _InplaceBlock(dl.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = dl.nn.Linear(4, 4), dl.nn.Linear(4, 4)

    def forward(self, x):
        h = self.a(x)
        h += x          # a residual written in place
        h.relu_()
        y = self.b(h)
        y.mul_(2.0)
        return y


def test_jit_trace_sees_inplace_ops():
    m = _InplaceBlock()
    x = dl.randn(3, 4)
    t = dl.jit.trace(m, x)
    for inp in (x, dl.randn(5, 4)):
        with dl.no_grad():
            ref = m(inp).numpy().copy()
        np.testing.assert_allclose(t(inp).numpy(), ref, rtol=1e-6, atol=1e-6)
