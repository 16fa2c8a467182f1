"""Matmul-softmax-matmul to the fused attention kernel:

    MatMul(Softmax(MatMul(q, k^T) * scale [+ mask], axis=-1), v)  ->  Attention(q, k, v, mask)

k^T is a MatMul with transB=1 or a Transpose swapping the last two axes of k; the scale is a
Mul by (or a Div by) a scalar constant; the mask an additive constant that broadcasts to the
scores.  The fused kernel never builds the L x S scores.  Every intermediate must have no
other reader (a model that also returns the attention weights keeps its ops)."""
import numpy as np

from ._util import Uses, const_data

__all__ = ["run"]


def _scalar(v):
    d = const_data(v)
    if d is None or d.size != 1:
        return None
    return float(d.reshape(()))


def _producer(v, op, uses, consumer):
    """v's producer when it is an `op` node read only by `consumer`."""
    p = v.producer
    if p is None or p.op != op or uses.only_user(v) is not consumer:
        return None
    return p


def _match(pv, uses):
    """(q, k, v, mask, scale, nodes to remove) for the second MatMul `pv`, or None."""
    if pv.attrs.get("transA") or pv.attrs.get("transB"):
        return None
    p, v = pv.inputs
    sm = _producer(p, "Softmax", uses, pv)
    if sm is None or sm.attrs["axis"] != p.ndim - 1:
        return None
    nodes = [sm]
    s = sm.inputs[0]
    mask, scale = None, 1.0
    add = _producer(s, "Add", uses, sm)
    if add is not None:
        a, b = add.inputs
        if const_data(b) is not None and b.dtype == s.dtype and not a.is_const:
            s, mask = a, b
        elif const_data(a) is not None and a.dtype == s.dtype and not b.is_const:
            s, mask = b, a
        else:
            return None
        nodes.append(add)
    for op in ("Mul", "Div"):
        sc = _producer(s, op, uses, nodes[-1])
        if sc is None:
            continue
        a, b = sc.inputs
        f = _scalar(b)
        if f is None and op == "Mul":
            f, a = _scalar(a), b
        if f is None or f == 0.0 or a.is_const:
            return None
        scale = f if op == "Mul" else 1.0 / f
        s = a
        nodes.append(sc)
        break
    qk = _producer(s, "MatMul", uses, nodes[-1])
    if qk is None or qk.attrs.get("transA"):
        return None
    nodes.append(qk)
    q, k = qk.inputs
    if not qk.attrs.get("transB"):
        t = _producer(k, "Transpose", uses, qk)
        if t is None:
            return None
        perm = tuple(t.attrs["perm"])
        nd = len(perm)
        if nd < 2 or perm != tuple(range(nd - 2)) + (nd - 1, nd - 2):
            return None
        k = t.inputs[0]
        nodes.append(t)
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2 or q.shape[-1] != k.shape[-1] or \
            k.shape[-2] != v.shape[-2]:
        return None
    if mask is not None:
        L, S = q.shape[-2], k.shape[-2]
        try:
            lead = np.broadcast_shapes(tuple(q.shape[:-2]), tuple(k.shape[:-2]),
                                       tuple(v.shape[:-2]))
            if np.broadcast_shapes(tuple(mask.shape), lead + (L, S)) != lead + (L, S):
                return None
        except ValueError:
            return None
    return q, k, v, mask, scale, nodes


def run(graph):
    n = 0
    uses = Uses(graph)
    for pv in list(graph.nodes):
        if pv.op != "MatMul" or pv not in graph.nodes:
            continue
        m = _match(pv, uses)
        if m is None:
            continue
        q, k, v, mask, scale, nodes = m
        idx = graph.nodes.index(pv)
        out = pv.outputs[0]
        att = graph.add_node("Attention", [q, k, v, mask], {"is_causal": 0, "scale": scale},
                             [(out.shape, out.dtype)], index=idx)
        graph.replace_uses(out, att.outputs[0])
        graph.nodes.remove(pv)
        for node in nodes:
            graph.nodes.remove(node)
        uses.refresh()
        n += 1
    return n
