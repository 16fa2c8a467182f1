"""Parallel GEMMs into one: Gemm nodes that read the same input with constant weights (the
separate query, key and value projections of nn.MultiheadAttention and BERT) become one Gemm
over the concatenated weights, and each old output a Slice of its columns.  One larger GEMM
runs closer to peak than three small ones, and the Slices are strided views the Attention
step reads in place."""
import numpy as np

from ._util import const_data

__all__ = ["run"]


def _key(node):
    if node.op != "Gemm":
        return None
    w = const_data(node.inputs[1])
    b = node.inputs[2] if len(node.inputs) > 2 else None
    if node.op != "Gemm" or w is None or w.ndim != 2 or not node.attrs.get("transB", 1) or \
            node.attrs.get("activation") is not None or \
            (b is not None and const_data(b) is None):
        return None
    return (id(node.inputs[0]), w.shape[1], w.dtype, b is None)


def run(graph):
    groups = {}
    for node in graph.nodes:
        k = _key(node)
        if k is not None:
            groups.setdefault(k, []).append(node)
    n = 0
    for nodes in groups.values():
        if len(nodes) < 2:
            continue
        ws = [const_data(nd.inputs[1]) for nd in nodes]
        no_bias = len(nodes[0].inputs) < 3 or nodes[0].inputs[2] is None
        W = np.ascontiguousarray(np.concatenate(ws, 0))
        ins = [nodes[0].inputs[0], graph.const(W)]
        if not no_bias:
            ins.append(graph.const(np.concatenate([const_data(nd.inputs[2]) for nd in nodes])))
        y0 = nodes[0].outputs[0]
        lead = tuple(y0.shape[:-1])
        total = W.shape[0]
        # the merged Gemm goes where the first one was; readers of the others come later
        idx = graph.nodes.index(nodes[0])
        merged = graph.add_node("Gemm", ins, {"transB": 1}, [(lead + (total,), y0.dtype)],
                                index=idx)
        pos = idx + 1
        col = 0
        for nd, w in zip(nodes, ws):
            y = nd.outputs[0]
            nd_ = len(lead) + 1
            starts = (0,) * (nd_ - 1) + (col,)
            ends = lead + (col + w.shape[0],)
            sl = graph.add_node("Slice", [merged.outputs[0]],
                                {"starts": starts, "ends": ends, "steps": (1,) * nd_},
                                [(y.shape, y.dtype)], index=pos)
            pos += 1
            graph.replace_uses(y, sl.outputs[0])
            graph.nodes.remove(nd)
            col += w.shape[0]
        n += 1
    return n
