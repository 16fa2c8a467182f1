"""From a recorded Function call to graph nodes: each converter turns (Function class, input
Values, the call's keyword arguments, output arrays) into one or a few nodes of the IR's op
types.  A Function with no converter becomes a `PyFunction` node that calls the Function's own
forward (the executor runs it in Python and says so).

Converters get an `emit(op, inputs, attrs, out_types)` callback that appends a node and returns
its output Values; the outputs of the last emitted node stand for the Function's outputs.
"""
import numpy as np

from ..ops import activation as A
from ..ops import arith, attention, attention_heads, batchnorm, conv, dropout, einsum, layernorm
from ..ops import matmul, pool
from ..ops import reduce, rnn, shape, sparse

__all__ = ["convert", "ACT_OPS"]

# activation Functions: the op type and how the kernel's (a, b, c) parameters read as attributes
_ACT = {
    A.ReLU: ("Relu", ()), A.LeakyReLU: ("LeakyRelu", ("alpha",)), A.Sigmoid: ("Sigmoid", ()),
    A.Tanh: ("Tanh", ()), A.SiLU: ("Silu", ()), A.ELU: ("Elu", ("alpha", "scale", "input_scale")),
    A.Softplus: ("Softplus", ("beta", "threshold")), A.Hardswish: ("HardSwish", ()),
    A.Hardsigmoid: ("HardSigmoid", ()), A.Mish: ("Mish", ()),
}
# the elementwise activation ops the kernels (and the GEMM/conv epilogues) run
ACT_OPS = ("Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu", "Silu", "Elu", "Softplus",
           "HardSwish", "HardSigmoid", "Mish", "Clip")

_BINARY = {arith.Add: "Add", arith.Sub: "Sub", arith.Mul: "Mul", arith.Div: "Div",
           arith.Pow: "Pow", arith.Maximum: "Max", arith.Minimum: "Min"}
_UNARY = {arith.Neg: "Neg", arith.Exp: "Exp", arith.Log: "Log", arith.Log1p: "Log1p",
          arith.Sqrt: "Sqrt", arith.Abs: "Abs", arith.Sin: "Sin", arith.Cos: "Cos"}


def _types(outs):
    return [(o.shape, o.dtype) for o in outs]


def _act(cls):
    op, names = _ACT[cls]

    def f(emit, ins, kw, outs):
        vals = (kw.get("a", 0.0), kw.get("b", 0.0), kw.get("c", 0.0))
        return emit(op, ins[:1], {n: float(v) for n, v in zip(names, vals)}, _types(outs))
    return f


def _gelu(approx):
    return lambda emit, ins, kw, outs: emit("Gelu", ins[:1], {"approximate": approx},
                                            _types(outs))


def _hardtanh(emit, ins, kw, outs):
    return emit("Clip", ins[:1], {"min": float(kw.get("a", 0.0)), "max": float(kw.get("b", 0.0))},
                _types(outs))


def _clamp(emit, ins, kw, outs):
    lo, hi = kw.get("min"), kw.get("max")
    return emit("Clip", ins[:1], {"min": None if lo is None else float(lo),
                                  "max": None if hi is None else float(hi)}, _types(outs))


def _softmax(op):
    def f(emit, ins, kw, outs):
        x = ins[0]
        axis = kw.get("dim", -1)
        axis = axis + x.ndim if axis < 0 and x.ndim else axis
        return emit(op, ins[:1], {"axis": axis}, _types(outs))
    return f


def _simple(op, keys=()):
    def f(emit, ins, kw, outs):
        return emit(op, ins, {k: kw[k] for k in keys if k in kw}, _types(outs))
    return f


def _linear(emit, ins, kw, outs):
    return emit("Gemm", ins, {"transB": 1}, _types(outs))


def _conv_pads(x_hw, out_hw, k, stride, pad, dil):
    """ONNX's (top, left, bottom, right) from the top/left padding and the output size."""
    ends = []
    for i in range(2):
        eff = dil[i] * (k[i] - 1) + 1
        ends.append((out_hw[i] - 1) * stride[i] + eff - x_hw[i] - pad[i])
    return (pad[0], pad[1], max(ends[0], 0), max(ends[1], 0))


def _conv(emit, ins, kw, outs):
    x, w = ins[0], ins[1]
    stride, pad, dil = tuple(kw["stride"]), tuple(kw["padding"]), tuple(kw["dilation"])
    pads = _conv_pads(x.shape[2:], outs[0].shape[2:], w.shape[2:], stride, pad, dil)
    return emit("Conv", ins, {"strides": stride, "pads": pads, "dilations": dil,
                              "group": int(kw["groups"])}, _types(outs))


