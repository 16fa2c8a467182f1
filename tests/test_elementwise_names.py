"""The extra elementwise names (inverse/hyperbolic trig, expm1/log2/log10, atan2, fmod,
remainder, hypot, logaddexp, lerp, addcmul/addcdiv, clamp_min/max, nan_to_num, logical ops,
aliases): values and dtypes against torch, gradients by float64 finite differences."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.autograd import gradcheck

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.uniform(-0.9, 0.9, (3, 4))
Y = RNG.uniform(0.2, 1.5, (3, 4)) * np.sign(RNG.standard_normal((3, 4)))
BIG = RNG.uniform(1.1, 3.0, (3, 4))

UNARY = {
    "asin": X, "acos": X, "atan": X, "tan": X, "sinh": X, "cosh": X, "asinh": X,
    "acosh": BIG, "atanh": X, "expm1": X, "exp2": X, "log2": BIG, "log10": BIG,
    "arcsin": X, "arctan": X, "negative": X, "absolute": X,
}
BINARY = ["atan2", "fmod", "remainder", "hypot", "logaddexp", "subtract", "multiply", "divide",
          "true_divide", "floor_divide", "greater", "less_equal", "not_equal", "logical_and",
          "logical_or", "logical_xor", "isclose"]


def _same(ours, theirs, what):
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (what, ours.dtype,
                                                                       theirs.dtype)
    np.testing.assert_allclose(np.asarray(ours.numpy(), np.float64),
                               np.asarray(theirs.numpy(), np.float64), rtol=1e-6, atol=1e-7,
                               err_msg=what)


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unary_values_and_gradients(name, dtype):
    a = UNARY[name].astype(dtype)
    _same(getattr(dl.tensor(a), name)(), getattr(torch.tensor(a), name)(), name)
    _same(getattr(dl, name)(dl.tensor(a)), getattr(torch, name)(torch.tensor(a)), name)
    if dtype == "float64":
        assert gradcheck(lambda t: getattr(t, name)(), (dl.tensor(a, requires_grad=True),))


def test_unary_of_integers_computes_in_float32_as_torch():
    i = dl.tensor([1, 2, 3])
    for name in ("atan", "log2", "expm1"):
        _same(getattr(i, name)(), getattr(torch.tensor([1, 2, 3]), name)(), name)


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("other", ["tensor", "scalar", "int_tensor"])
def test_binary_values_as_torch(name, other):
    a, ta = dl.tensor(X), torch.tensor(X)
    if other == "tensor":
        b, tb = dl.tensor(Y), torch.tensor(Y)
    elif other == "scalar":
        b = tb = 0.75
    else:
        b, tb = dl.tensor([[1, 2, 3, 4]]), torch.tensor([[1, 2, 3, 4]])
    try:
        theirs = getattr(ta, name)(tb)
    except TypeError:  # torch's signature takes only a tensor here: dlcore refuses too
        with pytest.raises(TypeError, match="other"):
            getattr(a, name)(b)
        return
    except RuntimeError:
        with pytest.raises(RuntimeError):
            getattr(a, name)(b)
        return
    _same(getattr(a, name)(b), theirs, name)
    if hasattr(torch, name) and other != "scalar":
        _same(getattr(dl, name)(a, b), getattr(torch, name)(ta, tb), name)


@pytest.mark.parametrize("name", ["atan2", "fmod", "remainder", "hypot", "logaddexp"])
def test_binary_gradients(name):
    a = dl.tensor(X, requires_grad=True)
    b = dl.tensor(Y, requires_grad=True)
    assert gradcheck(lambda u, v: getattr(u, name)(v), (a, b))


def test_integer_fmod_remainder_and_zero_division():
    a, ta = dl.tensor([-7, 7, 5]), torch.tensor([-7, 7, 5])
    _same(a.fmod(3), ta.fmod(3), "fmod")
    _same(a.remainder(-3), ta.remainder(-3), "remainder")
    with pytest.raises(RuntimeError):
        ta.fmod(0)
    with pytest.raises(RuntimeError, match="ZeroDivision"):
        a.fmod(0)


def test_lerp_addcmul_addcdiv_clamp_nan_to_num():
    a, b, c = (dl.tensor(v, requires_grad=True) for v in (X, Y, BIG))
    ta, tb, tc = (torch.tensor(v) for v in (X, Y, BIG))
    _same(a.lerp(b, 0.3), ta.lerp(tb, 0.3), "lerp")
    _same(a.lerp(b, c), ta.lerp(tb, tc), "lerp tensor weight")
    _same(a.addcmul(b, c, value=0.5), ta.addcmul(tb, tc, value=0.5), "addcmul")
    _same(a.addcdiv(b, c, value=-2), ta.addcdiv(tb, tc, value=-2), "addcdiv")
    _same(dl.addcmul(a, b, c), torch.addcmul(ta, tb, tc), "dl.addcmul")
    _same(a.clamp_min(0.1), ta.clamp_min(0.1), "clamp_min")
    _same(a.clamp_max(0.1), ta.clamp_max(0.1), "clamp_max")
    assert gradcheck(lambda u, v, w: u.addcdiv(v, w, value=0.5).lerp(v, 0.25), (a, b, c))
    n = np.array([np.nan, np.inf, -np.inf, 1.5], np.float32)
    _same(dl.tensor(n).nan_to_num(), torch.tensor(n).nan_to_num(), "nan_to_num")
    _same(dl.tensor(n).nan_to_num(nan=2.0, posinf=9.0, neginf=-9.0),
          torch.tensor(n).nan_to_num(nan=2.0, posinf=9.0, neginf=-9.0), "nan_to_num args")
    x = dl.tensor(n.astype(np.float64), requires_grad=True)
    x.nan_to_num().sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 1.0]


def test_shape_accessors_outer_count_nonzero():
    t, tt = dl.zeros(3, 4)[:, ::2], torch.zeros(3, 4)[:, ::2]
    assert t.stride() == tt.stride() and t.stride(0) == tt.stride(0)
    assert t.nelement() == tt.nelement() and t.ndimension() == tt.ndimension()
    v = np.array([1.0, 0.0, 2.0])
    _same(dl.tensor(v).outer(dl.tensor(v)), torch.tensor(v).outer(torch.tensor(v)), "outer")
    _same(dl.tensor(v).count_nonzero(), torch.tensor(v).count_nonzero(), "count_nonzero")
