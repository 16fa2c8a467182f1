"""Element types and device: the dtypes dlcore names (NumPy dtypes under PyTorch's names), the
default floating dtype, and the one device there is.

A leaf module: it imports nothing from dlcore, so every layer can use it.
"""
import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
float = float32  # noqa: A001  (PyTorch's dl.float alias)
double = float64
long = int64

_default_dtype = {"dtype": float32}


def get_default_dtype():
    return _default_dtype["dtype"]


def set_default_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (float32, float64):
        raise TypeError("set_default_dtype: dtype must be float32 or float64, got %s" % dtype)
    _default_dtype["dtype"] = dtype


def as_dtype(dtype, argname="dtype", fname=None):
    """np.dtype of `dtype`, None for None; `fname` names the caller in the error."""
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError("%s%s must be a dtype such as dl.float32, got %r"
                        % (fname + ": " if fname else "", argname, dtype)) from None


def check_device(device):
    if device is not None and str(device) != "cpu":
        raise ValueError("device: dlcore runs on the CPU only; expected 'cpu', got %r" % (device,))
