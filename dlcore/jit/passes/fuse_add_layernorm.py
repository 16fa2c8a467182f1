"""Residual add + LayerNorm: Add(a, b) of two same-shape values read by a LayerNormalization
becomes one SkipLayerNormalization(a, b, scale, bias) that adds and normalizes each row while
it is in cache.  When the sum has other readers (pre-norm blocks keep the residual stream) the
node also outputs it."""
from ._util import Uses

__all__ = ["run"]


def run(graph):
    n = 0
    uses = Uses(graph)
    for ln in list(graph.nodes):
        if ln.op != "LayerNormalization" or ln.attrs["axis"] != -1:
            continue
        s = ln.inputs[0]
        add = s.producer
        if add is None or add.op != "Add" or any(v is None for v in add.inputs):
            continue
        a, b = add.inputs
        if tuple(a.shape) != tuple(s.shape) or tuple(b.shape) != tuple(s.shape) or \
                a.dtype != s.dtype or b.dtype != s.dtype:
            continue
        others = [u for u, _ in uses.map.get(id(s), []) if u is not ln]
        ins = [a, b] + list(ln.inputs[1:3]) + [None] * (3 - len(ln.inputs))
        types = [(ln.outputs[0].shape, ln.outputs[0].dtype)]
        if others:
            types.append((s.shape, s.dtype))
        idx = graph.nodes.index(ln)
        fused = graph.add_node("SkipLayerNormalization", ins[:4], dict(ln.attrs), types,
                               index=idx)
        graph.nodes.remove(ln)
        graph.replace_uses(ln.outputs[0], fused.outputs[0])
        if others:
            graph.replace_uses(s, fused.outputs[1])
            # the sum's other readers may come before the LayerNorm: the fused node goes where
            # the Add was
            graph.nodes.remove(fused)
            graph.nodes.insert(graph.nodes.index(add), fused)
        graph.nodes.remove(add)
        uses.refresh()
        n += 1
    return n
