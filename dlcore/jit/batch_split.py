"""Which dynamic dim of a traced graph splits it into independent slices.

A convolutional network run on a batch does the same thing to every sample and never mixes
them; such a plan can run as several calls on slices of the batch, one per thread, each
single-threaded (csrc/plan_split.c) instead of every step forking and joining a team.  This
module decides, from the symbolic graph, whether that is exact: it is when every value the
graph computes has the dim leading its shape and nowhere else, every constant broadcasts
along it, and every op is one that treats the rows of its leading axis independently (the
list below, with the attributes that could make them reach across the axis checked).
Anything else (attention, recurrences, gathers, slices, ops not listed) keeps the plan whole.
"""
from .convert import ACT_OPS
from .symbolic import Dim

__all__ = ["split_dim"]

# ops that map each slice of the leading axis on its own, whatever their other attributes
_ROWWISE = set(ACT_OPS) | {
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Neg", "Exp", "Log", "Log1p", "Sqrt",
    "Abs", "Sin", "Cos", "Conv", "ConvTranspose", "BatchNormalization", "MaxPool",
    "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "AdaptiveAvgPool",
    "AdaptiveMaxPool", "Identity", "Dropout", "Reshape", "Flatten"}

# ops whose inputs after the first are parameters
_WEIGHTED = {"Gemm", "Conv", "ConvTranspose", "BatchNormalization"}


def _axis_ok(node, ndim):
    op, at = node.op, node.attrs
    if op in _ROWWISE:
        return op != "Flatten" or at.get("axis", 1) % max(ndim, 1) != 0
    if op == "Gemm":
        return not at.get("transA")
    if op in ("Softmax", "LogSoftmax"):
        return at.get("axis", -1) % ndim != 0
    if op == "Transpose":
        return tuple(at.get("perm", ()))[:1] == (0,)
    if op == "Pad":
        pads = at.get("pads")
        return pads is not None and len(pads) == ndim and tuple(pads[0]) == (0, 0)
    return False


def _leads(shape, sym):
    """shape has Dim sym first and sym nowhere else."""
    if not shape or shape[0] != Dim.of(sym):
        return False
    return not any(isinstance(s, Dim) and sym in s.symbols() for s in shape[1:])


def _broadcasts(v, ndim):
    """a constant that reads the same for every row of a leading axis of ndim-D values"""
    return len(v.shape) < ndim or v.shape[0] == 1


def split_dim(graph):
    """The name of the dynamic dim along which the graph's work splits into independent
    slices, or None."""
    if not graph.inputs or not graph.nodes:
        return None
    first = graph.inputs[0].shape
    if not first or not isinstance(first[0], Dim) or len(first[0].symbols()) != 1:
        return None
    sym = next(iter(first[0].symbols()))
    if not all(_leads(v.shape, sym) for v in list(graph.inputs) + list(graph.outputs)):
        return None
    for node in graph.nodes:
        outs = [v for v in node.outputs if v is not None]
        if not outs or not all(_leads(v.shape, sym) for v in outs):
            return None
        ndim = len(outs[0].shape)
        if not _axis_ok(node, ndim):
            return None
        for v in node.inputs:
            if v is None:
                continue
            if node.op in _WEIGHTED and v is not node.inputs[0]:
                # weights, filters, bias, statistics: whole arrays applied to every row; one
                # computed from the batch (x @ x.T) would mix the rows
                if not v.is_const:
                    return None
            elif v.is_const:
                if not _broadcasts(v, ndim):
                    return None
            elif not _leads(v.shape, sym):
                return None
    return sym
