"""What the op lowerings share: the dtype rule, activation parameters, small helpers."""
import numpy as np

from . import executor as X

__all__ = ["F32", "f32", "act_params", "fused_act", "numel", "pad6"]

F32 = np.dtype(np.float32)
_MODES = {"RNN_TANH": 0, "RNN_RELU": 1, "LSTM": 2, "GRU": 3}
_GATES = {0: 1, 1: 1, 2: 4, 3: 3}


def f32(node):
    return all(v is None or v.dtype == F32 for v in list(node.inputs) + list(node.outputs))


def act_params(op, at):
    """(kernel kind, a, b, c) of an elementwise activation op."""
    if op == "Gelu":
        return (X.GELU_TANH if at.get("approximate") == "tanh" else X.GELU), 0.0, 0.0, 0.0
    kind = X.ACT_KIND[op]
    if op == "LeakyRelu":
        return kind, at.get("alpha", 0.01), 0.0, 0.0
    if op == "Elu":
        return kind, at.get("alpha", 1.0), at.get("scale", 1.0), at.get("input_scale", 1.0)
    if op == "Softplus":
        return kind, at.get("beta", 1.0), at.get("threshold", 20.0), 0.0
    if op == "Clip":
        lo, hi = at.get("min"), at.get("max")
        return kind, -np.inf if lo is None else lo, np.inf if hi is None else hi, 0.0
    return kind, 0.0, 0.0, 0.0


def fused_act(node):
    op = node.attrs.get("activation")
    if op is None:
        return -1, 0.0, 0.0, 0.0
    return act_params(op, node.attrs.get("activation_attrs", {}))


def numel(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def pad6(v, fill=0):
    return list(v) + [fill] * (6 - len(v))


