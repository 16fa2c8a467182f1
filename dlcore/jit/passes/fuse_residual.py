"""A residual sum into the pointwise convolution that makes one of its terms.

    y = Conv(x, W, b)        (1x1, stride 1, no padding, one group, no activation)
    z = Add(y, skip)         (or Add(skip, y); no activation; same shape and dtype)

becomes one Conv with attribute `residual` and the skip value as a fourth input: z = conv(x) +
b + skip, which the plan runs as the GEMM's C = W x + b + C on an output that holds the skip
value (csrc/plan_pointwise.c), instead of a separate pass reading two maps and writing one
(MobileNetV2's inverted-residual blocks end so).  The lowering puts the output in the skip's
buffer when the skip dies there, else copies the skip there first, so the fusion never
changes what another reader of the skip sees.

Not fused: y read by anything else or a graph output; an activation on either node (the sum
would have to come before it); a skip that is computed after the Conv in node order (the
Conv would read it before it exists), is the Conv's own input (its output may take the
input's buffer), is a constant, or broadcasts.
"""
from ._util import Uses

__all__ = ["run"]


def _pointwise(node):
    if node.op != "Conv" or len(node.inputs) != 3 or node.inputs[2] is None:
        return False
    at, w = node.attrs, node.inputs[1]
    return (w.is_const and len(w.shape) == 4 and tuple(w.shape[2:]) == (1, 1) and
            w.shape[1] > 1 and at.get("group", 1) == 1 and
            tuple(at.get("strides", (1, 1))) == (1, 1) and
            tuple(at.get("dilations", (1, 1))) == (1, 1) and
            all(p == 0 for p in at.get("pads", (0, 0, 0, 0))) and
            at.get("activation") is None and not at.get("residual") and
            node.outputs[0].dtype == w.dtype and w.dtype.kind == "f")


def _fuse(graph, uses, add, order):
    if add.op != "Add" or len(add.inputs) != 2 or add.attrs.get("activation") is not None:
        return False
    z = add.outputs[0]
    for y, skip in ((add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])):
        conv = y.producer if y is not None and y.kind == "node" else None
        if conv is None or not _pointwise(conv) or uses.only_user(y) is not add or \
                id(y) in uses.outputs:
            continue
        if skip is None or skip.is_const or skip is conv.inputs[0] or skip is y or \
                tuple(skip.shape) != tuple(y.shape) or skip.dtype != y.dtype or \
                tuple(z.shape) != tuple(y.shape) or z.dtype != y.dtype:
            continue
        if skip.kind == "node" and order[id(skip.producer)] > order[id(conv)]:
            continue
        conv.inputs = list(conv.inputs) + [skip]
        conv.attrs = dict(conv.attrs, residual=True)
        graph.replace_uses(z, y)
        graph.nodes.remove(add)
        uses.refresh()
        return True
    return False


def run(graph):
    uses = Uses(graph)
    n = 0
    for add in [nd for nd in graph.nodes if nd.op == "Add"]:
        order = {id(nd): k for k, nd in enumerate(graph.nodes)}
        n += _fuse(graph, uses, add, order)
    return n
