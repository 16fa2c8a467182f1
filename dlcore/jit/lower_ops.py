"""One lowering per op type (lower_layers, lower_math, lower_moves): the node becomes C
step(s) on Refs, or (returning False) a Python step.  The kernels are float32; other dtypes
take the Python path except for data movement (views, copies, Concat, Gather, Cast), which
works on any element size."""
from . import lower_layers, lower_math, lower_mbconv, lower_moves, lower_quant

__all__ = ["lower_node", "LOWER"]

LOWER = {}
for _m in (lower_layers, lower_math, lower_mbconv, lower_moves, lower_quant):
    LOWER.update(_m.LOWER)


def lower_node(L, node):
    """Emits the node's steps; False when it has no C lowering (a Python step then)."""
    f = LOWER.get(node.op)
    return False if f is None else f(L, node)
