"""Bias and activation into the GEMM / convolution epilogue.

- MatMul(x, W) with a constant 2-D W, then Add of a constant vector over the last axis, is a
  Gemm (transB=0) with that bias (how ONNX files spell a Linear on N-D input).
- A Gemm or Conv without bias followed by Add of a constant that broadcasts along its output
  channels (the last axis for Gemm, axis 1 for Conv) takes it as its bias.
- A Gemm or Conv followed by an elementwise activation (Relu, Gelu, Clip, Silu, Sigmoid, ...)
  takes it as attribute `activation` (and `activation_attrs`): the GEMM kernel applies Relu and
  exact Gelu in its epilogue; the others run on the output tile right after, in the same step.
  So does an Add (a residual sum then Relu, as ResNet's blocks end).
The fused-away value must have no other reader.
"""
import numpy as np

from ..convert import ACT_OPS
from ._util import Uses, const_data

__all__ = ["run"]


def _channel_vector(bias, out_shape, axis):
    """bias as a vector of out_shape[axis] values when it only varies along that axis."""
    b = const_data(bias)
    if b is None or b.ndim > len(out_shape):
        return None
    C = out_shape[axis]
    full = (1,) * (len(out_shape) - b.ndim) + b.shape
    if any(s != 1 for i, s in enumerate(full) if i != axis) or full[axis] not in (1, C):
        return None
    return np.broadcast_to(b.reshape(-1), (C,)).copy() if b.size == 1 else b.reshape(C).copy()


def _bias_of_add(add, y, axis):
    """The bias an Add of y and a constant brings, as a vector along y's `axis`, or None when
    the Add is not that (another shape, dtype or a non-constant operand)."""
    if tuple(add.outputs[0].shape) != tuple(y.shape):
        return None
    other = add.inputs[1] if add.inputs[0] is y else add.inputs[0]
    b = _channel_vector(other, y.shape, axis)
    return b if b is not None and b.dtype == y.dtype else None


def _absorb_add(graph, uses, add, y):
    """The Add's output is now y (the producer took its constant as bias): drop the Add."""
    graph.replace_uses(add.outputs[0], y)
    graph.nodes.remove(add)
    uses.refresh()


def _count_fused(graph, uses, fuse):
    """fuse(graph, uses, node) on each node the graph has when this starts; how many fused."""
    return sum(1 for node in list(graph.nodes) if fuse(graph, uses, node))


def _matmul_bias(graph, uses, node):
    if node.op != "MatMul" or node.attrs.get("transA") or node.attrs.get("transB"):
        return False
    w = const_data(node.inputs[1])
    add = uses.only_user(node.outputs[0])
    if w is None or w.ndim != 2 or add is None or add.op != "Add":
        return False
    y = node.outputs[0]
    b = _bias_of_add(add, y, y.ndim - 1)
    if b is None:
        return False
    node.op = "Gemm"
    node.inputs = [node.inputs[0], node.inputs[1], graph.const(b)]
    node.attrs = {"transB": 0}
    _absorb_add(graph, uses, add, y)
    return True


def _bias(graph, uses, node):
    if node.op not in ("Gemm", "Conv") or node.attrs.get("activation") is not None:
        return False
    if len(node.inputs) > 2 and node.inputs[2] is not None:
        return False
    y = node.outputs[0]
    add = uses.only_user(y)
    if add is None or add.op != "Add":
        return False
    b = _bias_of_add(add, y, 1 if node.op == "Conv" else y.ndim - 1)
    if b is None:
        return False
    node.inputs = list(node.inputs[:2]) + [graph.const(b)]
    _absorb_add(graph, uses, add, y)
    return True


def _act(graph, uses, node):
    if node.op not in ("Gemm", "Conv", "Add") or node.attrs.get("activation") is not None:
        return False
    y = node.outputs[0]
    if node.op == "Add" and (y.dtype.kind != "f" or any(
            v is None or v.dtype != y.dtype for v in node.inputs)):
        return False
    act = uses.only_user(y)
    if act is None or act.op not in ACT_OPS or act.inputs[0] is not y:
        return False
    node.attrs = dict(node.attrs, activation=act.op, activation_attrs=dict(act.attrs))
    graph.replace_uses(act.outputs[0], y)
    graph.nodes.remove(act)
    uses.refresh()
    return True


def run(graph):
    uses = Uses(graph)
    return sum(_count_fused(graph, uses, fuse) for fuse in (_matmul_bias, _bias, _act))
