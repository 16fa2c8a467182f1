"""Element types and device: the dtypes dlcore names (NumPy dtypes under PyTorch's names), the
default floating dtype, and the one device there is.

A leaf module: it imports nothing from dlcore, so every layer can use it.
"""
import builtins
import importlib

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
half = float16
# NumPy has no bfloat16; ml_dtypes registers one (kind 'V', so every "is it a float" question
# goes through is_floating below, never through dtype.kind alone).  It is imported on first use
# of dl.bfloat16: importing ml_dtypes costs ~0.6 s of CPU here, more than all of dlcore, and
# no array can be bfloat16 before it is loaded, so the checks below need only the dtype's name.
_bfloat16 = []


def bfloat16_dtype():
    """dl.bfloat16 (ml_dtypes' NumPy dtype), loading ml_dtypes the first time."""
    if not _bfloat16:
        _bfloat16.append(np.dtype(importlib.import_module("ml_dtypes").bfloat16))
    return _bfloat16[0]


def __getattr__(name):  # dlcore.dtypes.bfloat16, resolved on first use
    if name == "bfloat16":
        return bfloat16_dtype()
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
int16 = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
float = float32  # noqa: A001  (PyTorch's dl.float alias)
double = float64
long = int64
short = int16

_default_dtype = {"dtype": float32}

def is_bf16(dtype):
    """True for dl.bfloat16 (without loading ml_dtypes)."""
    return dtype.kind == "V" and dtype.name == "bfloat16"


def is_floating(dtype):
    """True for float16, bfloat16, float32, float64 (torch's is_floating_point)."""
    return dtype.kind == "f" or is_bf16(dtype)


def is_half(dtype):
    """True for the 16-bit float dtypes (bfloat16, float16): stored in 16 bits, computed in
    float32 and rounded back."""
    return dtype == float16 or is_bf16(dtype)


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
    if isinstance(dtype, str) and dtype == "bfloat16":
        return bfloat16_dtype()
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError("%s%s must be a dtype such as dl.float32, got %r"
                        % (fname + ": " if fname else "", argname, dtype)) from None


class device:
    """torch.device's shape: dl.device("cpu"), dl.device("cpu", 0), dl.device("cuda:0").

    Any device can be named (scripts build dl.device("cuda" if ... else "cpu") up front), but
    only the CPU holds tensors: moving a tensor anywhere else raises (check_device)."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002 (torch's argument name)
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError("device: expected a string such as 'cpu', got %r" % (type,))
        if ":" in type:
            if index is not None:
                raise ValueError("device: index given twice, in %r and as %r" % (type, index))
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise ValueError("device: invalid device string %r" % (type + ":" + idx))
            index = int(idx)
        if index is not None and (not isinstance(index, int) or index < 0):
            raise ValueError("device: index must be a non-negative int, got %r" % (index,))
        self.type = type
        self.index = index

    def __str__(self):
        return self.type if self.index is None else "%s:%d" % (self.type, self.index)

    def __repr__(self):
        if self.index is None:
            return "device(type=%r)" % self.type
        return "device(type=%r, index=%d)" % (self.type, self.index)

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")


class DeviceUnavailableError(RuntimeError, ValueError):
    """A tensor asked for a device other than the CPU (a RuntimeError as in torch; also a
    ValueError, what dlcore raised before it had dl.device)."""


def check_device(dev, argname="device"):
    """Raise unless `dev` (None, a string or a dl.device) names the CPU."""
    if dev is None:
        return
    if isinstance(dev, int) and not isinstance(dev, bool):
        dev = "cuda:%d" % dev  # torch reads a bare int as a CUDA ordinal
    try:
        d = dev if isinstance(dev, device) else device(dev)
    except (TypeError, ValueError):
        raise ValueError("%s: expected 'cpu' or dl.device('cpu'), got %r" % (argname, dev)) \
            from None
    if d.type != "cpu" or d.index not in (None, 0):
        raise DeviceUnavailableError("%s: dlcore runs on the CPU only; %r is not available (use 'cpu'; "
                           "dl.cuda.is_available() is False)" % (argname, str(d)))


# ---- type promotion, as torch does it ------------------------------------------------------
# torch orders dtypes in categories bool < integer < floating.  Between two tensors of different
# categories the result is the higher category's dtype (int64 + float32 -> float32, unlike
# NumPy's float64); within one category the wider type wins.  A 0-d tensor or a Python number
# takes part only when its category is higher than every dimensioned operand's: a float32 tensor
# times a 0-d float64 tensor stays float32, an int tensor plus 0.5 becomes the default float.
_CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2}


def category(dtype):
    """0 for bool, 1 for integer, 2 for floating dtypes."""
    try:
        return _CATEGORY[dtype.kind]
    except KeyError:
        if is_bf16(dtype):
            return 2
        raise TypeError("dlcore has no %s tensors (bool, integer and float dtypes only)"
                        % dtype) from None


def promote_types(type1, type2):
    """torch.promote_types: the smallest dtype both `type1` and `type2` convert to without
    leaving their category (int64 with float32 is float32)."""
    a, b = np.dtype(type1), np.dtype(type2)
    if a == b:
        return a
    ca, cb = category(a), category(b)
    if ca != cb:
        return a if ca > cb else b
    # bfloat16 with float16 is float32 (neither holds the other), as in torch and ml_dtypes
    return np.promote_types(a, b)


def result_dtype(da, a_dims, db, b_dims):
    """The dtype of a binary op on tensors of dtypes `da`, `db`; `a_dims`/`b_dims` say whether
    each has dimensions (a 0-d tensor only up-casts a dimensioned one across categories)."""
    if da == db:
        return da
    if a_dims == b_dims:
        return promote_types(da, db)
    ca, cb = category(da), category(db)
    if a_dims:
        return da if ca >= cb else db
    return db if cb >= ca else da


def scalar_category(value):
    """The category of a Python (or NumPy) scalar, for promotion against a tensor."""
    if isinstance(value, (bool, np.bool_)):
        return 0
    if isinstance(value, (int, np.integer)):
        return 1
    if isinstance(value, (builtins.float, np.floating)):
        return 2
    raise TypeError("dlcore has no tensors of %s (bool, int and float numbers only)"
                    % type(value).__name__)


_SCALAR_DEFAULT = {0: bool_, 1: int64}


def scalar_result_dtype(dtype, value):
    """The dtype of `tensor (op) value` for a tensor of `dtype` and a Python number `value`:
    the tensor's own dtype unless the number is of a higher category (then int64, or the
    default float dtype for a float)."""
    cv = scalar_category(value)
    if category(dtype) >= cv:
        return dtype
    return _SCALAR_DEFAULT.get(cv) or _default_dtype["dtype"]


def can_cast(from_, to):
    """torch.can_cast: False where the cast would lower the category (float to int, int to
    bool), the rule in-place ops and `out=` follow."""
    return category(np.dtype(from_)) <= category(np.dtype(to))
