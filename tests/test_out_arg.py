"""torch's out= keyword on dl.* functions: the result lands in `out` (same object returned),
dtypes cast by torch's rule, a wrong-shaped out is resized, and autograd refuses it as torch."""
import warnings

import numpy as np
import pytest

import dlcore as dl
from dlcore import out_arg


def test_matmul_and_creation_write_into_out():
    a, b = dl.rand(2, 3), dl.rand(3, 2)
    c = dl.zeros(2, 2)
    before = id(c)
    d = dl.matmul(a, b, out=c)
    assert d is c and id(c) == before
    np.testing.assert_allclose(c.numpy(), a.numpy() @ b.numpy(), rtol=1e-6)
    r = dl.rand(2, 2, out=c)
    assert r is c and 0 <= c.min().item() and c.max().item() < 1
    assert dl.zeros(2, 2, out=c) is c and c.sum().item() == 0


def test_out_that_is_a_view_writes_through():
    base = dl.zeros(3, 4)
    dl.add(dl.ones(4), 1, out=base[1])
    assert base.numpy()[1].tolist() == [2, 2, 2, 2] and base.numpy()[0].sum() == 0


def test_integer_result_into_float_out_and_float_into_int_refused():
    f = dl.zeros(3)
    dl.add(dl.tensor([1, 2, 3]), 1, out=f)
    assert f.dtype == dl.float32 and f.tolist() == [2, 3, 4]
    i = dl.zeros(3, dtype=dl.int64)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
        dl.sin(dl.ones(3), out=i)


def test_wrong_shape_is_resized_with_torchs_warning():
    out = dl.zeros(5)
    with pytest.warns(UserWarning, match="resized"):
        dl.mul(dl.ones(2, 2), 3, out=out)
    assert tuple(out.shape) == (2, 2) and out.sum().item() == 12
    empty = dl.empty(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an empty out resizes silently, as in torch
        dl.exp(dl.zeros(3), out=empty)
    assert empty.tolist() == [1, 1, 1]


def test_tuple_results_take_a_tuple_out():
    x = dl.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    v, i = dl.zeros(2), dl.zeros(2, dtype=dl.int64)
    res = dl.max(x, 1, out=(v, i))
    assert res[0] is v and res[1] is i
    assert v.tolist() == [5, 7] and i.tolist() == [1, 0]
    with pytest.raises(TypeError, match="tuple of 2"):
        dl.sort(x, out=v)


def test_autograd_refuses_out():
    w = dl.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        dl.mul(w, 2, out=dl.zeros(3))
    with dl.no_grad():
        o = dl.zeros(3)
        dl.mul(w, 2, out=o)
    assert o.tolist() == [2, 2, 2]


def test_out_must_be_a_tensor():
    with pytest.raises(TypeError, match="argument 'out' must be Tensor"):
        dl.exp(dl.zeros(2), out=np.zeros(2))


def test_every_listed_function_takes_out():
    missing = [n for n in out_arg.NAMES
               if hasattr(dl, n) and not getattr(getattr(dl, n), "__wrapped_for_out__", False)]
    assert not missing


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name,args", [
    ("add", ([1.0, 2.0], [3.0, 4.0])), ("sub", ([1.0, 2.0], [3.0, 4.0])),
    ("mul", ([1.5, 2.0], [3.0, 4.0])), ("div", ([1.0, 2.0], [3.0, 4.0])),
    ("pow", ([1.5, 2.0], [3.0, 2.0])), ("maximum", ([1.0, 5.0], [3.0, 4.0])),
    ("exp", ([0.5, -1.0],)), ("sqrt", ([4.0, 2.0],)), ("tanh", ([0.5, -1.0],)),
    ("cumsum", ([1.0, 2.0, 3.0], 0)), ("cat", (([1.0], [2.0, 3.0]),)),
    ("stack", (([1.0, 2.0], [3.0, 4.0]),)), ("mm", ([[1.0, 2.0]], [[3.0], [4.0]])),
    ("eq", ([1.0, 2.0], [1.0, 3.0])), ("clamp", ([-2.0, 0.5, 3.0], -1.0, 1.0)),
])
def test_values_match_torch(name, args):
    def conv(mod, a):
        if isinstance(a, tuple):
            return tuple(conv(mod, x) for x in a)
        return mod.tensor(a) if isinstance(a, list) else a
    ours = getattr(dl, name)(*conv(dl, args), out=dl.empty(0))
    theirs = getattr(torch, name)(*conv(torch, args), out=torch.empty(0))
    np.testing.assert_allclose(ours.numpy().astype(np.float64),
                               theirs.numpy().astype(np.float64), rtol=1e-6)
