"""Activations and softmax: C kernels vs float64 NumPy references on every ISA path at 1 and
2 threads, finite-difference gradient checks, parity with PyTorch, NaN/Inf handling, errors."""
import math

import numpy as np
import pytest

import dlcore as dl
from dlcore import _C
import dlcore.nn.functional as F

# sizes: odd, around the vector widths, and above the OpenMP threshold (32768 elements)
SIZES = (1, 7, 17, 33, 100, 1000, 70001)

_erfc = np.vectorize(math.erfc, otypes=[np.float64])
_SELU_A, _SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _sig(v):
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(v):
    return np.maximum(v, 0) + np.log1p(np.exp(-np.abs(v)))


def _gelu_tanh_u(x):
    return math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)


# name -> (kind, params, forward ref, derivative ref) on float64 NumPy
REFS = {
    "relu": (_C.AF_RELU, (), lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    "leaky_relu": (_C.AF_LEAKY_RELU, (0.1,), lambda x: np.where(x > 0, x, 0.1 * x),
                   lambda x: np.where(x > 0, 1.0, 0.1)),
    "sigmoid": (_C.AF_SIGMOID, (), _sig, lambda x: _sig(x) * _sig(-x)),
    "tanh": (_C.AF_TANH, (), np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "gelu": (_C.AF_GELU, (), lambda x: x * 0.5 * _erfc(-x / math.sqrt(2)),
             lambda x: 0.5 * _erfc(-x / math.sqrt(2)) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
    "gelu_tanh": (_C.AF_GELU_TANH, (), lambda x: x * _sig(2 * _gelu_tanh_u(x)),
                  lambda x: _sig(2 * _gelu_tanh_u(x)) + x * _sig(2 * _gelu_tanh_u(x))
                  * _sig(-2 * _gelu_tanh_u(x)) * 2 * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)),
    "silu": (_C.AF_SILU, (), lambda x: x * _sig(x), lambda x: _sig(x) * (1 + x * _sig(-x))),
    "elu": (_C.AF_ELU, (1.3, 1.0, 1.0), lambda x: np.where(x > 0, x, 1.3 * np.expm1(x)),
            lambda x: np.where(x > 0, 1.0, 1.3 * np.exp(x))),
    "selu": (_C.AF_ELU, (_SELU_A, _SELU_S, 1.0),
             lambda x: _SELU_S * np.where(x > 0, x, _SELU_A * np.expm1(x)),
             lambda x: _SELU_S * np.where(x > 0, 1.0, _SELU_A * np.exp(x))),
    "softplus": (_C.AF_SOFTPLUS, (2.0, 20.0), lambda x: np.where(2 * x > 20, x, _softplus(2 * x) / 2),
                 lambda x: np.where(2 * x > 20, 1.0, _sig(2 * x))),
    "hardtanh": (_C.AF_HARDTANH, (-0.5, 2.0), lambda x: np.clip(x, -0.5, 2.0),
                 lambda x: ((x > -0.5) & (x < 2.0)) * 1.0),
    "hardswish": (_C.AF_HARDSWISH, (), lambda x: x * np.clip(x + 3, 0, 6) / 6,
                  lambda x: np.where(x <= -3, 0.0, np.where(x < 3, x / 3 + 0.5, 1.0))),
    "hardsigmoid": (_C.AF_HARDSIGMOID, (), lambda x: np.clip(x + 3, 0, 6) / 6,
                    lambda x: ((x > -3) & (x < 3)) / 6.0),
    "mish": (_C.AF_MISH, (), lambda x: x * np.tanh(_softplus(x)),
             lambda x: np.tanh(_softplus(x)) + x * _sig(x) * (1 - np.tanh(_softplus(x)) ** 2)),
}


def _inputs(n, rng):
    x = rng.standard_normal(n) * 4
    special = np.array([0.0, -0.0, 3.0, -3.0, 30.0, -30.0, 100.0, -100.0, 1e-6, -1e-6])
    k = min(n, special.size)
    x[:k] = special[:k]
    return x


@pytest.mark.parametrize("name", sorted(REFS))
def test_kernel_matches_reference(name, isa, threads, rng):
    kind, params, fwd, der = REFS[name]
    uses_y = _C.act_bwd_uses_output(kind)
    for n in SIZES:
        x64 = _inputs(n, rng)
        for dtype, rtol, atol in ((np.float32, 3e-6, 2e-6), (np.float64, 1e-12, 1e-14)):
            x = x64.astype(dtype)
            xr = x.astype(np.float64)          # reference on the rounded input
            y = np.empty_like(x)
            _C.act_forward(kind, x, y, *params)
            np.testing.assert_allclose(y, fwd(xr), rtol=rtol, atol=atol,
                                       err_msg="%s fwd n=%d %s" % (name, n, dtype.__name__))
            g = rng.standard_normal(n).astype(dtype)
            gx = np.empty_like(x)
            _C.act_backward(kind, None if uses_y else x, y if uses_y else None, g, gx, *params)
            ref = g.astype(np.float64) * der(xr)
            # the y-based derivatives inherit y's rounding (e.g. 1 - y*y near saturation)
            tol = (rtol * 4, atol * 4) if dtype == np.float32 else (1e-9, 1e-12)
            np.testing.assert_allclose(gx, ref, rtol=tol[0], atol=tol[1],
                                       err_msg="%s bwd n=%d %s" % (name, n, dtype.__name__))


@pytest.mark.parametrize("name", sorted(REFS))
def test_kernel_nan_and_inf(name, isa):
    kind, params, _, _ = REFS[name]
    x = np.array([np.nan, np.inf, -np.inf, 1.0] * 5, np.float32)
    y = np.empty_like(x)
    _C.act_forward(kind, x, y, *params)
    assert np.isnan(y[0::4]).all(), name          # NaN in -> NaN out
    assert not np.isnan(y[3::4]).any()


def test_kernel_threads_agree(rng):
    x = rng.standard_normal(100003).astype(np.float32)
    outs = []
    for nt in (1, 2):
        prev = _C.get_num_threads()
        _C.set_num_threads(nt)
        try:
            y = np.empty_like(x)
            _C.act_forward(_C.AF_GELU, x, y)
            outs.append(y)
        finally:
            _C.set_num_threads(prev)
    np.testing.assert_array_equal(outs[0], outs[1])


# ---- softmax kernels --------------------------------------------------------------------------
def _np_softmax(x, axis, log=False):
    x = x.astype(np.float64)
    m = x.max(axis=axis, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=axis, keepdims=True)
    return (x - m - np.log(s)) if log else e / s


@pytest.mark.parametrize("log", [False, True])
def test_softmax_kernel_rows_and_columns(log, isa, threads, rng):
    shapes = [((1, 1), 1), ((3, 7), 1), ((5, 33), 1), ((2, 100003), 1), ((300, 129), 1),
              ((4, 17, 9), 1), ((3, 5, 33), 0), ((2, 3, 100), 1), ((64, 40, 35), 1)]
    for shape, axis in shapes:
        x = (rng.standard_normal(shape) * 5).astype(np.float32)
        t = F.log_softmax if log else F.softmax
        y = t(dl.tensor(x), dim=axis).numpy()
        # float32 x - max is exact to 1/2 ulp of |x - max| (up to ~50 here): 3e-6 relative in exp
        np.testing.assert_allclose(y, _np_softmax(x, axis, log), rtol=5e-6, atol=2e-6 if log else 1e-7,
                                   err_msg=str((shape, axis)))
        # backward vs the analytic formula
        yr = _np_softmax(x, axis, False)
        g = rng.standard_normal(shape).astype(np.float32)
        xt = dl.tensor(x, requires_grad=True)
        t(xt, dim=axis).backward(dl.tensor(g))
        gd = g.astype(np.float64)
        if log:
            ref = gd - yr * gd.sum(axis=axis, keepdims=True)
        else:
            ref = yr * (gd - (gd * yr).sum(axis=axis, keepdims=True))
        np.testing.assert_allclose(xt.grad.numpy(), ref, rtol=1e-4, atol=2e-6,
                                   err_msg=str((shape, axis)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_masked_rows_and_nan(dtype, isa):
    x = np.array([[1.0, -np.inf, 2.0, -np.inf, 0.5],
                  [-np.inf] * 5,
                  [1.0, np.nan, 2.0, 3.0, 0.0],
                  [1e4, -1e4, 0.0, 1e4, 5.0]], dtype)
    x = np.repeat(x, 5, axis=1)       # rows of 25: vector body and tail
    y = F.softmax(dl.tensor(x), dim=1).numpy()
    ref0 = _np_softmax(x[:1], 1)
    np.testing.assert_allclose(y[0], ref0[0], rtol=1e-6, atol=1e-7)
    assert (y[0][np.isneginf(x[0])] == 0).all()
    assert np.isnan(y[1]).all() and np.isnan(y[2]).all()     # PyTorch's answers
    np.testing.assert_allclose(y[3], _np_softmax(x[3:], 1)[0], rtol=1e-6, atol=1e-7)
    ly = F.log_softmax(dl.tensor(x), dim=1).numpy()
    assert np.isneginf(ly[0][np.isneginf(x[0])]).all()
    assert np.isnan(ly[1]).all() and np.isnan(ly[2]).all()
    assert np.isfinite(ly[3]).all()


def test_softmax_torch_parity_special(torch):
    x = np.array([[1.0, -np.inf, 2.0], [-np.inf, -np.inf, -np.inf], [np.nan, 0.0, 1.0],
                  [np.inf, 0.0, 1.0]], np.float32)
    for fn, tfn in ((F.softmax, torch.softmax), (F.log_softmax, torch.log_softmax)):
        ours = fn(dl.tensor(x), dim=1).numpy()
        ref = tfn(torch.tensor(x), 1).numpy()
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
        np.testing.assert_allclose(ours[~np.isnan(ours)], ref[~np.isnan(ref)], rtol=1e-6)


def test_softmax_dims_dtype_and_scalar():
    x = dl.randn(2, 3, 4)
    for d in (0, 1, 2, -1, -3):
        y = F.softmax(x, dim=d).numpy()
        np.testing.assert_allclose(y.sum(axis=d), 1.0, rtol=1e-6)
    y = F.softmax(x, dim=-1, dtype=dl.float64)
    assert y.dtype == np.float64
    assert F.softmax(dl.tensor(3.0), dim=0).item() == 1.0
    assert F.log_softmax(dl.tensor(3.0), dim=0).item() == 0.0
    # implicit dim (PyTorch's legacy rule): 0 for 0-, 1- and 3-D, else 1
    np.testing.assert_allclose(F.softmax(x).numpy(), F.softmax(x, dim=0).numpy())
    assert F.softmax(dl.zeros(0, 5), dim=1).shape == (0, 5)
    assert F.softmax(dl.zeros(4, 0), dim=1).shape == (4, 0)
    s = F.softmin(x, dim=1).numpy()
    np.testing.assert_allclose(s, _np_softmax(-x.numpy(), 1), rtol=1e-6)


# ---- autograd: gradcheck in float64 ---------------------------------------------------------
def _away_from_kinks(shape, rng, kinks=(0.0, -3.0, 3.0, -0.5, 2.0, 6.0)):
    x = rng.standard_normal(shape) * 2.5
    for k in kinks:
        x = np.where(np.abs(x - k) < 1e-2, x + 0.05, x)
    return x


GRADCHECK = {
    "relu": lambda x: F.relu(x), "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "sigmoid": F.sigmoid, "tanh": F.tanh, "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"), "silu": F.silu,
    "elu": lambda x: F.elu(x, 0.7), "selu": F.selu, "celu": lambda x: F.celu(x, 1.5),
    "softplus": lambda x: F.softplus(x, beta=1.5, threshold=3.0),
    "hardtanh": lambda x: F.hardtanh(x, -0.5, 2.0), "relu6": F.relu6,
    "hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid, "mish": F.mish,
    "logsigmoid": F.logsigmoid,
    "softmax0": lambda x: F.softmax(x, dim=0), "softmax1": lambda x: F.softmax(x, dim=1),
    "log_softmax0": lambda x: F.log_softmax(x, dim=0),
    "log_softmax1": lambda x: F.log_softmax(x, dim=-1),
    "softmin": lambda x: F.softmin(x, dim=1),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck(name, rng):
    x = dl.tensor(_away_from_kinks((3, 19), rng), dtype=dl.float64, requires_grad=True)
    assert dl.autograd.gradcheck(GRADCHECK[name], (x,))


# ---- parity with PyTorch: functions and layers, forward and backward -------------------------
def _torch_pairs(torch):
    TF = torch.nn.functional
    return [
        (F.relu, TF.relu), (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
        (F.sigmoid, torch.sigmoid), (F.tanh, torch.tanh), (F.gelu, TF.gelu),
        (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
        (F.silu, TF.silu), (lambda x: F.elu(x, 0.5), lambda x: TF.elu(x, 0.5)),
        (F.selu, TF.selu), (lambda x: F.celu(x, 2.0), lambda x: TF.celu(x, 2.0)),
        (lambda x: F.softplus(x, 2.0, 5.0), lambda x: TF.softplus(x, 2.0, 5.0)),
        (lambda x: F.hardtanh(x, -2.0, 3.0), lambda x: TF.hardtanh(x, -2.0, 3.0)),
        (F.relu6, TF.relu6), (F.hardswish, TF.hardswish), (F.hardsigmoid, TF.hardsigmoid),
        (F.mish, TF.mish), (F.logsigmoid, TF.logsigmoid),
        (lambda x: F.softmax(x, dim=1), lambda x: TF.softmax(x, dim=1)),
        (lambda x: F.softmax(x, dim=0), lambda x: TF.softmax(x, dim=0)),
        (lambda x: F.log_softmax(x, dim=-1), lambda x: TF.log_softmax(x, dim=-1)),
        (lambda x: F.log_softmax(x, dim=0), lambda x: TF.log_softmax(x, dim=0)),
        (lambda x: F.softmin(x, dim=1), lambda x: TF.softmin(x, dim=1)),
    ]


def _layer_pairs(torch):
    tnn = torch.nn
    return [
        (dl.nn.ReLU(), tnn.ReLU()),  # inplace=True: tests/test_inplace.py
        (dl.nn.LeakyReLU(0.3), tnn.LeakyReLU(0.3)), (dl.nn.Sigmoid(), tnn.Sigmoid()),
        (dl.nn.Tanh(), tnn.Tanh()), (dl.nn.GELU(), tnn.GELU()),
        (dl.nn.GELU("tanh"), tnn.GELU("tanh")), (dl.nn.SiLU(), tnn.SiLU()),
        (dl.nn.ELU(0.8), tnn.ELU(0.8)), (dl.nn.SELU(), tnn.SELU()), (dl.nn.CELU(0.6), tnn.CELU(0.6)),
        (dl.nn.Softplus(0.5, 10), tnn.Softplus(0.5, 10)),
        (dl.nn.Hardtanh(-1.5, 0.5), tnn.Hardtanh(-1.5, 0.5)), (dl.nn.ReLU6(), tnn.ReLU6()),
        (dl.nn.Hardswish(), tnn.Hardswish()), (dl.nn.Hardsigmoid(), tnn.Hardsigmoid()),
        (dl.nn.Mish(), tnn.Mish()), (dl.nn.LogSigmoid(), tnn.LogSigmoid()),
        (dl.nn.Softmax(dim=1), tnn.Softmax(dim=1)), (dl.nn.LogSoftmax(dim=0), tnn.LogSoftmax(dim=0)),
        (dl.nn.Softmin(dim=-1), tnn.Softmin(dim=-1)),
    ]


def _parity(ours, theirs, x, g, torch, rtol=2e-5, atol=2e-6):
    xt = dl.tensor(x, requires_grad=True)
    y = ours(xt)
    y.backward(dl.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=atol)


def _parity_input(rng):
    x = (rng.standard_normal((13, 37)) * 3).astype(np.float32)
    x[0, :8] = [1e4, -1e4, 88.0, -88.0, 30.0, -30.0, 0.0, 6.0]
    x[1, :4] = [-3.0, 3.0, 1e-7, -1e-7]
    return x


def test_functions_match_torch(torch, rng):
    x = _parity_input(rng)
    g = rng.standard_normal(x.shape).astype(np.float32)
    for ours, theirs in _torch_pairs(torch):
        _parity(ours, theirs, x, g, torch)


def test_layers_match_torch(torch, rng):
    x = _parity_input(rng)
    g = rng.standard_normal(x.shape).astype(np.float32)
    for ours, theirs in _layer_pairs(torch):
        _parity(ours, theirs, x, g, torch)
        if not getattr(ours, "inplace", False):
            assert repr(ours) == repr(theirs)
    assert repr(dl.nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))
    assert repr(dl.nn.LeakyReLU(0.2, True)) == repr(torch.nn.LeakyReLU(0.2, True))


def test_float64_matches_torch(torch, rng):
    x = rng.standard_normal((5, 11)) * 3
    g = rng.standard_normal(x.shape)
    for ours, theirs in _torch_pairs(torch):
        # rtol 1e-7: torch's float64 hardsigmoid gradient uses a float32 1/6 (3e-8 off)
        _parity(ours, theirs, x, g, torch, rtol=1e-7, atol=1e-12)


def test_nan_propagates_like_torch(torch):
    x = np.array([np.nan, 1.0, -1.0, np.inf, -np.inf, 0.0, 2.0, -2.0, 5.0], np.float32)
    for i, (ours, theirs) in enumerate(_torch_pairs(torch)[:17]):    # the elementwise ones
        y = ours(dl.tensor(x)).numpy()
        ty = theirs(torch.tensor(x)).numpy()
        assert np.isnan(y[0])
        if i == 4:
            # exact gelu(+inf) is +inf (torch 2.13 says NaN); everything else as torch
            assert y[3] == np.inf
            y, ty = np.delete(y, 3), np.delete(ty, 3)
        np.testing.assert_array_equal(np.isnan(y), np.isnan(ty))


def test_tensor_methods_and_noncontiguous(rng):
    x = dl.tensor(rng.standard_normal((6, 8)).astype(np.float32))
    xt = x.transpose(0, 1)                     # a non-contiguous view
    np.testing.assert_allclose(xt.relu().numpy(), np.maximum(xt.numpy(), 0))
    np.testing.assert_allclose(xt.sigmoid().numpy(), _sig(xt.numpy().astype(np.float64)), rtol=1e-6)
    np.testing.assert_allclose(xt.softmax(0).numpy(), _np_softmax(xt.numpy(), 0), rtol=1e-6)
    np.testing.assert_allclose(dl.tanh(xt).numpy(), np.tanh(xt.numpy()), rtol=1e-6, atol=1e-7)


def test_errors():
    # an integer tensor's relu keeps its dtype, as torch's (test_torch_semantics_float_math);
    # a bool tensor torch refuses
    with pytest.raises(TypeError, match="relu: input must be float32 or float64"):
        F.relu(dl.tensor([True, False]))
    with pytest.raises(TypeError, match="must be a Tensor"):
        F.gelu(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(dl.zeros(3), approximate="fast")
    with pytest.raises(ValueError, match="approximate"):
        dl.nn.GELU("erf")
    with pytest.raises(IndexError, match="softmax: dim 2"):
        F.softmax(dl.zeros(3, 4), dim=2)
    with pytest.raises(ValueError, match="min_val"):
        F.hardtanh(dl.zeros(3), 2.0, 1.0)
    with pytest.raises(TypeError, match="negative_slope"):
        F.leaky_relu(dl.zeros(3), "0.1")
    with pytest.raises(ValueError, match="beta"):
        F.softplus(dl.zeros(3), beta=0)
    with pytest.raises(ValueError, match="unknown activation"):
        _C.act_forward(99, np.zeros(3, np.float32), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="elements"):
        _C.act_forward(0, np.zeros(3, np.float32), np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="float32"):
        _C.act_forward(0, np.zeros(3, np.float32), np.zeros(3, np.float64))
    with pytest.raises(ValueError, match="does not match"):
        _C.softmax_forward(np.zeros(6, np.float32), np.zeros(6, np.float32), 2, 2, 2)


# ---- SwiGLU over stacked gate|up rows ---------------------------------------------------------
@pytest.mark.parametrize("M,F", [(1, 1), (3, 7), (5, 17), (2, 33), (9, 100)])
def test_silu_mul_matches_silu_then_product(M, F, isa, threads, rng):
    gu = (rng.standard_normal((M, 2 * F)) * 4).astype(np.float32)
    gu[0, :min(F, 4)] = [30.0, -30.0, 0.0, -100.0][:min(F, 4)]
    out = np.full((M, F), np.nan, np.float32)
    _C.silu_mul(gu, out)
    g, u = gu[:, :F].astype(np.float64), gu[:, F:].astype(np.float64)
    np.testing.assert_allclose(out, g / (1 + np.exp(-g)) * u, rtol=3e-6, atol=2e-6)
    # the same roundings as the SiLU kernel followed by the float32 product
    a = np.empty((M, F), np.float32)
    _C.act_forward(_C.AF_SILU, np.ascontiguousarray(gu[:, :F]), a)
    np.testing.assert_array_equal(out, a * gu[:, F:])


def test_silu_mul_nan_and_errors():
    gu = np.array([[np.nan, 1.0, 2.0, 3.0], [1.0, 2.0, np.nan, 1.0]], np.float32)
    out = np.empty((2, 2), np.float32)
    _C.silu_mul(gu, out)
    assert np.isnan(out[0, 0]) and np.isnan(out[1, 0]) and not np.isnan(out[0, 1])
    with pytest.raises(ValueError, match="even number of columns"):
        _C.silu_mul(np.zeros((2, 3), np.float32), out)
    with pytest.raises(ValueError, match=r"out must have shape \(2, 2\)"):
        _C.silu_mul(gu, np.empty((2, 3), np.float32))
    with pytest.raises(TypeError, match="gu dtype must be float32"):
        _C.silu_mul(gu.astype(np.float64), out)
    with pytest.raises(ValueError, match="gu must be C-contiguous"):
        _C.silu_mul(np.zeros((2, 8), np.float32)[:, ::2], out)
