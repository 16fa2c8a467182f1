"""One writer per IR op type for dl.onnx.export: the node becomes ONNX nodes (opset 17 or
later).  IR ops ONNX lacks are spelled in ONNX primitives (Silu = x * Sigmoid(x), Gelu before
opset 20 with Erf or Tanh, Attention as MatMul-Softmax-MatMul, ReduceVar, RMSNormalization);
recurrent layers get ONNX's gate order and weight stacking."""
import math

import numpy as np
from onnx import TensorProto, helper

from ..jit.symbolic import Dim, FullArray
from .export_writer import ExportError, tensor_type

__all__ = ["WRITERS"]

WRITERS = {}


def writer(*ops):
    def deco(f):
        for op in ops:
            WRITERS[op] = f
        return f
    return deco


def _out(w, node, k=0):
    return w.name(node.outputs[k])


def _scalar(w, value, dtype):
    return w.const(np.asarray(value, dtype=dtype), "s")


# ---- elementwise ---------------------------------------------------------------------------------
@writer("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Where", "Neg", "Exp", "Log", "Sqrt",
        "Abs", "Sin", "Cos", "Relu", "Sigmoid", "Tanh", "HardSwish", "Identity")
def _direct(w, node):
    w.node(node.op, [w.name(v) for v in node.inputs], outputs=[_out(w, node)])


@writer("Dropout")
def _dropout(w, node):
    w.node("Identity", [w.name(node.inputs[0])], outputs=[_out(w, node)])


@writer("Log1p")
def _log1p(w, node):
    x = node.inputs[0]
    w.node("Log", [w.node("Add", [w.name(x), _scalar(w, 1, x.dtype)])], outputs=[_out(w, node)])


@writer("LeakyRelu")
def _leaky(w, node):
    w.node("LeakyRelu", [w.name(node.inputs[0])], outputs=[_out(w, node)],
           alpha=float(node.attrs.get("alpha", 0.01)))


@writer("Elu")
def _elu(w, node):
    x = node.inputs[0]
    at = node.attrs
    a, s, i = at.get("alpha", 1.0), at.get("scale", 1.0), at.get("input_scale", 1.0)
    xn = w.name(x)
    if i == 1.0 and s != 1.0:
        w.node("Selu", [xn], outputs=[_out(w, node)], alpha=float(a), gamma=float(s))
        return
    if s == 1.0 and i != 1.0 and abs(i * a - 1.0) < 1e-12:
        w.node("Celu", [xn], outputs=[_out(w, node)], alpha=float(a))
        return
    if i != 1.0:
        xn = w.node("Mul", [xn, _scalar(w, i, x.dtype)])
    y = w.node("Elu", [xn], alpha=float(a), outputs=None if s != 1.0 else [_out(w, node)])
    if s != 1.0:
        w.node("Mul", [y, _scalar(w, s, x.dtype)], outputs=[_out(w, node)])


@writer("Silu")
def _silu(w, node):
    xn = w.name(node.inputs[0])
    w.node("Mul", [xn, w.node("Sigmoid", [xn])], outputs=[_out(w, node)])


@writer("Mish")
def _mish(w, node):
    xn = w.name(node.inputs[0])
    w.node("Mul", [xn, w.node("Tanh", [w.node("Softplus", [xn])])], outputs=[_out(w, node)])


@writer("Softplus")
def _softplus(w, node):
    x = node.inputs[0]
    beta = float(node.attrs.get("beta", 1.0))
    # ONNX's Softplus has no threshold; PyTorch's (x > 20 -> x) differs from log1p(e^x) by
    # under 2.1e-9 there
    if beta == 1.0:
        w.node("Softplus", [w.name(x)], outputs=[_out(w, node)])
        return
    t = w.node("Softplus", [w.node("Mul", [w.name(x), _scalar(w, beta, x.dtype)])])
    w.node("Div", [t, _scalar(w, beta, x.dtype)], outputs=[_out(w, node)])


@writer("HardSigmoid")
def _hardsigmoid(w, node):
    w.node("HardSigmoid", [w.name(node.inputs[0])], outputs=[_out(w, node)], alpha=1.0 / 6,
           beta=0.5)


