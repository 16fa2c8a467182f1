"""Constant folding: a node whose inputs are all constants (a slice of a parameter, a
transposed weight, an arange, a mask built from shapes) is evaluated once by the reference
interpreter and its outputs become constants."""
from ..reference import run_node

__all__ = ["run"]

# ops whose folding could trade a small constant for a huge one
_GROWING = ("Expand", "Tile")
_MAX_GROWTH = 1 << 20


def run(graph):
    n = 0
    for node in list(graph.nodes):
        if node.op == "PyFunction" or not node.inputs:
            continue
        if any(v is not None and not v.is_const for v in node.inputs):
            continue
        if node.op in _GROWING and node.outputs[0].numel() > _MAX_GROWTH:
            continue
        outs = run_node(node, [None if v is None else v.data for v in node.inputs])
        for v, arr in zip(node.outputs, outs):
            graph.replace_uses(v, graph.const(arr.copy() if arr.base is not None else arr))
        graph.nodes.remove(node)
        n += 1
    return n
