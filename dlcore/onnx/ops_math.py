"""Elementwise ONNX ops: arithmetic (with opset-6 legacy broadcasting), variadic Max/Min/Sum/
Mean, unary math, activations, Clip, comparisons and logic, Where, Cast.

IR op types where dlcore has them (and C kernels in float32); the rest as NumPy steps
(numpy_ops.py).  The activation kernels take float32/float64: a float16 input is computed in
float32 and rounded back."""
import numpy as np

from . import narrow
from .builder import broadcast_shapes
from .numpy_ops import IMPLS
from .reader import np_dtype
from .registry import converter

__all__ = []

F16 = np.dtype(np.float16)
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def via_float(b, x, fn, ints=False):
    """fn(x) for a kernel that takes float32/float64 only: float16 runs in float32; with
    `ints`, integers of up to 32 bits run in float64 (exactly) and are cast back."""
    if x.dtype in FLOATS:
        return fn(x)
    if x.dtype == F16:
        return b.cast(fn(b.cast(x, np.float32)), F16)
    if ints and x.dtype.kind in "iu" and x.dtype.itemsize <= 4:
        return b.cast(fn(b.cast(x, np.float64)), x.dtype)
    raise TypeError("input must be a float tensor, got %s" % x.dtype)


def _legacy(b, node, x, y):
    """Opset < 7 broadcasting: B is aligned to A's dims starting at `axis`."""
    if node.opset >= 7 or not node.attr("broadcast", 0):
        return y
    axis = node.attr("axis", x.ndim - y.ndim)
    axis = axis % x.ndim if x.ndim else 0
    shape = [1] * x.ndim
    shape[axis:axis + y.ndim] = y.shape
    return b.reshape(y, shape)


@converter("Add", "Sub", "Mul", "Div")
def arith(b, node):
    x = node.need_input(0, "A")
    y = _legacy(b, node, x, node.need_input(1, "B"))
    if node.op == "Div" and x.dtype.kind in "iu":
        shape = broadcast_shapes(node.op, x.shape, y.shape)
        return [b.numpy1("IntDiv", [x, y], shape, x.dtype)]
    return [b.binary(node.op, x, y)]


@converter("Pow")
def power(b, node):
    x, y = node.need_input(0, "X"), node.need_input(1, "Y")
    if node.opset < 7:
        y = _legacy(b, node, x, y)
    if x.dtype.kind == "f" and y.dtype != x.dtype:
        y = b.cast(y, x.dtype)
    return [b.binary("Pow", x, y)]


def _variadic(b, node, op):
    xs = [v for v in node.inputs if v is not None]
    if not xs:
        raise node.error("needs at least one input")
    acc = xs[0]
    for v in xs[1:]:
        acc = b.binary(op, acc, v)
    if len(xs) == 1:
        acc = b.op("Identity", [acc], {}, acc.shape, acc.dtype)
    return acc


@converter("Max", "Min", "Sum")
def variadic(b, node):
    return [_variadic(b, node, {"Max": "Max", "Min": "Min", "Sum": "Add"}[node.op])]


@converter("Mean")
def mean(b, node):
    s = _variadic(b, node, "Add")
    n = sum(1 for v in node.inputs if v is not None)
    return [b.binary("Div", s, b.scalar(n, s.dtype)) if n > 1 else s]


@converter("Neg", "Abs")
def neg_abs(b, node):
    return [b.unary(node.op, node.need_input(0, "X"))]


@converter("Exp", "Log", "Sqrt", "Sin", "Cos")
def unary_float(b, node):
    x = node.need_input(0, "input")
    return [via_float(b, x, lambda v: b.unary(node.op, v))]


@converter("Reciprocal")
def reciprocal(b, node):
    x = node.need_input(0, "X")
    return [b.binary("Div", b.scalar(1, x.dtype), x)]


_NUMPY_UNARY = {"Floor": None, "Ceil": None, "Round": None, "Sign": None, "Tan": None,
                "Asin": None, "Acos": None, "Atan": None, "Sinh": None, "Cosh": None,
                "Asinh": None, "Acosh": None, "Atanh": None, "Erf": None,
                "BitwiseNot": None, "Not": None}