@writer("Clip")
def _clip(w, node):
    x = node.inputs[0]
    lo, hi = node.attrs.get("min"), node.attrs.get("max")
    ins = [w.name(x), "" if lo is None else _scalar(w, lo, x.dtype),
           "" if hi is None else _scalar(w, hi, x.dtype)]
    while ins and ins[-1] == "":
        ins.pop()
    w.node("Clip", ins, outputs=[_out(w, node)])


@writer("Gelu")
def _gelu(w, node):
    x = node.inputs[0]
    xn, dt = w.name(x), x.dtype
    approx = node.attrs.get("approximate", "none")
    if w.opset >= 20:
        w.node("Gelu", [xn], outputs=[_out(w, node)], approximate=approx)
        return
    if approx == "tanh":
        cube = w.node("Mul", [w.node("Mul", [xn, xn]), xn])
        inner = w.node("Add", [xn, w.node("Mul", [cube, _scalar(w, 0.044715, dt)])])
        t = w.node("Tanh", [w.node("Mul", [inner, _scalar(w, math.sqrt(2 / math.pi), dt)])])
    else:
        t = w.node("Erf", [w.node("Div", [xn, _scalar(w, math.sqrt(2.0), dt)])])
    half = w.node("Mul", [xn, _scalar(w, 0.5, dt)])
    w.node("Mul", [half, w.node("Add", [t, _scalar(w, 1.0, dt)])], outputs=[_out(w, node)])


@writer("Softmax", "LogSoftmax")
def _softmax(w, node):
    w.node(node.op, [w.name(node.inputs[0])], outputs=[_out(w, node)],
           axis=int(node.attrs["axis"]))


@writer("Cast")
def _cast(w, node):
    w.node("Cast", [w.name(node.inputs[0])], outputs=[_out(w, node)],
           to=tensor_type(np.dtype(node.attrs["to"])))


# ---- matmul family -------------------------------------------------------------------------------
def _swap_last(w, v):
    nd = v.ndim
    perm = list(range(nd - 2)) + [nd - 1, nd - 2]
    if v.is_const:
        return w.const(np.ascontiguousarray(np.swapaxes(v.data, -1, -2)), v.name + "_T")
    return w.node("Transpose", [w.name(v)], perm=perm)


@writer("MatMul")
def _matmul(w, node):
    a, b = node.inputs
    an = _swap_last(w, a) if node.attrs.get("transA") else w.name(a)
    bn = _swap_last(w, b) if node.attrs.get("transB") else w.name(b)
    w.node("MatMul", [an, bn], outputs=[_out(w, node)])


@writer("Gemm")
def _gemm(w, node):
    x, wt = node.inputs[0], node.inputs[1]
    b = node.inputs[2] if len(node.inputs) > 2 else None
    if node.attrs.get("activation"):
        raise ExportError("export: a Gemm with a fused activation (export the traced graph "
                          "before the passes)")
    trans = int(node.attrs.get("transB", 1))
    if x.ndim == 2:
        ins = [w.name(x), w.name(wt)] + ([w.name(b)] if b is not None else [])
        w.node("Gemm", ins, outputs=[_out(w, node)], transB=trans)
        return
    wn = _swap_last(w, wt) if trans else w.name(wt)
    if b is None:
        w.node("MatMul", [w.name(x), wn], outputs=[_out(w, node)])
    else:
        w.node("Add", [w.node("MatMul", [w.name(x), wn]), w.name(b)], outputs=[_out(w, node)])


# ---- convolution and pooling ---------------------------------------------------------------------
def _static(values, what):
    for v in values:
        if isinstance(v, Dim):
            raise ExportError("export: %s depends on a dynamic size; trace with that dim "
                              "static" % what)
    return [int(v) for v in values]


@writer("Conv")
def _conv(w, node):
    at = node.attrs
    wt = node.inputs[1]
    ins = [w.name(v) for v in node.inputs if v is not None]
    w.node("Conv", ins, outputs=[_out(w, node)], kernel_shape=list(wt.shape[2:]),
           strides=list(at["strides"]), pads=_static(at["pads"], "Conv padding"),
           dilations=list(at["dilations"]), group=int(at["group"]))


