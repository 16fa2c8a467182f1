"""What torch shows of a graph node (a tensor's grad_fn): its name (AddBackward0), its repr, and
`next_functions`, the edges to the nodes that made its inputs, each (node, output index): a
leaf that requires grad appears as an AccumulateGrad node holding the leaf (`.variable`), an
input that needs no gradient as (None, 0).  Tutorials walk a graph this way to show it.

The edges are read from the inputs the node keeps for backward, so after backward (which
releases them) a node has no next_functions left.
"""
from ..tensor_base import TensorBase


def torch_node_name(cls_name):
    """torch's name of the node class `cls_name` (Add -> AddBackward0)."""
    return cls_name if "Backward" in cls_name else cls_name + "Backward0"


class AccumulateGrad:
    """The node where a leaf tensor's gradient is accumulated (torch's AccumulateGrad)."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable

    next_functions = ()

    def name(self):
        return "torch::autograd::AccumulateGrad"

    def __repr__(self):
        return "<AccumulateGrad object at %#x>" % id(self)


def _edge(p):
    if not isinstance(p, TensorBase):
        return (None, 0)
    ctx = p._ctx
    if ctx is not None:
        return (ctx, p._idx)
    if p.requires_grad:
        return (AccumulateGrad(p), 0)
    return (None, 0)


class NodeApi:
    """Mixed into Function: the graph-walking surface torch's nodes have."""

    def name(self):
        return torch_node_name(type(self).__name__)

    @property
    def next_functions(self):
        return tuple(_edge(p) for p in self.__dict__.get("parents", ()))

    def __repr__(self):
        return "<%s object at %#x>" % (self.name(), id(self))
