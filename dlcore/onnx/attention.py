"""Exported attention subgraphs brought to the form dl.jit's fuse_attention pass turns into
the fused Attention kernel:

    MatMul(Mul(q, a), Mul(Transpose(k, perm), b))  ->  Mul(MatMul(q, k^T), a * b)

torch.onnx.export scales q and k^T by sqrt(scale) each (exact in real numbers, a rounding step
apart in float32: within the 1e-4 the importer promises) and often transposes k from
(B, T, H, D) straight to (B, H, D, T); the pass wants the scale after the first MatMul and k^T
as a swap of k's last two axes, so such a Transpose is split into a permutation to
(B, H, T, D) and that swap (both are views in a plan: no copy)."""
import numpy as np

from ..jit.passes._util import Uses

__all__ = ["run"]


def _scalar(v):
    if v is None or not v.is_const or v.data.size != 1:
        return None
    return float(np.asarray(v.data).reshape(()))


def _scaled(uses, v, user):
    """(x, factor) when v = Mul(x, factor) read only by `user`, else (v, None)."""
    p = v.producer
    if p is None or p.op != "Mul" or uses.only_user(v) is not user:
        return v, None
    a, b = p.inputs
    f = _scalar(b)
    if f is not None and not a.is_const:
        return a, f
    f = _scalar(a)
    if f is not None and not b.is_const:
        return b, f
    return v, None


def _split_transpose(g, uses, kt, user):
    """Rewrites kt = Transpose(k, perm) (read only by `user`) as a swap of the last two axes of
    Transpose(k, perm'); returns the new k^T Value or None."""
    t = kt.producer
    if t is None or t.op != "Transpose" or uses.only_user(kt) is not user:
        return None
    perm = tuple(t.attrs["perm"])
    nd = len(perm)
    swap = tuple(range(nd - 2)) + (nd - 1, nd - 2)
    if nd < 2 or perm == swap:
        return None
    inner = perm[:-2] + (perm[-1], perm[-2])
    k = t.inputs[0]
    idx = g.nodes.index(t)
    shape = tuple(k.shape[p] for p in inner)
    first = g.add_node("Transpose", [k], {"perm": inner}, [(shape, k.dtype)], index=idx)
    second = g.add_node("Transpose", [first.outputs[0]], {"perm": swap},
                        [(kt.shape, kt.dtype)], index=idx + 1)
    g.replace_uses(kt, second.outputs[0])
    g.nodes.remove(t)
    return second.outputs[0]


def _feeds_softmax(uses, v):
    """Whether v reaches a Softmax through single-reader Mul/Div/Add/Where nodes."""
    for _ in range(4):
        n = uses.only_user(v)
        if n is None:
            return False
        if n.op == "Softmax":
            return True
        if n.op not in ("Mul", "Div", "Add", "Where"):
            return False
        v = n.outputs[0]
    return False


def run(g):
    """Rewrites g in place; returns how many attention score MatMuls it changed."""
    n = 0
    uses = Uses(g)
    for mm in list(g.nodes):
        if mm.op != "MatMul" or mm not in g.nodes or mm.attrs.get("transA") or \
                mm.attrs.get("transB"):
            continue
        if not _feeds_softmax(uses, mm.outputs[0]):
            continue
        qs, kts = mm.inputs
        q, fa = _scaled(uses, qs, mm)
        kt, fb = _scaled(uses, kts, mm)
        changed = False
        if fa is not None and fb is not None and q.dtype == np.float32:
            out = mm.outputs[0]
            g.nodes.remove(qs.producer)
            g.nodes.remove(kts.producer)
            mm.inputs = [q, kt]
            s = g.const(np.asarray(fa * fb, out.dtype))
            idx = g.nodes.index(mm)
            scaled = g.add_node("Mul", [out, s], {}, [(out.shape, out.dtype)], index=idx + 1)
            g.replace_uses(out, scaled.outputs[0])
            scaled.inputs[0] = out
            uses.refresh()
            changed = True
        if _split_transpose(g, uses, mm.inputs[1], mm) is not None:
            uses.refresh()
            changed = True
        n += changed
    return n
