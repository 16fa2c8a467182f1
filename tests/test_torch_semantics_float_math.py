"""Float math on integer and bool tensors, with torch as the oracle: torch computes exp, log,
sqrt, sin, tanh, sigmoid, logsumexp... of an integer or bool tensor in the default float dtype
(float32, or float64 after set_default_dtype), where NumPy's ufuncs would silently give float64
(float16 for 8-bit inputs).  Also: a float clamp bound promotes an integer tensor the same way,
relu keeps an integer dtype, bool squares to int64, and rand/randn refuse an integer dtype
(casting the draws would give zeros)."""
import numpy as np
import pytest

import dlcore as dl

torch = pytest.importorskip("torch")

VALUES = {"bool": [True, False, True], "uint8": [1, 2, 3], "int8": [1, -2, 3],
          "int32": [4, 1, 3], "int64": [5, 2, 1]}
POSITIVE = {"bool": [True, True], "uint8": [1, 7], "int8": [1, 3], "int32": [4, 2],
            "int64": [5, 9]}

FLOAT_MATH = {
    "exp": lambda m, x: m.exp(x),
    "log": lambda m, x: m.log(x),
    "log1p": lambda m, x: m.log1p(x),
    "sqrt": lambda m, x: m.sqrt(x),
    "rsqrt": lambda m, x: m.rsqrt(x),
    "sin": lambda m, x: m.sin(x),
    "cos": lambda m, x: m.cos(x),
    "tanh": lambda m, x: m.tanh(x),
    "sigmoid": lambda m, x: m.sigmoid(x),
    "method_exp": lambda m, x: x.exp(),
    "method_sqrt": lambda m, x: x.sqrt(),
    "method_tanh": lambda m, x: x.tanh(),
    "method_sigmoid": lambda m, x: x.sigmoid(),
    "atan": lambda m, x: m.atan(x),
    "expm1": lambda m, x: m.expm1(x),
    "log2": lambda m, x: m.log2(x),
    "logsumexp": lambda m, x: m.logsumexp(x, 0),
}


def _pair(dtype, values):
    return (dl.tensor(values, dtype=getattr(dl, dtype)),
            torch.tensor(values, dtype=getattr(torch, dtype)))


def _same(ours, theirs, what):
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (what, ours.dtype,
                                                                        theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape), what
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=2e-6, atol=1e-6,
                               err_msg=what)


@pytest.mark.parametrize("default", ["float32", "float64"])
@pytest.mark.parametrize("dtype", sorted(VALUES))
@pytest.mark.parametrize("op", sorted(FLOAT_MATH))
def test_float_math_of_integer_tensors_in_the_default_dtype(op, dtype, default):
    d, t = _pair(dtype, POSITIVE[dtype])
    prev_dl, prev_t = dl.get_default_dtype(), torch.get_default_dtype()
    dl.set_default_dtype(getattr(dl, default))
    torch.set_default_dtype(getattr(torch, default))
    try:
        theirs = FLOAT_MATH[op](torch, t)
        ours = FLOAT_MATH[op](dl, d)
    finally:
        dl.set_default_dtype(prev_dl)
        torch.set_default_dtype(prev_t)
    _same(ours, theirs, "%s(%s) default %s" % (op, dtype, default))


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int32", "int64"])
@pytest.mark.parametrize("bounds", [dict(min=2.5), dict(max=1.5), dict(min=0.0, max=2.0),
                                    dict(min=2), dict(min=1, max=3)])
def test_clamp_of_integer_tensor_promotes_like_torch(dtype, bounds):
    d, t = _pair(dtype, VALUES[dtype])
    _same(d.clamp(**bounds), t.clamp(**bounds), "clamp %s %r" % (dtype, bounds))
    _same(dl.clamp(d, **bounds), torch.clamp(t, **bounds), "dl.clamp %s %r" % (dtype, bounds))


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int32", "int64"])
def test_relu_keeps_an_integer_dtype_as_torch(dtype):
    d, t = _pair(dtype, VALUES[dtype])
    _same(dl.relu(d), torch.relu(t), "relu")
    _same(dl.nn.functional.relu(d), torch.nn.functional.relu(t), "F.relu")
    _same(d.relu(), t.relu(), "Tensor.relu")


def test_bool_square_is_int64_as_torch():
    d, t = _pair("bool", VALUES["bool"])
    _same(d.square(), t.square(), "square")
    _same(dl.square(d), torch.square(t), "dl.square")


@pytest.mark.parametrize("fn", ["rand", "randn"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_random_floats_refuse_an_integer_dtype_as_torch(fn, dtype):
    with pytest.raises(RuntimeError):   # torch: NotImplementedError, a RuntimeError
        getattr(torch, fn)(3, dtype=getattr(torch, dtype))
    with pytest.raises(RuntimeError, match="dtype"):
        getattr(dl, fn)(3, dtype=getattr(dl, dtype))
    with pytest.raises(RuntimeError):
        getattr(torch, fn + "_like")(torch.zeros(3, dtype=getattr(torch, dtype)))
    with pytest.raises(RuntimeError, match="dtype"):
        getattr(dl, fn + "_like")(dl.zeros(3, dtype=getattr(dl, dtype)))
    # a float dtype still works, and *_like of an integer tensor with a float dtype too
    assert getattr(dl, fn)(3, dtype=dl.float64).dtype == dl.float64
    assert getattr(dl, fn + "_like")(dl.zeros(3, dtype=dl.int64), dtype=dl.float32).dtype \
        == dl.float32


def test_float_math_gradient_flows_after_the_cast():
    # the cast sits in the graph: a float input's gradient is unchanged by the new path
    x = dl.tensor([0.5, 2.0], requires_grad=True)
    (x.exp() + x.sqrt() + x.sin()).sum().backward()
    t = torch.tensor([0.5, 2.0], requires_grad=True)
    (t.exp() + t.sqrt() + t.sin()).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6)
