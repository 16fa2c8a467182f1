"""dl.autocast: torch's automatic mixed precision for the CPU.

    with dl.autocast("cpu", dtype=dl.bfloat16):
        loss = loss_fn(model(x), y)     # matmul/linear/conv in bf16, losses in float32
    loss.backward()                     # gradients reach the float32 parameters in float32
    optimizer.step()

The cast policies are marked on the ops (dlcore.ops.autocast); this class only switches the
per-thread state on and off.  As torch, a device other than the CPU, or a dtype other than
bfloat16/float16, warns and leaves autocast off.
"""
import functools
import warnings

from ..dtypes import as_dtype, bfloat16_dtype, is_half
from ..ops import autocast as _policy

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "is_autocast_cpu_enabled",
           "get_autocast_cpu_dtype", "set_autocast_enabled", "set_autocast_dtype"]


def _device(device_type, fname):
    if not isinstance(device_type, str):
        raise TypeError("%s: device_type must be a string such as 'cpu', got %r"
                        % (fname, device_type))
    return device_type.partition(":")[0]


class autocast:
    """Context manager (and decorator) running the enclosed ops in mixed precision."""

    def __init__(self, device_type="cpu", dtype=None, enabled=True, cache_enabled=None):
        dev = _device(device_type, "autocast")
        self.device = dev
        self.fast_dtype = bfloat16_dtype() if dtype is None else as_dtype(dtype, "dtype",
                                                                           "autocast")
        self._enabled = bool(enabled)
        if dev != "cpu":
            if self._enabled:
                warnings.warn("autocast: device_type %r is not available (dlcore runs on the "
                              "CPU only); autocast is disabled" % device_type, stacklevel=2)
            self._enabled = False
        elif not is_half(self.fast_dtype):
            if self._enabled:
                warnings.warn("autocast: CPU autocast supports dtype bfloat16 and float16, got "
                              "%s; autocast is disabled" % self.fast_dtype, stacklevel=2)
            self._enabled = False
        self._cache_enabled = True if cache_enabled is None else bool(cache_enabled)
        self._prev = None

    def __enter__(self):
        st = _policy.state
        self._prev = (st.enabled, st.dtype)
        st.enabled = self._enabled
        if self._enabled:
            st.dtype = self.fast_dtype
            st.depth += 1
        return self

    def __exit__(self, exc_type, exc, tb):
        st = _policy.state
        if self._enabled:
            st.depth -= 1
        st.enabled, st.dtype = self._prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def run(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled):
                return func(*args, **kwargs)
        return run

    def __repr__(self):
        return "autocast(device_type=%r, dtype=%s, enabled=%s)" % (
            self.device, self.fast_dtype, self._enabled)


def is_autocast_enabled(device_type="cpu"):
    """Whether autocast is on for `device_type` in this thread (never for other devices)."""
    return _device(device_type, "is_autocast_enabled") == "cpu" and _policy.state.enabled


def get_autocast_dtype(device_type="cpu"):
    _device(device_type, "get_autocast_dtype")
    return _policy.state.dtype or bfloat16_dtype()


def is_autocast_cpu_enabled():
    return _policy.state.enabled


def get_autocast_cpu_dtype():
    return _policy.state.dtype or bfloat16_dtype()


def set_autocast_enabled(device_type, enabled=None):
    """torch's set_autocast_enabled(device_type, enabled) (and the older (enabled) form)."""
    if enabled is None:
        device_type, enabled = "cpu", device_type
    if _device(device_type, "set_autocast_enabled") == "cpu":
        _policy.state.enabled = bool(enabled)


def set_autocast_dtype(device_type, dtype):
    dt = as_dtype(dtype, "dtype", "set_autocast_dtype")
    if not is_half(dt):
        raise ValueError("set_autocast_dtype: CPU autocast supports bfloat16 and float16, got %s"
                         % dt)
    if _device(device_type, "set_autocast_dtype") == "cpu":
        _policy.state.dtype = dt
