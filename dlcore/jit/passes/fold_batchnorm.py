"""BatchNorm folding: an inference BatchNormalization right after a Conv (or a Gemm whose output
is (N, C)) is a per-channel scale and shift, so it folds into that layer's weights and bias:
    w' = w * s,  b' = (b - mean) * s + beta,  s = gamma / sqrt(var + eps)
computed in float64 and stored in the layer's dtype.  The BatchNormalization node goes."""
import numpy as np

from ._util import Uses, const_data

__all__ = ["run"]


def _scale_shift(bn):
    x, gamma, beta, mean, var = bn.inputs
    data = [const_data(v) for v in (mean, var)]
    if any(d is None for d in data) or (gamma is not None and const_data(gamma) is None) or \
            (beta is not None and const_data(beta) is None):
        return None
    mean, var = (d.astype(np.float64) for d in data)
    g = np.ones_like(mean) if gamma is None else const_data(gamma).astype(np.float64)
    b = np.zeros_like(mean) if beta is None else const_data(beta).astype(np.float64)
    s = g / np.sqrt(var + bn.attrs["epsilon"])
    return s, b - mean * s


def run(graph):
    n = 0
    uses = Uses(graph)
    for bn in list(graph.nodes):
        if bn.op != "BatchNormalization":
            continue
        x = bn.inputs[0]
        prod = x.producer
        if prod is None or prod.op not in ("Conv", "Gemm") or uses.only_user(x) is not bn:
            continue
        if prod.attrs.get("activation") is not None:
            continue
        w = const_data(prod.inputs[1])
        bias_v = prod.inputs[2] if len(prod.inputs) > 2 else None
        if w is None or (bias_v is not None and const_data(bias_v) is None):
            continue
        if prod.op == "Gemm" and (x.ndim != 2 or not prod.attrs.get("transB", 1)):
            continue
        ss = _scale_shift(bn)
        if ss is None:
            continue
        s, shift = ss
        C = w.shape[0]
        if s.shape != (C,):
            continue
        b = np.zeros(C) if bias_v is None else const_data(bias_v).astype(np.float64)
        w2 = (w.astype(np.float64) * s.reshape((C,) + (1,) * (w.ndim - 1))).astype(w.dtype)
        b2 = (b * s + shift).astype(w.dtype)
        ins = list(prod.inputs)
        ins[1] = graph.const(w2)
        if len(ins) < 3:
            ins.append(None)
        ins[2] = graph.const(b2)
        prod.inputs = ins
        graph.replace_uses(bn.outputs[0], x)
        graph.nodes.remove(bn)
        uses.refresh()
        n += 1
    return n
