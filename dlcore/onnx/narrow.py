"""Sub-byte integer types (INT4, UINT4, INT2, UINT2): what opset 21+ quantized weights and
Cast use.

dlcore has no 4- or 2-bit dtype, so inside an imported graph such a tensor is an int8 (signed)
or uint8 (unsigned) "carrier" holding one value per byte, always within the narrow type's
range.  Files store them packed (two nibbles, or four 2-bit fields, per byte, lowest bits
first); `unpack` reads that.  At the plan's edges the values take the type the `onnx` package
gives them (ml_dtypes.int4 etc., what onnx.numpy_helper.to_array returns): graph inputs of a
narrow type accept that type (or the carrier, range-checked), outputs declared narrow are
returned in it.  Casts into a narrow type follow ONNX's reference implementation, which is
ml_dtypes' conversion: floats truncate toward zero (out of range gives 0, a case the spec
leaves undefined), integers keep their low bits.
"""
import numpy as np
from onnx import TensorProto

try:   # a dependency of onnx since 1.16, the first onnx with INT4
    import ml_dtypes
except ImportError:   # pragma: no cover - older onnx: no sub-byte types to read
    ml_dtypes = None

__all__ = ["NARROW", "narrow_name", "carrier", "bits", "value_range", "ml_dtype", "unpack",
           "to_carrier", "from_carrier", "narrow_cast", "tag", "tagged"]

# ONNX element type -> (name, bits, carrier dtype), for the types this onnx and ml_dtypes know
NARROW = {}
for _name, _bits, _carrier in (("int4", 4, np.int8), ("uint4", 4, np.uint8),
                               ("int2", 2, np.int8), ("uint2", 2, np.uint8)):
    if hasattr(TensorProto, _name.upper()) and hasattr(ml_dtypes, _name):
        NARROW[getattr(TensorProto, _name.upper())] = (_name, _bits, np.dtype(_carrier))
_BY_NAME = {v[0]: v for v in NARROW.values()}


def narrow_name(elem_type):
    """'int4', 'uint4', 'int2', 'uint2', or None for any other ONNX element type."""
    v = NARROW.get(int(elem_type))
    return v[0] if v else None


def carrier(name):
    return _BY_NAME[name][2]


def bits(name):
    return _BY_NAME[name][1]


def value_range(name):
    """(lowest, highest) value of the narrow type."""
    n = bits(name)
    return (-(1 << (n - 1)), (1 << (n - 1)) - 1) if name.startswith("int") else (0, (1 << n) - 1)


def ml_dtype(name):
    return np.dtype(getattr(ml_dtypes, name))


def unpack(packed, name, n):
    """The first n values of a packed byte array (lowest bits first), in the carrier type."""
    b = bits(name)
    per = 8 // b
    p = np.asarray(packed, np.uint8).reshape(-1, 1)
    v = ((p >> (np.arange(per, dtype=np.uint8) * b)) & ((1 << b) - 1)).reshape(-1)[:n]
    if name.startswith("int"):
        v = v.astype(np.int16)
        v = np.where(v >= (1 << (b - 1)), v - (1 << b), v)
    return v.astype(carrier(name))


def to_carrier(a, name, what):
    """A graph input given for a narrow-typed input, as the carrier; ValueError for another
    dtype or carrier values out of the type's range."""
    if a.dtype == ml_dtype(name):
        return a.astype(carrier(name))
    if a.dtype == carrier(name):
        lo, hi = value_range(name)
        if a.size and (a.min() < lo or a.max() > hi):
            raise ValueError("%s: %s values must lie in [%d, %d]" % (what, name, lo, hi))
        return a
    raise TypeError("%s must be %s (or %s holding %s values), got %s"
                    % (what, name, carrier(name).name, name, a.dtype.name))


def from_carrier(a, name):
    return np.asarray(a).astype(ml_dtype(name))


def narrow_cast(x, to="int4"):
    """Cast into a narrow type, as ONNX's reference (ml_dtypes) does; the carrier result."""
    x = np.asarray(x)
    if x.dtype == np.bool_:
        x = x.astype(np.int8)
    with np.errstate(invalid="ignore"):
        return x.astype(ml_dtype(to)).astype(carrier(to))


# ---- which IR Values hold narrow values (per Builder; read by Cast, CastLike, QuantizeLinear)
def tag(b, v, name):
    if name:
        b.narrow[id(v)] = (v, name)   # v kept alive so its id stays its own
    return v


def tagged(b, v):
    """The narrow type name of IR Value v, or None."""
    if v is None:
        return None
    t = b.narrow.get(id(v))
    return t[1] if t is not None and t[0] is v else None