def _conv_t(emit, ins, kw, outs):
    return emit("ConvTranspose", ins, {"strides": tuple(kw["stride"]),
                                       "pads": tuple(kw["padding"]),
                                       "dilations": tuple(kw["dilation"]),
                                       "group": int(kw["groups"])}, _types(outs))


def _maxpool(emit, ins, kw, outs):
    if kw.get("holder") is not None:
        return None
    return emit("MaxPool", ins, {"kernel_shape": tuple(kw["kernel"]),
                                 "strides": tuple(kw["stride"]), "pads": tuple(kw["padding"]),
                                 "dilations": tuple(kw["dilation"])}, _types(outs))


def _avgpool(emit, ins, kw, outs):
    return emit("AveragePool", ins, {"kernel_shape": tuple(kw["kernel"]),
                                     "strides": tuple(kw["stride"]), "pads": tuple(kw["padding"]),
                                     "count_include_pad": int(kw.get("cip", True)),
                                     "divisor": int(kw.get("divisor", 0))}, _types(outs))


def _adaptive(kind):
    def f(emit, ins, kw, outs):
        if kw.get("holder") is not None:
            return None
        out = tuple(kw["out_hw"])
        if out == (1, 1):
            return emit("Global%sPool" % kind, ins, {}, _types(outs))
        return emit("Adaptive%sPool" % kind, ins, {"output_size": out}, _types(outs))
    return f


def _resize(emit, ins, kw, outs):
    return emit("Resize", ins, {"mode": kw["mode"], "align_corners": int(kw.get("align", False)),
                                "steps": tuple(kw["scales"])}, _types(outs))


def _batchnorm(const):
    def f(emit, ins, kw, outs):
        if kw.get("training", True):
            raise ValueError("trace: batch_norm with training=True (batch statistics) cannot be "
                             "traced for inference; call model.eval() (trace does) or pass "
                             "training=False")
        x = ins[0]
        w = ins[1] if len(ins) > 1 else None
        b = ins[2] if len(ins) > 2 else None
        return emit("BatchNormalization",
                    [x, w, b, const(kw["running_mean"]), const(kw["running_var"])],
                    {"epsilon": float(kw["eps"])}, _types(outs))
    return f


def _layernorm(emit, ins, kw, outs):
    x = ins[0]
    n = int(kw.get("n", 1))
    k, size = 0, 1
    while size < n and k < x.ndim:
        k += 1
        size *= x.shape[-k]
    op = "RMSNormalization" if kw.get("rms") else "LayerNormalization"
    inputs = ins[:2] if kw.get("rms") else ins[:3]
    return emit(op, inputs, {"axis": -k, "epsilon": float(kw.get("eps", 1e-5))}, _types(outs))


def _cast(emit, ins, kw, outs):
    return emit("Cast", ins, {"to": np.dtype(kw["dtype"]).name}, _types(outs))


def _cat(emit, ins, kw, outs):
    return emit("Concat", ins, {"axis": int(kw.get("dim", 0))}, _types(outs))


def _stack(emit, ins, kw, outs):
    axis = int(kw.get("dim", 0))
    parts = []
    for v in ins:
        shp = v.shape[:axis] + (1,) + v.shape[axis:]
        parts.append(emit("Reshape", [v], {"shape": shp}, [(shp, v.dtype)])[0])
    return emit("Concat", parts, {"axis": axis}, _types(outs))


