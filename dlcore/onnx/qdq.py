"""QDQ -> int8: the QDQ format (onnxruntime.quantization's default) writes each quantized
layer as float ops between DequantizeLinear and QuantizeLinear:

    xq -> DequantizeLinear -> Conv(W, B) -> QuantizeLinear -> yq      (W, B constants)
    xq -> DequantizeLinear -> MatMul(W)  -> QuantizeLinear -> yq

This pass rewrites each such run into the int8 step the QOperator format would have
(QLinearConvInt8 / QLinearMatMulInt8 of numpy_quant.py: the int8 kernels, requantized in their
epilogue), so a QDQ file runs int8 too.  The weight reached the graph dequantized (its
DequantizeLinear folded at load); its int8 codes are recovered exactly when they are a
symmetric per-tensor or per-output-channel grid (max |w| / 127, what onnxruntime writes),
else quantized afresh per output channel.  Runs the pattern only when the activation scales
and zero points are constant scalars and the intermediate float values have no other reader.
"""
import numpy as np

from ..jit.ir import Node, Value
from ..jit.passes._util import Uses
from ..ops.qconv import Int8ConvWeight
from ..ops.qmatmul import Int8Weight, quantize_weight_per_channel
from .numpy_ops import NumpyOp

__all__ = ["run", "int8_codes"]


def _step(node, name):
    return node is not None and node.op == "PyFunction" and \
        node.attrs.get("kwargs", {}).get("op") == name


def _scalar_params(node):
    """(scale, zero point) Values of a (De)QuantizeLinear with constant scalar ones, else None."""
    s = node.inputs[1]
    z = node.inputs[2] if len(node.inputs) > 2 else None
    if not s.is_const or s.data.size != 1 or z is None or not z.is_const or z.data.size != 1:
        return None
    return s, z


def int8_codes(w):
    """(int8 codes, float32 scales per row) of a float (N, K) weight: the exact symmetric grid
    it was dequantized from when there is one (per tensor or per row), else a fresh per-row
    symmetric quantization."""
    w = np.asarray(w, np.float32)
    amax_rows = np.abs(w).max(axis=1) if w.shape[1] else np.zeros(w.shape[0], np.float32)
    for s in (np.full(w.shape[0], np.abs(w).max() / 127.0 if w.size else 0.0), amax_rows / 127.0):
        s = np.where(s > 0, s, 1.0).astype(np.float32)
        q = w / s[:, None]
        r = np.rint(q)
        if np.abs(q - r).max(initial=0.0) < 1e-3 and np.abs(r).max(initial=0.0) <= 127:
            return r.astype(np.int8), s
    return quantize_weight_per_channel(w)


def _rewrite(g, uses, dq, layer, q):
    params_in, params_out = _scalar_params(dq), _scalar_params(q)
    xq = dq.inputs[0]
    if params_in is None or params_out is None or xq.dtype not in (np.uint8, np.int8) or \
            q.outputs[0].dtype not in (np.uint8, np.int8):
        return False
    if q.attrs["kwargs"].get("qrange") is not None:
        return False   # a sub-byte output type (int4, ...): the int8 steps saturate at int8

    w = layer.inputs[1]
    if w is None or not w.is_const or w.dtype != np.float32:
        return False
    out_dt = q.outputs[0].dtype
    if layer.op == "Conv":
        a = layer.attrs
        if w.ndim != 4 or xq.ndim != 4:
            return False
        bias = layer.inputs[2] if len(layer.inputs) > 2 else None
        if bias is not None and not bias.is_const:
            return False
        OC = w.shape[0]
        codes, scale = int8_codes(w.data.reshape(OC, -1))
        weight = Int8ConvWeight(codes.reshape(w.shape), scale, a.get("group", 1))
        kw = dict(op="QLinearConvInt8", weight=weight, bias=None if bias is None else
                  np.asarray(bias.data, np.float32), strides=tuple(a["strides"]),
                  dilations=tuple(a.get("dilations", (1, 1))), pads=tuple(a["pads"]),
                  out_dtype=out_dt.name)
    elif layer.op == "MatMul":
        if w.ndim != 2 or xq.ndim < 1:
            return False
        codes, scale = int8_codes(np.ascontiguousarray(w.data.T))
        kw = dict(op="QLinearMatMulInt8", weight=Int8Weight(codes, scale),
                  out_dtype=out_dt.name)
    else:
        return False
    ins = [xq, params_in[0], params_in[1], params_out[0], params_out[1]]
    new = Node("PyFunction", ins, [q.outputs[0]], {"fn": NumpyOp, "kwargs": kw})
    q.outputs[0].producer = new
    i = g.nodes.index(q)
    g.nodes[i] = new
    g.nodes.remove(layer)
    if uses.count(dq.outputs[0]) == 1:
        g.nodes.remove(dq)
    return True


def run(g):
    """Rewrites the QDQ layer runs of graph g in place; returns how many."""
    n = 0
    uses = Uses(g)
    for layer in list(g.nodes):
        if layer.op not in ("Conv", "MatMul") or layer not in g.nodes:
            continue
        x = layer.inputs[0]
        dq = x.producer if x.kind == "node" else None
        if not _step(dq, "DequantizeLinear") or uses.only_user(x) is not layer:
            continue
        q = uses.only_user(layer.outputs[0])
        if not _step(q, "QuantizeLinear"):
            continue
        if _rewrite(g, uses, dq, layer, q):
            uses.refresh()
            n += 1
    return n