@converter(*_NUMPY_UNARY)
def numpy_unary(b, node):
    x = node.need_input(0, "X")
    return [b.numpy1(node.op, [x], x.shape, x.dtype)]


@converter("IsNaN")
def isnan(b, node):
    x = node.need_input(0, "X")
    return [b.numpy1("IsNaN", [x], x.shape, np.bool_)]


@converter("IsInf")
def isinf(b, node):
    x = node.need_input(0, "X")
    return [b.numpy1("IsInf", [x], x.shape, np.bool_,
                     detect_negative=node.attr("detect_negative", 1),
                     detect_positive=node.attr("detect_positive", 1))]


@converter("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor")
def compare(b, node):
    x, y = node.need_input(0, "A"), node.need_input(1, "B")
    y = _legacy(b, node, x, y)
    return [b.numpy1(node.op, [x, y], broadcast_shapes(node.op, x.shape, y.shape), np.bool_)]


@converter("BitwiseAnd", "BitwiseOr", "BitwiseXor")
def bitwise(b, node):
    x, y = node.need_input(0, "A"), node.need_input(1, "B")
    return [b.numpy1(node.op, [x, y], broadcast_shapes(node.op, x.shape, y.shape), x.dtype)]


@converter("BitShift", since=11)
def bitshift(b, node):
    x, y = node.need_input(0, "X"), node.need_input(1, "Y")
    return [b.numpy1("BitShift", [x, y], broadcast_shapes(node.op, x.shape, y.shape), x.dtype,
                     direction=node.attr("direction"))]


@converter("Mod", since=10)
def mod(b, node):
    x, y = node.need_input(0, "A"), node.need_input(1, "B")
    fmod = node.attr("fmod", 0)
    return [b.numpy1("Mod", [x, y], broadcast_shapes(node.op, x.shape, y.shape), x.dtype,
                     fmod=fmod)]


# ---- activations ----------------------------------------------------------------------------------
def _act(b, node, op, attrs=None):
    x = node.need_input(0, "X")
    return via_float(b, x, lambda v: b.unary(op, v, attrs))


@converter("Relu")
def relu(b, node):
    x = node.need_input(0, "X")
    if x.dtype.kind in "iu":
        return [b.binary("Max", x, b.scalar(0, x.dtype))]
    return [_act(b, node, "Relu")]


@converter("Sigmoid", "Tanh", "Mish")
def simple_act(b, node):
    return [_act(b, node, node.op)]


@converter("HardSwish", since=14)
def hardswish(b, node):
    return [_act(b, node, "HardSwish")]


@converter("LeakyRelu")
def leaky_relu(b, node):
    return [_act(b, node, "LeakyRelu", {"alpha": node.attr("alpha", 0.01)})]


@converter("Elu")
def elu(b, node):
    return [_act(b, node, "Elu", {"alpha": node.attr("alpha", 1.0), "scale": 1.0,
                                  "input_scale": 1.0})]


@converter("Selu")
def selu(b, node):
    return [_act(b, node, "Elu", {"alpha": node.attr("alpha", 1.67326319217681884765625),
                                  "scale": node.attr("gamma", 1.05070102214813232421875),
                                  "input_scale": 1.0})]


@converter("Celu", since=12)
def celu(b, node):
    alpha = node.attr("alpha", 1.0)
    return [_act(b, node, "Elu", {"alpha": alpha, "scale": 1.0, "input_scale": 1.0 / alpha})]


@converter("Softplus")
def softplus(b, node):
    # PyTorch's threshold 20: log1p(exp(x)) - x < 2.1e-9 there, below float32's resolution
    return [_act(b, node, "Softplus", {"beta": 1.0, "threshold": 20.0})]


@converter("Softsign")
def softsign(b, node):
    x = node.need_input(0, "input")
    den = b.binary("Add", b.scalar(1, x.dtype), b.unary("Abs", x))
    return [b.binary("Div", x, den)]


@converter("HardSigmoid")
def hardsigmoid(b, node):
    x = node.need_input(0, "X")
    alpha, beta = node.attr("alpha", 0.2), node.attr("beta", 0.5)
    if abs(alpha - 1 / 6) < 1e-7 and beta == 0.5:
        return [_act(b, node, "HardSigmoid")]
    y = b.binary("Add", b.binary("Mul", x, b.scalar(alpha, x.dtype)), b.scalar(beta, x.dtype))
    return [_clip(b, y, 0.0, 1.0)]


