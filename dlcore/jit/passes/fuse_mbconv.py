"""MobileNet's inverted-residual block as one node, run a strip of rows at a time.

    e = Conv(x, We, be)   1x1, stride 1, no padding, one group, Relu / ReLU6 / no activation
    d = Conv(e, Wd, bd)   depthwise (group = channels = filters), odd R x S at most 7 x 7,
                          "same" padding ((R-1)/2, (S-1)/2), stride 1 or 2, dilation 1, any
                          fused activation
    y = Conv(d, Wp, bp)   1x1 pointwise, no activation, with or without the residual sum
                          passes/fuse_residual.py put in it

becomes y = MBConv(x, We, be, Wd, bd, Wp, bp[, skip]) (attrs: the three convs' attrs), which
the plan runs as csrc/plan_mbconv_simd.c: the expanded map e (6x the block's input) is made
only a few rows at a time, kept in L2 for the depthwise sums, whose rows are projected while
in cache, instead of e and d going out to memory and back (on MobileNetV2's 112x112 and 56x56
blocks e is 3-5 MB).

Only where it pays: an expanded map (one image's) of at least MIN_EXPANDED_BYTES, float32.
Measured on Zen 3 (MobileNetV2 b1 1T, CPU time, plans alternated call by call on a loaded
machine): the step is no faster than the three steps on the 28x28 blocks (the 192 x 28 x 28
map, 0.6 MB, stays in L2/L3 between the steps anyway, and the strips' halo rows and smaller
products cost what the traffic saved), ahead on the 112x112 and 56x56 ones.  Not fused: e or d read by anything else
or a graph output; weights that are not constants (the plan packs them once); a bias that is not
a constant; an expand activation the GEMM epilogue lacks; any other groups, padding, dilation
or stride; an activation on the project conv.
"""
import numpy as np

from ._util import Uses

__all__ = ["run", "MIN_EXPANDED_BYTES"]

MIN_EXPANDED_BYTES = 1 << 20   # one image's expanded map from which the fusion is made


def _const_f32(v):
    return v is not None and v.is_const and v.dtype == np.float32


def _bias_ok(node):
    b = node.inputs[2] if len(node.inputs) > 2 else None
    return b is None or _const_f32(b)


def _plain(at):
    return at.get("group", 1) == 1 and tuple(at.get("strides", (1, 1))) == (1, 1) and \
        tuple(at.get("dilations", (1, 1))) == (1, 1) and \
        all(p == 0 for p in at.get("pads", (0, 0, 0, 0))) and not at.get("residual")


def _pointwise(node):
    if node is None or node.op != "Conv" or len(node.inputs) < 2:
        return False
    w = node.inputs[1]
    return _const_f32(w) and len(w.shape) == 4 and tuple(w.shape[2:]) == (1, 1) and \
        _bias_ok(node) and node.outputs[0].dtype == np.float32 and \
        node.inputs[0].dtype == np.float32 and node.inputs[0].ndim == 4


def expand_act_ok(node):
    """The expand conv's activation is one the GEMM epilogue applies."""
    op = node.attrs.get("activation")
    if op is None or op == "Relu":
        return True
    at = node.attrs.get("activation_attrs", {})
    return op == "Clip" and at.get("min") == 0.0 and at.get("max") == 6.0


def _depthwise(node):
    if node is None or node.op != "Conv" or len(node.inputs) < 2 or node.attrs.get("residual"):
        return False
    w, at = node.inputs[1], node.attrs
    C = node.inputs[0].shape[1]
    if not _const_f32(w) or len(w.shape) != 4 or w.shape[0] != C or w.shape[1] != 1 or \
            at.get("group", 1) != C or not _bias_ok(node):
        return False
    R, S = w.shape[2:]
    st = tuple(at.get("strides", (1, 1)))
    if R % 2 == 0 or S % 2 == 0 or R > 7 or S > 7 or st not in ((1, 1), (2, 2)) or \
            tuple(at.get("dilations", (1, 1))) != (1, 1):
        return False
    # "same" padding; at stride 2 an end padding no window reaches may have been dropped
    # (torch's export), which leaves the output size that of the full padding
    ph, pw = (R - 1) // 2, (S - 1) // 2
    pads = tuple(at.get("pads", (0, 0, 0, 0)))
    H, W = node.inputs[0].shape[2:]
    OH, OW = node.outputs[0].shape[2:]
    return len(pads) == 4 and pads[:2] == (ph, pw) and 0 <= pads[2] <= ph and \
        0 <= pads[3] <= pw and OH == (H + 2 * ph - R) // st[0] + 1 and \
        OW == (W + 2 * pw - S) // st[0] + 1


def _bias(node):
    return node.inputs[2] if len(node.inputs) > 2 else None


def _fuse(graph, uses, proj):
    if not _pointwise(proj) or proj.attrs.get("activation") is not None or \
            not _plain(dict(proj.attrs, residual=False)):
        return False
    d = proj.inputs[0]
    dw = d.producer if d.kind == "node" else None
    if not _depthwise(dw) or uses.only_user(d) is not proj or id(d) in uses.outputs:
        return False
    e = dw.inputs[0]
    ex = e.producer if e.kind == "node" else None
    if not _pointwise(ex) or not _plain(ex.attrs) or not expand_act_ok(ex) or \
            uses.only_user(e) is not dw or id(e) in uses.outputs:
        return False
    if 4 * e.shape[1] * e.shape[2] * e.shape[3] < MIN_EXPANDED_BYTES:
        return False
    x = ex.inputs[0]
    ins = [x, ex.inputs[1], _bias(ex), dw.inputs[1], _bias(dw), proj.inputs[1], _bias(proj)]
    if proj.attrs.get("residual"):
        ins.append(proj.inputs[3])
    proj.op = "MBConv"
    proj.inputs = ins
    proj.attrs = {"expand": dict(ex.attrs), "dw": dict(dw.attrs),
                  "project": dict(proj.attrs), "residual": bool(proj.attrs.get("residual"))}
    graph.nodes.remove(ex)
    graph.nodes.remove(dw)
    uses.refresh()
    return True


def run(graph):
    uses = Uses(graph)
    return sum(1 for node in list(graph.nodes) if node.op == "Conv" and
               _fuse(graph, uses, node))
