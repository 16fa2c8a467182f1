"""Ops that exporters spell out in primitives, put back as one IR op before the jit passes:

    x * 0.5 * (1 + erf(x / sqrt(2)))                      -> Gelu(x)            (exact GELU)
    0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))  -> Gelu(x, "tanh")

(in any order of the commutative Mul/Add operands, the 1/sqrt(2) as a Mul or the sqrt(2) as a
Div).  The intermediates must have no other reader.  The exported attention subgraphs need no
pattern here: with shapes concrete, their scale and mask arithmetic folds into constants, and
jit's fuse_attention pass matches what remains."""
import math

import numpy as np

from ..jit.passes._util import Uses
from .numpy_ops import NumpyOp

__all__ = ["run"]


def _scalar(v):
    if v is None or not v.is_const or v.data.size != 1:
        return None
    return float(np.asarray(v.data).reshape(()))


def _near(a, b, tol=1e-4):
    return a is not None and abs(a - b) <= tol * abs(b)


def _only(uses, v, op):
    n = uses.only_user(v)
    return n if n is not None and n.op == op else None


def _other(node, v):
    """The other input of a binary node that reads v."""
    a, b = node.inputs[:2]
    return b if a is v else a if b is v else None


def _is_erf(node):
    return node.op == "PyFunction" and node.attrs.get("fn") is NumpyOp and \
        node.attrs.get("kwargs", {}).get("op") == "Erf"


def _scaled_input(node, factor):
    """x when node is x * factor or x / (1/factor) (either operand order for Mul)."""
    if node is None or node.op not in ("Mul", "Div") or len(node.inputs) != 2:
        return None
    a, b = node.inputs
    if node.op == "Mul":
        if _near(_scalar(b), factor) and not a.is_const:
            return a
        if _near(_scalar(a), factor) and not b.is_const:
            return b
    if node.op == "Div" and _near(_scalar(b), 1.0 / factor) and not a.is_const:
        return a
    return None


def _one_plus(uses, v):
    """The Add node computing 1 + v (v read only there), or None."""
    add = _only(uses, v, "Add")
    if add is None or not _near(_scalar(_other(add, v)), 1.0):
        return None
    return add


def _times_half_x(uses, v, x):
    """The node whose output is x * 0.5 * v given v = 1 + ...: either (x * v) * 0.5 or
    (x * 0.5) * v or (0.5 * v) * x; returns (final node, intermediate nodes)."""
    m = _only(uses, v, "Mul")
    if m is None:
        return None
    o = _other(m, v)
    if o is x:
        h = _only(uses, m.outputs[0], "Mul")
        if h is not None and _near(_scalar(_other(h, m.outputs[0])), 0.5):
            return h, [m]
        return None
    if o is not None and o.producer is not None and _scaled_input(o.producer, 0.5) is x and \
            uses.count(o) == 1:
        return m, [o.producer]
    if _near(_scalar(o), 0.5):
        h = _only(uses, m.outputs[0], "Mul")
        if h is not None and _other(h, m.outputs[0]) is x:
            return h, [m]
    return None


def _gelu_end(g, uses, node, x, before, approximate):
    """The end both GELU forms share: node (erf or tanh) then 1 + it, times 0.5 * x; if it
    matches, the nodes `before`, node and that end become one Gelu of x."""
    add = _one_plus(uses, node.outputs[0])
    if add is None:
        return False
    m = _times_half_x(uses, add.outputs[0], x)
    if m is None:
        return False
    final, rest = m
    _replace(g, final, before + [node, add] + rest, x, approximate)
    return True


def _gelu_erf(g, uses, node):
    u = node.inputs[0]
    if u.producer is None or uses.count(u) != 1:
        return False
    x = _scaled_input(u.producer, 1.0 / math.sqrt(2.0))
    if x is None:
        return False
    return _gelu_end(g, uses, node, x, [u.producer], "none")


def _cube_sum(v):
    """x when v = x + 0.044715 * x^3 (x^3 as Pow(x, 3) or x*x*x)."""
    p = v.producer
    if p is None or p.op != "Add":
        return None, []
    for x, t in (p.inputs[:2], p.inputs[1::-1]):
        if t.producer is None:
            continue
        c = _scaled_input(t.producer, 0.044715)
        if c is None or c.producer is None:
            continue
        q = c.producer
        if q.op == "Pow" and q.inputs[0] is x and _scalar(q.inputs[1]) == 3.0:
            return x, [p, t.producer, q]
        if q.op == "Mul":
            a, b = q.inputs[:2]
            for sq, lone in ((a, b), (b, a)):
                if lone is x and sq.producer is not None and sq.producer.op == "Mul" and \
                        sq.producer.inputs[0] is x and sq.producer.inputs[1] is x:
                    return x, [p, t.producer, q, sq.producer]
    return None, []


def _gelu_tanh(g, uses, node):
    u = node.inputs[0]
    if u.producer is None or uses.count(u) != 1:
        return False
    inner = _scaled_input(u.producer, math.sqrt(2.0 / math.pi))
    if inner is None:
        return False
    x, chain = _cube_sum(inner)
    if x is None or any(uses.count(n.outputs[0]) != 1 for n in chain):
        return False
    return _gelu_end(g, uses, node, x, [u.producer] + chain, "tanh")


def _replace(g, final, nodes, x, approx):
    idx = g.nodes.index(final)
    out = final.outputs[0]
    gelu = g.add_node("Gelu", [x], {"approximate": approx}, [(out.shape, out.dtype)],
                      index=idx)
    g.replace_uses(out, gelu.outputs[0])
    gelu.outputs[0].name = out.name
    for n in set(nodes) | {final}:
        if n in g.nodes:
            g.nodes.remove(n)


def run(g):
    """Rewrites the patterns in graph g in place; returns how many it rewrote."""
    n = 0
    uses = Uses(g)
    alive = {id(nd) for nd in g.nodes}  # a set: `node in g.nodes` made long graphs quadratic
    for node in list(g.nodes):
        if id(node) not in alive:
            continue
        done = False
        if _is_erf(node):
            done = _gelu_erf(g, uses, node)
        elif node.op == "Tanh":
            done = _gelu_tanh(g, uses, node)
        if done:
            uses.refresh()
            alive = {id(nd) for nd in g.nodes}
            n += 1
    return n