@converter("Gelu", since=20)
def gelu(b, node):
    approx = node.attr("approximate", "none")
    if approx not in ("none", "tanh"):
        raise node.error("approximate must be 'none' or 'tanh', got %r" % approx)
    return [_act(b, node, "Gelu", {"approximate": approx})]


@converter("PRelu")
def prelu(b, node):
    x, slope = node.need_input(0, "X"), node.need_input(1, "slope")
    if node.opset < 7 and slope.ndim == 1 and x.ndim > 2 and slope.shape[0] == x.shape[1]:
        slope = b.reshape(slope, (slope.shape[0],) + (1,) * (x.ndim - 2))
    elif slope.ndim and slope.ndim < x.ndim and slope.shape[0] == x.shape[1] and \
            slope.shape[0] != x.shape[-1] and node.opset < 9:
        slope = b.reshape(slope, slope.shape + (1,) * (x.ndim - 1 - slope.ndim))
    zero = b.scalar(0, x.dtype)
    pos = b.binary("Max", x, zero)
    neg = b.binary("Mul", b.binary("Min", x, zero), slope)
    return [b.binary("Add", pos, neg)]


@converter("ThresholdedRelu")
def thresholded_relu(b, node):
    x = node.need_input(0, "X")
    return [b.numpy1("ThresholdedRelu", [x], x.shape, x.dtype, alpha=node.attr("alpha", 1.0))]


@converter("Shrink")
def shrink(b, node):
    x = node.need_input(0, "input")
    return [b.numpy1("Shrink", [x], x.shape, x.dtype, bias=node.attr("bias", 0.0),
                     lambd=node.attr("lambd", 0.5))]


def _clip(b, x, lo, hi):
    if x.dtype in FLOATS or x.dtype == F16:
        return via_float(b, x, lambda v: b.unary("Clip", v, {"min": lo, "max": hi}))
    return b.numpy1("Clip", [x], x.shape, x.dtype, lo=lo, hi=hi)


@converter("Clip")
def clip(b, node):
    x = node.need_input(0, "input")
    if node.opset < 11:
        return [_clip(b, x, node.attr("min", None), node.attr("max", None))]
    lo, hi = node.input(1), node.input(2)
    if (lo is None or lo.is_const) and (hi is None or hi.is_const):
        lo_v = None if lo is None else lo.data.reshape(()).item()
        hi_v = None if hi is None else hi.data.reshape(()).item()
        return [_clip(b, x, lo_v, hi_v)]
    y = x
    if lo is not None:
        y = b.binary("Max", y, lo)
    if hi is not None:
        y = b.binary("Min", y, hi)
    return [y]


@converter("Where", since=9)
def where(b, node):
    c, x, y = (node.need_input(i, n) for i, n in enumerate(("condition", "X", "Y")))
    shape = broadcast_shapes("Where", c.shape, x.shape, y.shape)
    if c.dtype != np.bool_:
        c = b.cast(c, np.bool_)
    return [b.op("Where", [c, x, y], {}, shape, x.dtype)]


IMPLS["NarrowCast"] = narrow.narrow_cast


def _cast(b, x, dt, nar):
    if nar is None:
        return b.cast(x, dt)
    if narrow.tagged(b, x) == nar:
        return x
    y = b.numpy1("NarrowCast", [x], x.shape, narrow.carrier(nar), to=nar)
    return narrow.tag(b, y, nar)


@converter("Cast")
def cast(b, node):
    x = node.need_input(0, "input")
    to = node.attr("to")
    if isinstance(to, int):
        dt, nar = np_dtype(to, node.where(), narrow_ok=True), narrow.narrow_name(to)
    else:
        dt, nar = np.dtype(to), None
    return [_cast(b, x, dt, nar)]


@converter("CastLike", since=15)
def cast_like(b, node):
    x, like = node.need_input(0, "input"), node.need_input(1, "target_type")
    return [_cast(b, x, like.dtype, narrow.tagged(b, like))]
