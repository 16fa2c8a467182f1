"""The 16-bit rule for ops without a 16-bit kernel: widen, compute in float32, round back.

torch's CPU kernels for bfloat16/float16 load each value as float32, compute, and round the
result to the input's dtype.  `via_float32` gives an op the same behaviour on dlcore's float32
kernels: when the op's input is a 16-bit tensor, every 16-bit Tensor argument is cast to float32
through the differentiable Cast (C conversion kernels), the op runs, and its float32 results are
rounded back to the input's dtype (integer results such as pooling indices are kept).  Gradients
flow through the casts, so they come back in each argument's own dtype.

The check costs one dtype comparison on the op's first argument when the input is not 16-bit.
"""
import functools
import inspect

from ..dtypes import float16, float32, is_bf16
from ..tensor_base import TensorBase
from .shape import Cast


def half_dtype(t):
    """The 16-bit float dtype of Tensor `t`, or None."""
    if isinstance(t, TensorBase):
        dt = t._data.dtype
        if dt == float16 or is_bf16(dt):
            return dt
    return None


def _widen(v):
    if isinstance(v, TensorBase) and half_dtype(v) is not None:
        return Cast.apply(v, dtype=float32)
    if type(v) in (list, tuple) and any(half_dtype(x) is not None for x in v):
        return type(v)(_widen(x) for x in v)
    return v


def _narrow(v, dt):
    if isinstance(v, TensorBase):
        return Cast.apply(v, dtype=dt) if v._data.dtype == float32 else v
    if type(v) in (list, tuple):
        return type(v)(_narrow(x, dt) for x in v)
    return v


def run_in_float32(fn, dt, args, kwargs, mutated=(), inplace_at=None):
    """fn on float32 copies of the 16-bit arguments, float32 results rounded to `dt`.
    `mutated` names positions/keywords the op updates in place (batch_norm's running stats):
    their new values are rounded back into the caller's 16-bit tensors.  `inplace_at` is the
    position of the op's `inplace` flag: the op runs out of place, and the result is written
    into the input when that input is outside any graph (inference), else returned as a new
    tensor."""
    args = list(args)
    inplace = False
    if inplace_at is not None:
        if len(args) > inplace_at:
            inplace, args[inplace_at] = bool(args[inplace_at]), False
        elif kwargs.get("inplace"):
            inplace, kwargs = True, dict(kwargs, inplace=False)
    wide_args = [_widen(a) for a in args]
    wide_kwargs = {k: _widen(v) for k, v in kwargs.items()}
    out = fn(*wide_args, **wide_kwargs)
    for m in mutated:
        orig, wide = ((args[m], wide_args[m]) if isinstance(m, int) and m < len(args) else
                      (kwargs.get(m), wide_kwargs.get(m)) if isinstance(m, str) else (None, None))
        if wide is not orig and isinstance(orig, TensorBase):
            orig._data[...] = wide._data.astype(orig._data.dtype)
    if kwargs.get("dtype") is not None:  # an explicit result dtype (sum(dtype=...)) is kept
        return out
    out = _narrow(out, dt)
    x = args[0] if args else kwargs.get("input")
    if inplace and not x.requires_grad and x._ctx is None and isinstance(out, TensorBase):
        x._data[...] = out._data
        return x
    return out


def via_float32(fn=None, mutated=(), only=None):
    """Decorator: a 16-bit first argument (`input=` too) runs `fn` in float32 (see the module
    docstring).  `mutated`: (position, keyword) pairs of arguments updated in place; `only`:
    the one 16-bit dtype to widen (an op with its own bfloat16 kernel widens float16 only;
    "bfloat16" for ops NumPy runs natively on float16 but only on ml_dtypes' slow per-element
    loops for bfloat16)."""
    if fn is None:
        return functools.partial(via_float32, mutated=mutated, only=only)
    names = tuple(m for pair in mutated for m in pair)
    params = list(inspect.signature(fn).parameters)
    inplace_at = params.index("inplace") if "inplace" in params else None

    @functools.wraps(fn)
    def run(*args, **kwargs):
        a = args[0] if args else kwargs.get("input")
        if isinstance(a, TensorBase):
            dt = a._data.dtype
            if dt is not float32 and (dt == float16 or is_bf16(dt)) and \
                    (only is None or (is_bf16(dt) if only == "bfloat16" else dt == only)):
                return run_in_float32(fn, dt, args, kwargs, names, inplace_at)
        return fn(*args, **kwargs)
    run.__wrapped_half__ = fn
    return run