def _getitem(emit, ins, kw, outs, const):
    """Basic indexing becomes Slice (+ Reshape for ints and None); one integer-array index on
    one axis becomes Gather; anything else stays a PyFunction."""
    x = ins[0]
    index = kw.get("index")
    items = index if isinstance(index, tuple) else (index,)
    n_real = sum(1 for i in items if i is not None and i is not Ellipsis)
    if sum(1 for i in items if i is Ellipsis) > 1 or n_real > x.ndim:
        return None
    ell = [j for j, i in enumerate(items) if i is Ellipsis]
    if ell:
        k = ell[0]
        items = items[:k] + (slice(None),) * (x.ndim - n_real) + items[k + 1:]
    items = items + (slice(None),) * (x.ndim - sum(1 for i in items if i is not None))
    arrays = [j for j, i in enumerate(items) if isinstance(i, (np.ndarray, list))]
    if arrays:
        if len(arrays) != 1 or any(i is None or isinstance(i, (int, np.integer))
                                   for i in items):
            return None
        idx = items[arrays[0]]
        if np.asarray(idx).dtype.kind not in "iu":
            return None
        axis = arrays[0]
        if any(not (isinstance(i, slice) and i == slice(None)) for j, i in enumerate(items)
               if j != axis):
            return None
        return emit("Gather", [x, const(idx)], {"axis": axis}, _types(outs))
    starts, ends, steps, keep = [], [], [], []
    axis = 0
    for i in items:
        if i is None:
            keep.append(1)
            continue
        n = x.shape[axis]
        if isinstance(i, (int, np.integer)) and not isinstance(i, bool):
            j = int(i) + (n if i < 0 else 0)
            starts.append(j)
            ends.append(j + 1)
            steps.append(1)
        elif isinstance(i, slice):
            s0, s1, st = i.indices(n)
            starts.append(s0)
            ends.append(s1)
            steps.append(st)
            keep.append(len(range(s0, s1, st)))
        else:
            return None
        axis += 1
    # which nodes to emit follows the index's form, not the sizes, so that a run with other
    # sizes records the same nodes
    sliced_shape = tuple(len(range(a, b, c)) for a, b, c in zip(starts, ends, steps))
    v = x
    if any(not (isinstance(i, slice) and i == slice(None)) for i in items if i is not None):
        v = emit("Slice", [x], {"starts": tuple(starts), "ends": tuple(ends),
                                "steps": tuple(steps)}, [(sliced_shape, x.dtype)])[0]
    if any(i is None or not isinstance(i, slice) for i in items):
        return emit("Reshape", [v], {"shape": tuple(outs[0].shape)}, _types(outs))
    if v is x:
        return emit("Identity", [x], {}, _types(outs))
    return [v]


def _gather_elements(emit, ins, kw, outs, const):
    return emit("GatherElements", [ins[0], const(kw["index"])], {"axis": int(kw["dim"])},
                _types(outs))


def _masked_fill(emit, ins, kw, outs, const):
    x = ins[0]
    return emit("Where", [const(kw["mask"]), const(np.asarray(kw["value"], x.dtype)), x], {},
                _types(outs))


def _embedding(emit, ins, kw, outs):
    return emit("Gather", ins[:2], {"axis": 0}, _types(outs))


def _sdpa(emit, ins, kw, outs):
    return emit("Attention", ins[:4], {"is_causal": int(bool(kw.get("is_causal", False))),
                                       "scale": float(kw.get("scale", 1.0))}, _types(outs))


