"""Anomaly mode (torch.autograd.detect_anomaly / set_detect_anomaly).

While it is on, every recorded op keeps the stack of its forward call, and the backward pass
checks each Function's input gradients: the first NaN raises RuntimeError naming the
Function ("Function 'Div' returned nan values in its 0th output."), after a warning that
shows where that op was called in the forward, as torch does.  Off, the cost is one flag read
per recorded op and per backward node.
"""
import traceback
import warnings

import numpy as np

from ..tensor_base import TensorBase

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled"]

enabled = [False]
nan_check = [True]


def is_anomaly_enabled():
    return enabled[0]


def is_anomaly_check_nan_enabled():
    return nan_check[0]


def _set(mode, nan=True):
    """torch.set_anomaly_enabled(mode, check_nan=True)."""
    enabled[0], nan_check[0] = bool(mode), bool(nan)


def forward_stack():
    """The stack of the forward call recording an op (without the autograd frames)."""
    return traceback.format_stack()[:-3]


def check(fn, grads_in):
    """Raises if one of the gradients fn's backward returned holds a NaN."""
    if not nan_check[0]:
        return
    for i, g in enumerate(grads_in):
        arr = g._data if isinstance(g, TensorBase) else g
        if arr is None or not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fc":
            continue
        if np.isnan(arr).any():
            name = type(fn).__name__
            stack = fn.__dict__.get("_forward_stack")
            if stack:
                warnings.warn("Error detected in %s. Traceback of forward call that caused the "
                              "error:\n%s" % (name, "".join(stack)),
                              stacklevel=4)
            raise RuntimeError("Function '%s' returned nan values in its %dth output."
                               % (name, i))


class detect_anomaly:
    """Context manager (and decorator) turning anomaly detection on for its block."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        self.prev = None

    def __enter__(self):
        self.prev = (enabled[0], nan_check[0])
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)
        _set(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _set(*self.prev)
        return False

    def __call__(self, func):
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return func(*args, **kwargs)
        wrapper.__name__ = getattr(func, "__name__", "wrapper")
        wrapper.__doc__ = getattr(func, "__doc__", None)
        return wrapper


class set_detect_anomaly:
    """Sets anomaly detection on or off now; as a context manager, restores it on exit."""

    def __init__(self, mode, check_nan=True):
        self.prev = (enabled[0], nan_check[0])
        _set(mode, check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(*self.prev)
        return False