@writer("ConvTranspose")
def _conv_t(w, node):
    at = node.attrs
    x, wt = node.inputs[0], node.inputs[1]
    y = node.outputs[0]
    k, s, d = wt.shape[2:], at["strides"], at["dilations"]
    pb = list(at["pads"])
    ends, opad = [], []
    for i in range(2):
        full = s[i] * (x.shape[2 + i] - 1) + (k[i] - 1) * d[i] + 1 - pb[i]
        e = full - y.shape[2 + i]
        if isinstance(e, Dim):
            raise ExportError("export: ConvTranspose with a dynamic spatial size")
        ends.append(max(e, 0))
        opad.append(max(-e, 0))
    ins = [w.name(v) for v in node.inputs if v is not None]
    w.node("ConvTranspose", ins, outputs=[_out(w, node)], kernel_shape=list(k), strides=list(s),
           pads=pb + ends, dilations=list(d), group=int(at["group"]),
           output_padding=opad if any(opad) else None)


def _pool_geometry(node, k, s, p, d):
    """(pads for ONNX, ceil_mode) of a pooling node whose output size is in its shape."""
    x, y = node.inputs[0], node.outputs[0]
    ceil = 0
    for i in range(2):
        n, o = x.shape[2 + i], y.shape[2 + i]
        if isinstance(n, Dim) or isinstance(o, Dim):
            raise ExportError("export: pooling over a dynamic spatial size")
        eff = (k[i] - 1) * d[i] + 1
        floor_out = (n + 2 * p[i] - eff) // s[i] + 1
        if o != floor_out:
            ceil = 1
    return [p[0], p[1], p[0], p[1]], ceil


@writer("MaxPool")
def _maxpool(w, node):
    at = node.attrs
    k, s, p, d = at["kernel_shape"], at["strides"], list(at["pads"])[:2], at["dilations"]
    pads, ceil = _pool_geometry(node, k, s, p, d)
    w.node("MaxPool", [w.name(node.inputs[0])], outputs=[_out(w, node)], kernel_shape=list(k),
           strides=list(s), pads=pads, dilations=list(d), ceil_mode=ceil or None)


@writer("AveragePool")
def _avgpool(w, node):
    at = node.attrs
    if at.get("divisor"):
        raise ExportError("export: AveragePool with divisor_override has no ONNX form")
    k, s, p = at["kernel_shape"], at["strides"], list(at["pads"])[:2]
    pads, ceil = _pool_geometry(node, k, s, p, (1, 1))
    w.node("AveragePool", [w.name(node.inputs[0])], outputs=[_out(w, node)],
           kernel_shape=list(k), strides=list(s), pads=pads, ceil_mode=ceil or None,
           count_include_pad=int(at.get("count_include_pad", 1)))


@writer("GlobalAveragePool", "GlobalMaxPool")
def _global(w, node):
    w.node(node.op, [w.name(node.inputs[0])], outputs=[_out(w, node)])


