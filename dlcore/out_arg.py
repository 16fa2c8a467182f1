"""torch's `out=` keyword on the dl.* functions: `dl.matmul(a, b, out=c)`, `dl.rand(2, 2, out=c)`,
`dl.max(x, 1, out=(values, indices))`.

The function computes its result as usual, then the result is written into `out` and `out` is
returned, with torch's rules: the result's dtype must cast to out's (float into an integer out
raises, int into float does not); an `out` of another shape is resized, with torch's warning
when it held elements; and no out= call may take part in autograd (torch refuses it while an
input requires grad).  Only the functions torch documents with an out argument take it.
"""
import functools
import warnings

import numpy as np

from .autograd import inplace as IP
from .autograd import version
from .autograd.grad_mode import state as grad_state
from .dtypes import can_cast, is_bf16
from .ops.promote import TYPE_NAME
from .tensor_base import TensorBase

# the dl.* functions whose torch counterpart documents `out=` (torch 2.13's docstrings)
NAMES = (
    "abs acos acosh add addbmm addcdiv addcmul addmm addmv addr all amax amin aminmax any "
    "arange asin asinh atan atan2 atanh baddbmm bernoulli bitwise_and bitwise_not bitwise_or "
    "bitwise_xor bmm bucketize cat ceil cholesky cholesky_inverse cholesky_solve clamp clip "
    "column_stack concat concatenate copysign cos cosh cross cummax cummin cumprod cumsum "
    "deg2rad diag diff digamma div divide dot dstack empty eq erf erfc erfinv exp exp2 expm1 "
    "eye fix float_power floor floor_divide fmax fmin fmod frac frexp full gather gcd ge ger "
    "greater greater_equal gt heaviside histc hstack hypot i0 igamma igammac index_select inner "
    "inverse isneginf isposinf kron kthvalue lcm ldexp le lerp less less_equal lgamma linspace "
    "log log10 log1p log2 logaddexp logaddexp2 logcumsumexp logical_and logical_not logical_or "
    "logical_xor logit logspace logsumexp lt lu masked_select matmul matrix_power max maximum "
    "mean median min minimum mm msort mul multinomial multiply mv mvlgamma nan_to_num nanmean "
    "nanmedian nanquantile ne neg negative nextafter nonzero norm normal not_equal ones outer "
    "polygamma pow qr quantile rad2deg rand randint randn randperm reciprocal remainder round "
    "row_stack rsqrt searchsorted sgn sigmoid sign signbit sin sinc sinh sort sqrt square stack "
    "std std_mean sub subtract svd take_along_dim tan tanh topk triangular_solve tril triu "
    "trunc var var_mean vdot vstack where xlogy zeros").split()

def _type_name(dt):
    return "BFloat16" if is_bf16(dt) else TYPE_NAME.get(dt, dt.name)


def _write(fname, res, out):
    if not isinstance(out, TensorBase):
        raise TypeError("%s(): argument 'out' must be Tensor, not %s" % (fname, type(out).__name__))
    if not isinstance(res, TensorBase):
        raise TypeError("%s(): out= needs a Tensor result, the function gave %s"
                        % (fname, type(res).__name__))
    src, dst = res._data, out._data
    if not can_cast(src.dtype, dst.dtype):
        raise RuntimeError("%s(): result type %s can't be cast to the desired output type %s"
                           % (fname, _type_name(src.dtype), _type_name(dst.dtype)))
    IP.check_leaf(out, fname)
    if dst.shape != src.shape:
        if dst.size:
            warnings.warn("%s(): an output with one or more elements was resized since it had "
                          "shape %s, which does not match the required output shape %s"
                          % (fname, list(dst.shape), list(src.shape)), UserWarning, stacklevel=3)
        version.bump(dst)
        out._data = np.array(src, dtype=dst.dtype, copy=True)
        version.bump(out._data)
        return out
    IP.own_storage(out)
    version.bump(out._data)
    np.copyto(out._data, src, casting="unsafe")
    return out


def with_out(fn, fname):
    """`fn` taking torch's keyword-only `out=` (a Tensor, or a tuple for tuple results)."""

    @functools.wraps(fn)
    def call(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        res = fn(*args, **kwargs)
        parts = res if isinstance(res, tuple) else (res,)
        if grad_state.grad and any(isinstance(r, TensorBase) and r.requires_grad for r in parts):
            raise RuntimeError("%s(): functions with out=... arguments don't support automatic "
                               "differentiation, but one of the arguments requires grad." % fname)
        if isinstance(res, tuple):
            if not isinstance(out, (tuple, list)) or len(out) != len(res):
                raise TypeError("%s(): out must be a tuple of %d Tensors, got %r"
                                % (fname, len(res), type(out).__name__))
            written = tuple(_write(fname, r, o) for r, o in zip(res, out))
            return type(res)(*written) if hasattr(res, "_fields") else written
        return _write(fname, res, out)

    call.__wrapped_for_out__ = True
    return call


def install(namespace):
    """Give every function of NAMES in the module dict `namespace` the out= keyword."""
    for name in NAMES:
        fn = namespace.get(name)
        if fn is None or getattr(fn, "__wrapped_for_out__", False):
            continue
        namespace[name] = with_out(fn, name)