def _split_heads(emit, ins, kw, outs):
    """SplitHeads' views as Reshape, Transpose, then a Slice and Reshape per part."""
    x = ins[0]
    a, b, width = x.shape
    parts, heads = int(kw.get("parts", 3)), int(kw.get("heads", 1))
    shp5 = (a, b, parts, heads, width // (parts * heads))
    v = emit("Reshape", [x], {"shape": shp5}, [(shp5, x.dtype)])[0]
    order = (2, 0, 3, 1, 4) if kw.get("batch_first", True) else (2, 1, 3, 0, 4)
    tshape = tuple(shp5[o] for o in order)
    v = emit("Transpose", [v], {"perm": order}, [(tshape, x.dtype)])[0]
    res = []
    for i, o in enumerate(outs):
        one = (1,) + tshape[1:]
        s = emit("Slice", [v], {"starts": (i, 0, 0, 0, 0), "ends": (i + 1,) + tshape[1:],
                                "steps": (1,) * 5}, [(one, x.dtype)])[0]
        res += emit("Reshape", [s], {"shape": tuple(o.shape)}, _types([o]))
    return res


def _rnn(emit, ins, kw, outs):
    mode = kw["mode"]
    op = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    attrs = {"batch_sizes": np.asarray(kw["batch_sizes"], np.int64),
             "num_directions": int(kw["num_directions"]), "has_bias": int(bool(kw["has_bias"])),
             "has_proj": int(bool(kw["has_proj"]))}
    if op == "RNN":
        attrs["nonlinearity"] = "relu" if mode == "RNN_RELU" else "tanh"
    return emit(op, ins, attrs, _types(outs))


def _reduce(op):
    def f(emit, ins, kw, outs):
        axis = kw.get("axis")
        attrs = {"axes": None if axis is None else tuple(int(a) for a in np.atleast_1d(axis)),
                 "keepdims": int(bool(kw.get("keepdim", False)))}
        if op == "ReduceVar":
            attrs["correction"] = kw.get("correction", 1)
        return emit(op, ins, attrs, _types(outs))
    return f


def _amax(emit, ins, kw, outs):
    op = "ReduceMax" if kw.get("op", "max") == "max" else "ReduceMin"
    axis = kw.get("axis")
    return emit(op, ins, {"axes": None if axis is None else tuple(int(a) for a in
                                                                   np.atleast_1d(axis)),
                          "keepdims": int(bool(kw.get("keepdim", False)))}, _types(outs))


def _pad(emit, ins, kw, outs):
    return emit("Pad", ins, {"pads": tuple(tuple(p) for p in kw["pads"]),
                             "value": float(kw.get("value", 0.0))}, _types(outs))


_CONVERTERS = {
    matmul.MatMul: _simple("MatMul"), matmul.Linear: _linear,
    A.GELU: _gelu("none"), A.GELUTanh: _gelu("tanh"), A.Hardtanh: _hardtanh,
    A.Softmax: _softmax("Softmax"), A.LogSoftmax: _softmax("LogSoftmax"),
    arith.Clamp: _clamp, arith.Where: _simple("Where"),
    conv.Conv2dFn: _conv, conv.ConvTranspose2dFn: _conv_t,
    pool.MaxPool2dFn: _maxpool, pool.AvgPool2dFn: _avgpool,
    pool.AdaptiveAvgPool2dFn: _adaptive("Average"), pool.AdaptiveMaxPool2dFn: _adaptive("Max"),
    pool.Upsample2dFn: _resize,
    layernorm.LayerNormFn: _layernorm, dropout.Dropout: _simple("Dropout", ("p",)),
    shape.Reshape: _simple("Reshape", ("shape",)),
    shape.Permute: lambda emit, ins, kw, outs: emit("Transpose", ins, {"perm": tuple(kw["dims"])},
                                                    _types(outs)),
    shape.Expand: _simple("Expand", ("shape",)),
    shape.Repeat: lambda emit, ins, kw, outs: emit("Tile", ins, {"repeats": tuple(kw["reps"])},
                                                   _types(outs)),
    shape.Clone: _simple("Identity"), shape.Cast: _cast, shape.Cat: _cat, shape.Stack: _stack,
    shape.Tri: lambda emit, ins, kw, outs: emit("Trilu", ins, {"upper": int(kw.get("upper", 0)),
                                                               "k": int(kw.get("k", 0))},
                                                _types(outs)),
    shape.Pad: _pad,
    sparse.Embedding: _embedding, attention.SDPAFn: _sdpa, rnn.RNNLayer: _rnn,
    attention_heads.SplitHeads: _split_heads,
    reduce.Sum: _reduce("ReduceSum"), reduce.Mean: _reduce("ReduceMean"),
    reduce.Prod: _reduce("ReduceProd"), reduce.Var: _reduce("ReduceVar"),
    reduce.LogSumExp: _reduce("ReduceLogSumExp"), reduce.Amax: _amax,
    reduce.Cumsum: lambda emit, ins, kw, outs: emit("CumSum", ins, {"axis": int(kw["axis"])},
                                                    _types(outs)),
    einsum.Einsum: lambda emit, ins, kw, outs: emit("Einsum", ins, {"equation": kw["equation"]},
                                                    _types(outs)),
}
# converters that turn array keyword arguments into constant inputs
_WITH_CONST = {shape.GetItem: _getitem, shape.Gather: _gather_elements,
               shape.MaskedFill: _masked_fill}
for _cls in _ACT:
    _CONVERTERS[_cls] = _act(_cls)
for _cls, _op in _BINARY.items():
    _CONVERTERS[_cls] = _simple(_op)
for _cls, _op in _UNARY.items():
    _CONVERTERS[_cls] = _simple(_op)


def convert(cls, emit, inputs, kwargs, outs, const):
    """Nodes for one Function call; returns the Values standing for its outputs, or None when
    no converter applies (the caller records a PyFunction)."""
    if cls is batchnorm.BatchNormFn:
        return _batchnorm(const)(emit, inputs, kwargs, outs)
    f = _WITH_CONST.get(cls)
    if f is not None:
        return f(emit, inputs, kwargs, outs, const)
    f = _CONVERTERS.get(cls)
    if f is None:
        return None
    return f(emit, inputs, kwargs, outs)