@writer("AdaptiveAveragePool", "AdaptiveMaxPool")
def _adaptive(w, node):
    x, y = node.inputs[0], node.outputs[0]
    k = []
    for i in range(2):
        n, o = x.shape[2 + i], y.shape[2 + i]
        if isinstance(n, Dim) or n % o:
            raise ExportError("export: %s from %s to %s has no ONNX form (the input size must "
                              "be a multiple of the output size)" % (node.op, x.shape[2:],
                                                                     y.shape[2:]))
        k.append(n // o)
    op = "AveragePool" if node.op == "AdaptiveAveragePool" else "MaxPool"
    w.node(op, [w.name(x)], outputs=[_out(w, node)], kernel_shape=k, strides=k)


@writer("Resize")
def _resize(w, node):
    x, y = node.inputs[0], node.outputs[0]
    at = node.attrs
    out_hw = _static(y.shape[2:], "Resize output size")
    sizes = w.node("Concat", [w.node("Slice", [w.node("Shape", [w.name(x)]),
                                               w.const(np.asarray([0], np.int64), "zero"),
                                               w.const(np.asarray([2], np.int64), "two")]),
                              w.const(np.asarray(out_hw, np.int64), "hw")], axis=0)
    if at["mode"] == "nearest":
        w.node("Resize", [w.name(x), "", "", sizes], outputs=[_out(w, node)], mode="nearest",
               coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        steps_ok = all(abs(st - n / o) < 1e-12 for st, n, o in
                       zip(at["steps"], _static(x.shape[2:], "Resize input size"), out_hw))
        if not steps_ok:
            raise ExportError("export: nearest Resize with a scale_factor that is not "
                              "output/input size has no exact ONNX form")
        return
    coord = "align_corners" if at["align_corners"] else "pytorch_half_pixel"
    w.node("Resize", [w.name(x), "", "", sizes], outputs=[_out(w, node)], mode="linear",
           coordinate_transformation_mode=coord)


# ---- normalization -------------------------------------------------------------------------------
@writer("BatchNormalization")
def _batchnorm(w, node):
    x, sc, b, mean, var = node.inputs
    C = x.shape[1]
    ins = [w.name(x), w.name(sc) if sc is not None else w.const(np.ones(C, x.dtype), "ones"),
           w.name(b) if b is not None else w.const(np.zeros(C, x.dtype), "zeros"),
           w.name(mean), w.name(var)]
    w.node("BatchNormalization", ins, outputs=[_out(w, node)],
           epsilon=float(node.attrs["epsilon"]))


def _norm_shape(x, axis):
    return tuple(x.shape[axis:])


@writer("LayerNormalization")
def _layernorm(w, node):
    x = node.inputs[0]
    axis = int(node.attrs["axis"])
    sc = node.inputs[1] if len(node.inputs) > 1 else None
    b = node.inputs[2] if len(node.inputs) > 2 else None
    shape = _static(_norm_shape(x, axis), "LayerNormalization's normalized shape")

    def param(v, fill):
        if v is None:
            return w.const(np.full(shape, fill, x.dtype), "ln")
        if tuple(v.shape) != tuple(shape):
            return w.node("Reshape", [w.name(v), w.const(np.asarray(shape, np.int64), "shape")])
        return w.name(v)
    ins = [w.name(x), param(sc, 1.0)] + ([param(b, 0.0)] if b is not None else [])
    w.node("LayerNormalization", ins, outputs=[_out(w, node)], axis=axis,
           epsilon=float(node.attrs["epsilon"]))


def _reduce_node(w, op, x_name, axes, keepdims, out=None):
    """ReduceX over `axes` (None: all), axes as an input where the opset wants one."""
    outputs = None if out is None else [out]
    if axes is None:
        return w.node(op, [x_name], outputs=outputs, keepdims=int(keepdims))
    ax = w.const(np.asarray(list(axes), np.int64), "axes")
    if op == "ReduceSum" or w.opset >= 18:
        return w.node(op, [x_name, ax], outputs=outputs, keepdims=int(keepdims))
    return w.node(op, [x_name], outputs=outputs, axes=list(axes), keepdims=int(keepdims))


@writer("RMSNormalization")
def _rmsnorm(w, node):
    x = node.inputs[0]
    sc = node.inputs[1] if len(node.inputs) > 1 else None
    axis = int(node.attrs["axis"])
    axes = list(range(x.ndim + axis, x.ndim))
    xn = w.name(x)
    ms = _reduce_node(w, "ReduceMean", w.node("Mul", [xn, xn]), axes, 1)
    rs = w.node("Sqrt", [w.node("Add", [ms, _scalar(w, node.attrs["epsilon"], x.dtype)])])
    if sc is None:
        w.node("Div", [xn, rs], outputs=[_out(w, node)])
        return
    shape = _static(_norm_shape(x, axis), "RMSNormalization's normalized shape")
    scn = w.name(sc) if tuple(sc.shape) == tuple(shape) else \
        w.node("Reshape", [w.name(sc), w.const(np.asarray(shape, np.int64), "shape")])
    w.node("Mul", [w.node("Div", [xn, rs]), scn], outputs=[_out(w, node)])


# ---- reductions ----------------------------------------------------------------------------------
@writer("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceLogSumExp")
def _reduce(w, node):
    axes = node.attrs.get("axes")
    _reduce_node(w, node.op, w.name(node.inputs[0]), axes, node.attrs.get("keepdims", 0),
                 out=_out(w, node))


@writer("ReduceVar")
def _reduce_var(w, node):
    x = node.inputs[0]
    axes = node.attrs.get("axes")
    axes = list(range(x.ndim)) if axes is None else [a % x.ndim for a in axes]
    keep = int(node.attrs.get("keepdims", 0))
    xn = w.name(x)
    mean = _reduce_node(w, "ReduceMean", xn, axes, 1)
    d = w.node("Sub", [xn, mean])
    ss = _reduce_node(w, "ReduceSum", w.node("Mul", [d, d]), axes, keep)
    n = 1
    for a in axes:
        n *= x.shape[a]
    if isinstance(n, Dim):
        raise ExportError("export: ReduceVar over a dynamic dim")
    den = max(n - node.attrs.get("correction", 1), 0)
    w.node("Div", [ss, _scalar(w, den, x.dtype)], outputs=[_out(w, node)])


@writer("CumSum")
def _cumsum(w, node):
    w.node("CumSum", [w.name(node.inputs[0]),
                      w.const(np.asarray(node.attrs["axis"], np.int64), "axis")],
           outputs=[_out(w, node)])


@writer("Einsum")
def _einsum(w, node):
    w.node("Einsum", [w.name(v) for v in node.inputs], outputs=[_out(w, node)],
           equation=node.attrs["equation"])


# ---- shape ops -----------------------------------------------------------------------------------
@writer("Reshape")
def _reshape(w, node):
    target = list(node.attrs["shape"])
    dyn = [i for i, s in enumerate(target) if isinstance(s, Dim)]
    if len(dyn) == 1:
        target[dyn[0]] = -1  # the one dynamic entry follows from the element count
    w.node("Reshape", [w.name(node.inputs[0]), w.ints(target)], outputs=[_out(w, node)])


@writer("Transpose")
def _transpose(w, node):
    w.node("Transpose", [w.name(node.inputs[0])], outputs=[_out(w, node)],
           perm=list(node.attrs["perm"]))


@writer("Expand")
def _expand(w, node):
    w.node("Expand", [w.name(node.inputs[0]), w.ints(node.attrs["shape"])],
           outputs=[_out(w, node)])


@writer("Tile")
def _tile(w, node):
    x = node.inputs[0]
    reps = list(node.attrs["repeats"])
    xn = w.name(x)
    if len(reps) > x.ndim:
        shape = [1] * (len(reps) - x.ndim) + list(x.shape)
        xn = w.node("Reshape", [xn, w.ints([0 if isinstance(s, Dim) else s for s in shape])])
    w.node("Tile", [xn, w.ints(reps)], outputs=[_out(w, node)])


@writer("Slice")
def _slice(w, node):
    x = node.inputs[0]
    at = node.attrs
    starts, ends, axes, steps = [], [], [], []
    for a, (s, e, p) in enumerate(zip(at["starts"], at["ends"], at["steps"])):
        n = x.shape[a]
        whole = e == n or (isinstance(e, int) and isinstance(n, int) and e >= n)
        if s == 0 and p == 1 and whole:
            continue
        axes.append(a)
        starts.append(s)
        if p < 0 and not isinstance(e, Dim) and e < 0:
            e = -(1 << 62)   # through index 0
        ends.append(e)
        steps.append(p)
    if not axes:
        w.node("Identity", [w.name(x)], outputs=[_out(w, node)])
        return
    w.node("Slice", [w.name(x), w.ints(starts, "starts"), w.ints(ends, "ends"),
                     w.const(np.asarray(axes, np.int64), "axes"), w.ints(steps, "steps")],
           outputs=[_out(w, node)])


@writer("Concat")
def _concat(w, node):
    w.node("Concat", [w.name(v) for v in node.inputs], outputs=[_out(w, node)],
           axis=int(node.attrs["axis"]))


@writer("Gather", "GatherElements")
def _gather(w, node):
    w.node(node.op, [w.name(v) for v in node.inputs], outputs=[_out(w, node)],
           axis=int(node.attrs["axis"]))


@writer("Pad")
def _pad(w, node):
    x = node.inputs[0]
    pads = node.attrs["pads"]
    flat = [p for p, _ in pads] + [q for _, q in pads]
    w.node("Pad", [w.name(x), w.ints(flat, "pads"),
                   _scalar(w, node.attrs.get("value", 0.0), x.dtype)], outputs=[_out(w, node)],
           mode="constant")


@writer("Trilu")
def _trilu(w, node):
    w.node("Trilu", [w.name(node.inputs[0]), w.const(np.asarray(node.attrs["k"], np.int64),
                                                     "k")],
           outputs=[_out(w, node)], upper=int(node.attrs["upper"]))


# ---- attention -----------------------------------------------------------------------------------
@writer("Attention")
def _attention(w, node):
    q, k, v = node.inputs[:3]
    mask = node.inputs[3] if len(node.inputs) > 3 else None
    dt = q.dtype
    kt = w.node("Transpose", [w.name(k)], perm=list(range(k.ndim - 2)) + [k.ndim - 1,
                                                                            k.ndim - 2])
    s = w.node("Mul", [w.node("MatMul", [w.name(q), kt]),
                       _scalar(w, node.attrs["scale"], dt)])

    def additive(keep):
        return w.node("Where", [keep, _scalar(w, 0.0, dt), _scalar(w, -np.inf, dt)])
    if mask is not None:
        s = w.node("Add", [s, additive(w.name(mask)) if mask.dtype == np.bool_
                           else w.name(mask)])
    if node.attrs.get("is_causal"):
        L, S = q.shape[-2], k.shape[-2]
        ones = w.node("ConstantOfShape", [w.ints([L, S], "ls")],
                      value=_bool_tensor(True))
        s = w.node("Add", [s, additive(w.node("Trilu", [ones], upper=0))])
    p = w.node("Softmax", [s], axis=-1)
    w.node("MatMul", [p, w.name(v)], outputs=[_out(w, node)])


def _bool_tensor(value):
    return helper.make_tensor("value", TensorProto.BOOL, [1], [bool(value)])


# ---- recurrent layers ----------------------------------------------------------------------------
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
# ONNX gate block j comes from PyTorch's block _FROM_TORCH[op][j]
_FROM_TORCH = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN": (0,)}


def _regate(a, op, H):
    return np.concatenate([a[g * H:(g + 1) * H] for g in _FROM_TORCH[op]], axis=0)


@writer("LSTM", "GRU", "RNN")
def _rnn(w, node):
    op = node.op
    at = node.attrs
    if at.get("has_proj"):
        raise ExportError("export: %s with proj_size has no ONNX form" % op)
    bs = at["batch_sizes"]
    if isinstance(bs, FullArray):
        T, B = bs.length, bs.value
    else:
        bs = np.asarray(bs)
        if bs.size == 0 or np.any(bs != bs[0]):
            raise ExportError("export: %s over a packed sequence of unequal lengths" % op)
        T, B = int(bs.size), int(bs[0])
    x, h0, c0 = node.inputs[:3]
    weights = node.inputs[3:]
    D, has_bias = int(at["num_directions"]), int(at["has_bias"])
    per = 2 + 2 * has_bias
    G = _GATES[op]
    H = weights[1].shape[0] // G
    I = x.shape[1]
    Ws, Rs, Bs = [], [], []
    for d in range(D):
        wd = weights[d * per:(d + 1) * per]
        if not all(v.is_const for v in wd):
            raise ExportError("export: %s weights must be constants" % op)
        Ws.append(_regate(wd[0].data, op, H))
        Rs.append(_regate(wd[1].data, op, H))
        if has_bias:
            Bs.append(np.concatenate([_regate(wd[2].data, op, H), _regate(wd[3].data, op, H)]))
    dt = x.dtype
    xs = w.node("Reshape", [w.name(x), w.ints([T, B, I], "tbi")])
    ins = [xs, w.const(np.stack(Ws).astype(dt), op + "_W"),
           w.const(np.stack(Rs).astype(dt), op + "_R"),
           w.const(np.stack(Bs).astype(dt), op + "_B") if has_bias else "", "",
           w.name(h0) if h0 is not None else ""]
    if op == "LSTM":
        ins.append(w.name(c0) if c0 is not None else "")
    while ins and ins[-1] == "":
        ins.pop()
    n_out = 3 if op == "LSTM" else 2
    attrs = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    if op == "RNN" and at.get("nonlinearity") == "relu":
        attrs["activations"] = ["Relu"] * D
    outs = [w.fresh("y")] + [_out(w, node, k) for k in range(1, n_out)]
    w.node(op, ins, n_out=n_out, outputs=outs, **attrs)
    y = w.node("Transpose", [outs[0]], perm=[0, 2, 1, 3])
    w.node("Reshape", [y, w.const(np.asarray([-1, D * H], np.int64), "rows")],
           outputs=[_out(w, node)])
