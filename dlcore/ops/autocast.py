"""Autocast's per-thread state and the two cast policies ops carry (torch's CPU autocast).

Inside `with dl.autocast("cpu", dtype=dl.bfloat16):` (dlcore.amp) an op marked
`@lower_precision` (matmul, linear, convolutions, prelu, attention) first casts its float32 and
float16/bfloat16 Tensor arguments to the autocast dtype, and an op marked `@float32_policy`
(the losses, prod, ...) casts its 16-bit arguments to float32.  float64 is never cast.  Every
other op runs in the dtype its inputs have, with the usual promotion: a bf16 linear output fed to
softmax gives a bf16 softmax, as in torch.  The casts are the differentiable Cast, so gradients
reach float32 parameters in float32 (the optimizer's master weights).

The state is thread-local, like grad mode; an op runs its body with autocast off, so the ops it
calls internally do not cast again (torch's redispatch below the autocast key).  When autocast
is off, a marked op pays one thread-local attribute read.
"""
import functools
import threading

from ..dtypes import float16, float32, is_bf16
from ..tensor_base import TensorBase
from .shape import Cast


class _AutocastState(threading.local):
    enabled = False
    dtype = None  # set by dl.autocast on entry (bfloat16 unless asked otherwise)
    depth = 0  # nesting of autocast-enabled blocks (the weight-cast cache lives while > 0)


state = _AutocastState()


def is_enabled():
    return state.enabled


def get_dtype():
    return state.dtype


def cast_to(v, dt):
    """v cast to dt when it is a float32/16-bit Tensor (or a list/tuple holding some)."""
    if isinstance(v, TensorBase):
        src = v._data.dtype
        if src != dt and (src == float32 or src == float16 or is_bf16(src)):
            return Cast.apply(v, dtype=dt)
        return v
    if type(v) in (list, tuple) and any(isinstance(x, TensorBase) for x in v):
        return type(v)(cast_to(x, dt) for x in v)
    return v


def _run_cast(fn, dt, args, kwargs):
    state.enabled = False
    try:
        return fn(*[cast_to(a, dt) for a in args],
                  **{k: cast_to(v, dt) for k, v in kwargs.items()})
    finally:
        state.enabled = True


def lower_precision(fn):
    """Autocast policy: cast float arguments to the autocast dtype (bf16 or fp16)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        if state.enabled:
            return _run_cast(fn, state.dtype, args, kwargs)
        return fn(*args, **kwargs)
    run.autocast_policy = "lower_precision"
    return run


def float32_policy(fn):
    """Autocast policy: cast 16-bit float arguments to float32 (losses, prod, ...)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        if state.enabled:
            return _run_cast(fn, float32, args, kwargs)
        return fn(*args, **kwargs)
    run.autocast_policy = "float32"
    return run
