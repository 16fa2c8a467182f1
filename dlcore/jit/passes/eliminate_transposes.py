"""Transpose and reshape elimination (graph side; the planner turns the remaining Transpose,
Slice and Reshape nodes into strided views that readers such as Attention and MatMul take
without a copy, see plan.py):

- Transpose of a Transpose becomes one Transpose (none when the permutations cancel); Reshape
  of a Reshape becomes one Reshape.
- A Transpose that swaps the last two axes of a MatMul operand becomes the MatMul's transA /
  transB flag.
- A Gemm reading a Transpose that keeps the last axis in place runs on the Transpose's input
  instead, and the Transpose moves to its output: the Gemm reads contiguous rows, and the
  Transpose can meet the next Reshape/Transpose/Attention and vanish there.
"""
from . import dead_nodes, identity
from ._util import Uses

__all__ = ["run"]


def _swap_last_two(perm):
    nd = len(perm)
    return nd >= 2 and tuple(perm) == tuple(range(nd - 2)) + (nd - 1, nd - 2)


def _chains(graph):
    n = 0
    for node in graph.nodes:
        if not node.inputs or node.inputs[0] is None:
            continue
        p = node.inputs[0].producer
        if p is None or p.op != node.op or node.op not in ("Transpose", "Reshape"):
            continue
        if node.op == "Transpose":
            inner, outer = p.attrs["perm"], node.attrs["perm"]
            node.attrs = dict(node.attrs, perm=tuple(inner[i] for i in outer))
        node.inputs = [p.inputs[0]] + node.inputs[1:]
        n += 1
    return n


def _matmul_flags(graph):
    n = 0
    for node in graph.nodes:
        if node.op != "MatMul":
            continue
        for i, flag in ((0, "transA"), (1, "transB")):
            t = node.inputs[i].producer
            if t is not None and t.op == "Transpose" and _swap_last_two(t.attrs["perm"]):
                node.inputs[i] = t.inputs[0]
                node.attrs = dict(node.attrs, **{flag: int(not node.attrs.get(flag, 0))})
                n += 1
    return n


def _push_through_gemm(graph, uses):
    n = 0
    for gemm in list(graph.nodes):
        if gemm.op != "Gemm":
            continue
        x = gemm.inputs[0]
        t = x.producer
        if t is None or t.op != "Transpose" or uses.only_user(x) is not gemm:
            continue
        perm = tuple(t.attrs["perm"])
        if perm[-1] != len(perm) - 1:
            continue
        src = t.inputs[0]
        y = gemm.outputs[0]
        inv = [0] * len(perm)
        for i, p in enumerate(perm):
            inv[p] = i
        inner_shape = tuple(src.shape[:-1]) + (y.shape[-1],)
        idx = graph.nodes.index(gemm)
        new = graph.add_node("Gemm", [src] + gemm.inputs[1:], dict(gemm.attrs),
                             [(inner_shape, y.dtype)], index=idx)
        tr = graph.add_node("Transpose", [new.outputs[0]], {"perm": perm}, [(y.shape, y.dtype)],
                            index=idx + 1)
        graph.replace_uses(y, tr.outputs[0])
        graph.nodes.remove(gemm)
        graph.nodes.remove(t)
        uses.refresh()
        n += 1
    return n


def run(graph):
    n = _chains(graph) + _matmul_flags(graph) + _push_through_gemm(graph, Uses(graph))
    n += _chains(graph)
    identity.run(graph)
    dead_nodes.run(graph)
    return n
