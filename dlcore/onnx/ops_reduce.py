"""Reductions and index searches: ReduceSum/Mean/Max/Min/Prod/LogSumExp (IR ops), ReduceL1/L2/
SumSquare/LogSum (built from them), ArgMax/ArgMin, CumSum, TopK.

Axes come from the attribute before opset 13 (ReduceSum) or 18 (the others) and from the
second input after; an empty reduction has a known value (0, 1, -inf, ...) and becomes a
constant."""
import numpy as np

from .ops_math import FLOATS, via_float
from .registry import converter

__all__ = []

_IR = {"ReduceSum": "ReduceSum", "ReduceMean": "ReduceMean", "ReduceMax": "ReduceMax",
       "ReduceMin": "ReduceMin", "ReduceProd": "ReduceProd",
       "ReduceLogSumExp": "ReduceLogSumExp"}
_NUMPY = {"ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "max", "ReduceMin": "min",
          "ReduceProd": "prod"}


def _axes(b, node, x):
    """(sorted axes or None for all, keepdims); None axes with noop means identity."""
    input_since = 13 if node.op == "ReduceSum" else 18
    if node.opset >= input_since:
        axes = node.ints(1, "axes", None)
    else:
        axes = node.attr("axes", None)
    keep = int(node.attr("keepdims", 1))
    if axes is not None and len(axes) == 0:
        axes = None
    if axes is None:
        if node.opset >= input_since and node.attr("noop_with_empty_axes", 0):
            return "noop", keep
        return list(range(x.ndim)), keep
    axes = sorted({node.axis(a, x.ndim) for a in axes})
    return axes, keep


def _out_shape(x, axes, keep):
    return tuple((1 if i in axes else s) for i, s in enumerate(x.shape) if keep or i not in axes)


def _empty_value(op, dtype):
    if dtype == np.bool_:
        return op in ("ReduceMin", "ReduceProd")
    if op in ("ReduceSum", "ReduceL1", "ReduceL2", "ReduceSumSquare"):
        return 0
    if op == "ReduceProd":
        return 1
    if op in ("ReduceMax", "ReduceLogSumExp", "ReduceLogSum"):
        return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min
    if op == "ReduceMin":
        return np.inf if dtype.kind == "f" else np.iinfo(dtype).max
    return np.nan


def _reduce(b, op, x, axes, keep):
    shape = _out_shape(x, axes, keep)
    attrs = {"axes": tuple(axes), "keepdims": keep}
    if x.dtype in FLOATS or x.dtype == np.float16:
        return via_float(b, x, lambda v: b.op(_IR[op], [v], attrs, shape, v.dtype))
    if op not in _NUMPY:
        raise TypeError("%s needs a float input, got %s" % (op, x.dtype))
    return b.numpy1("Reduce", [x], shape, x.dtype, fn=_NUMPY[op], axes=tuple(axes),
                    keepdims=keep)


@converter("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
           "ReduceLogSumExp", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum")
def reduce(b, node):
    x = node.need_input(0, "data")
    axes, keep = _axes(b, node, x)
    if axes == "noop":
        return [b.op("Identity", [x], {}, x.shape, x.dtype)]
    if any(x.shape[a] == 0 for a in axes):
        shape = _out_shape(x, axes, keep)
        return [b.const(np.full(shape, _empty_value(node.op, x.dtype), x.dtype))]
    op = node.op
    if op in _IR:
        return [_reduce(b, op, x, axes, keep)]
    if op == "ReduceL1":
        return [_reduce(b, "ReduceSum", b.unary("Abs", x), axes, keep)]
    sq = _reduce(b, "ReduceSum", b.binary("Mul", x, x), axes, keep) \
        if op in ("ReduceL2", "ReduceSumSquare") else None
    if op == "ReduceSumSquare":
        return [sq]
    if op == "ReduceL2":
        return [via_float(b, sq, lambda v: b.unary("Sqrt", v)) if sq.dtype.kind == "f"
                else b.cast(via_float(b, b.cast(sq, np.float64),
                                      lambda v: b.unary("Sqrt", v)), sq.dtype)]
    s = _reduce(b, "ReduceSum", x, axes, keep)
    return [via_float(b, s, lambda v: b.unary("Log", v))]


@converter("ArgMax", "ArgMin")
def argmax(b, node):
    x = node.need_input(0, "data")
    axis = node.axis(node.attr("axis", 0), x.ndim)
    keep = int(node.attr("keepdims", 1))
    shape = _out_shape(x, [axis], keep)
    return [b.numpy1(node.op, [x], shape, np.int64, axis=axis, keepdims=keep,
                     select_last_index=int(node.attr("select_last_index", 0)))]


@converter("CumSum", since=11)
def cumsum(b, node):
    x = node.need_input(0, "x")
    axis = node.axis(node.ints(1, "axis")[0], x.ndim)
    ex, rev = int(node.attr("exclusive", 0)), int(node.attr("reverse", 0))
    if not ex and not rev and x.dtype in FLOATS:
        return [b.op("CumSum", [x], {"axis": axis}, x.shape, x.dtype)]
    return [b.numpy1("CumSum", [x], x.shape, x.dtype, axis=axis, exclusive=ex, reverse=rev)]


@converter("TopK", since=10)
def topk(b, node):
    x = node.need_input(0, "X")
    k = node.ints(1, "K")[0] if node.opset >= 10 else node.attr("k")
    axis = node.axis(node.attr("axis", -1), x.ndim)
    if not 0 <= k <= x.shape[axis]:
        raise node.error("K=%d is out of range for dim %d of size %d" % (k, axis, x.shape[axis]))
    shape = list(x.shape)
    shape[axis] = k
    return b.numpy("TopK", [x, b.const(np.asarray([k], np.int64))],
                   [(shape, x.dtype), (shape, np.int64)], axis=axis,
                   largest=int(node.attr("largest", 1)), sorted=int(node.attr("sorted", 1)))
