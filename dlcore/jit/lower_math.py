"""Lowerings of the elementwise and normalization ops: activations, unary math, broadcast
binary arithmetic (in place over a dying operand), Softmax, reductions, LayerNorm, the fused
residual LayerNorm, BatchNorm."""
import numpy as np

from . import executor as X
from .lower_common import act_params, f32, fused_act, numel, pad6
from .lower_quant import layernorm_rows
from .lowering import broadcast_strides, contiguous_strides, merge_dims

__all__ = ["LOWER"]


# ---- elementwise ----------------------------------------------------------------------------------
def _elementwise(L, node, op, kind, params=()):
    """y = f(x), element by element, by the kernel `op` (f its `kind`); in place over x
    where x dies here."""
    x, y = node.inputs[0], node.outputs[0]
    xr = L.contiguous(x)
    L.step(op, [xr, L.output(y, reuse=[x])], [kind, x.numel()], params, outputs=[1],
           label=node.op)
    return True


def _act(L, node):
    if not f32(node):
        return False
    kind, a, b, c = act_params(node.op, node.attrs)
    return _elementwise(L, node, X.ACT, kind, [a, b, c])


def _unary(L, node):
    if not f32(node):
        return False
    return _elementwise(L, node, X.UNARY, X.UNARY_OPS[node.op])


def _binary(L, node):
    if not f32(node):
        return False
    a, b = node.inputs
    y = node.outputs[0]
    ar, br = L.ref(a), L.ref(b)
    sa, sb = broadcast_strides(ar, y.shape), broadcast_strides(br, y.shape)
    shape, (sa, sb, _) = merge_dims(y.shape, [sa, sb, contiguous_strides(y.shape)])
    if len(shape) > 6:
        return False
    # in place only over an operand the other one does not also read
    reuse = [u for u, r, o in ((a, ar, br), (b, br, ar)) if r.buf is not o.buf or a is b]
    yr = L.output(y, reuse=reuse)
    kind, a1, a2, a3 = fused_act(node)
    L.step(X.BINARY, [ar, br, yr], [X.BIN[node.op], len(shape)] + pad6(shape) + pad6(sa) +
           pad6(sb) + [kind], [a1, a2, a3], outputs=[2], label=node.op)
    return True


def _where(L, node):
    c, a, b = node.inputs
    y = node.outputs[0]
    if y.dtype.itemsize not in (4, 8) or c.dtype not in (np.dtype(np.bool_), np.dtype(np.uint8)) \
            or a.dtype != y.dtype or b.dtype != y.dtype:
        return False
    refs = [L.ref(v) for v in (c, a, b)]
    st = [broadcast_strides(r, y.shape) for r in refs]
    shape, st = merge_dims(y.shape, st + [contiguous_strides(y.shape)])
    if len(shape) > 6:
        return False
    yr = L.output(y)
    L.step(X.WHERE, refs + [yr], [y.dtype.itemsize, len(shape)] + pad6(shape) +
           pad6(st[0]) + pad6(st[1]) + pad6(st[2]), outputs=[3], label="Where")
    return True


def _softmax(L, node):
    if not f32(node):
        return False
    x, y = node.inputs[0], node.outputs[0]
    ax = node.attrs["axis"]
    outer, inner = numel(x.shape[:ax]), numel(x.shape[ax + 1:])
    L.step(X.SOFTMAX, [L.contiguous(x), L.output(y)],
           [outer, x.shape[ax], inner, int(node.op == "LogSoftmax")], outputs=[1],
           label=node.op)
    return True


# ---- normalization --------------------------------------------------------------------------------
def _layernorm(L, node):
    if not f32(node):
        return False
    x, y = node.inputs[0], node.outputs[0]
    n = numel(x.shape[node.attrs["axis"]:])
    g = node.inputs[1] if len(node.inputs) > 1 else None
    b = node.inputs[2] if len(node.inputs) > 2 and node.op == "LayerNormalization" else None
    refs = [L.contiguous(x), None if g is None else L.contiguous(g),
            None if b is None else L.contiguous(b)]
    rows = x.numel() // n if n else 0
    L.step(X.LAYERNORM, refs + [L.output(y, reuse=[x])],
           [rows, n, int(node.op == "RMSNormalization")], [node.attrs["epsilon"]],
           outputs=[3], label=node.op)
    return True


def _skip_layernorm(L, node):
    if not f32(node):
        return False
    a, b, g, beta = (list(node.inputs) + [None, None])[:4]
    y = node.outputs[0]
    n = numel(y.shape[node.attrs["axis"]:])
    ar, br = L.contiguous(a), L.contiguous(b)
    refs = [ar, br, None if g is None else L.contiguous(g),
            None if beta is None else L.contiguous(beta)]
    yr = L.output(y, reuse=[a, b])
    sr = L.output(node.outputs[1]) if len(node.outputs) > 1 else None
    rows = y.numel() // n
    qr, qmax = layernorm_rows(L, y, rows, n)
    L.step(X.SKIP_LAYERNORM, refs + [yr, sr, qr], [rows, n, qmax], [node.attrs["epsilon"]],
           outputs=[4, 5, 6], label="SkipLayerNormalization")
    return True


def _batchnorm(L, node):
    if not f32(node):
        return False
    x, w, b, mean, var = node.inputs
    if not (mean.is_const and var.is_const):
        return False
    y = node.outputs[0]
    eps = node.attrs["epsilon"]
    invstd = (1.0 / np.sqrt(var.data.astype(np.float64) + eps)).astype(np.float32)
    N, C = x.shape[0], x.shape[1]
    refs = [L.contiguous(x), None if w is None else L.contiguous(w),
            None if b is None else L.contiguous(b),
            L.array(np.ascontiguousarray(mean.data, np.float32), mean.name),
            L.array(invstd, var.name + ".invstd")]
    L.step(X.BATCHNORM, refs + [L.output(y, reuse=[x])], [N, C, x.numel() // max(N * C, 1)],
           outputs=[5], label="BatchNormalization")
    return True


def _reduce(L, node):
    if not f32(node):
        return False
    x, y = node.inputs[0], node.outputs[0]
    axes = node.attrs.get("axes")
    axes = sorted(range(x.ndim) if axes is None else [a % x.ndim for a in axes])
    if not axes or axes != list(range(axes[0], axes[-1] + 1)):
        return False
    outer, red = numel(x.shape[:axes[0]]), numel(x.shape[axes[0]:axes[-1] + 1])
    inner = numel(x.shape[axes[-1] + 1:])
    L.step(X.REDUCE, [L.contiguous(x), L.output(y)], [X.RED[node.op], outer, red, inner],
           outputs=[1], label=node.op)
    return True


LOWER = {"Softmax": _softmax, "LogSoftmax": _softmax, "Where": _where,
         "LayerNormalization": _layernorm, "RMSNormalization": _layernorm,
         "SkipLayerNormalization": _skip_layernorm, "BatchNormalization": _batchnorm, "ReduceSum": _reduce,
         "ReduceMean": _reduce, "ReduceMax": _reduce, "ReduceMin": _reduce}
for _op in X.BIN:
    LOWER[_op] = _binary
for _op in X.UNARY_OPS:
    LOWER[_op] = _unary
for _op in list(X.ACT_KIND) + ["Gelu"]:
    LOWER[_op] = _act
