"""A Relu or an exact Gelu after a dynamically quantized Linear into that Linear's epilogue.

A dynamic int8 Linear (a PyFunction node of DynamicInt8LinearFn, as dl.quantization's
quantize_dynamic traces) with no activation, whose float result is read only by a Relu or an
exact Gelu (approximate "none"), takes it as its `act` (the int8 GEMM's epilogue applies the
activation kernel's own vf_gelu_erf, and a Relu that keeps NaN): the activation's pass over
the float rows goes, and a next dynamic Linear can take the rows quantized straight from the
epilogue (lower_quant.py).
"""
from ...ops.qmatmul import DynamicInt8LinearFn
from ._util import Uses

__all__ = ["run"]

_ACTS = {"Relu": "relu", "Gelu": "gelu"}


def _fuse(graph, uses, node):
    if node.op != "PyFunction" or node.attrs.get("fn") is not DynamicInt8LinearFn:
        return False
    kw = node.attrs.get("kwargs", {})
    if kw.get("act", "none") != "none" or len(node.outputs) != 1:
        return False
    y = node.outputs[0]
    a = uses.only_user(y)
    if a is None or a.op not in _ACTS or a.inputs[0] is not y or \
            (a.op == "Gelu" and a.attrs.get("approximate", "none") != "none") or \
            a.outputs[0].dtype != y.dtype or tuple(a.outputs[0].shape) != tuple(y.shape):
        return False
    node.attrs = dict(node.attrs, kwargs=dict(kw, act=_ACTS[a.op]))
    graph.replace_uses(a.outputs[0], y)
    graph.nodes.remove(a)
    uses.refresh()
    return True


def run(graph):
    uses = Uses(graph)
    return sum(1 for node in list(graph.nodes) if _fuse(graph, uses, node))
