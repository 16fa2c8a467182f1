"""The reference interpreter: runs a concrete graph node by node on NumPy arrays.

Each op calls the same Function forward (or NumPy ufunc) eager mode uses, so a traced graph
run here reproduces eager inference (no_grad) bit for bit; the tracer checks traces with it,
constant folding evaluates with it, and the planned executor falls back to it for a node it has
no kernel for.
"""
from types import SimpleNamespace

import numpy as np

from ..ops import activation as A
from ..ops import attention, batchnorm, conv, einsum, layernorm, matmul, pool, reduce, rnn, shape

__all__ = ["run_node", "run_graph", "apply_act", "OPS"]


def _fwd(cls, *args, **kwargs):
    fn = cls()
    fn.requires_grad = False
    fn.needs_input_grad = ()
    return fn.forward(*args, **kwargs)


_ACT_CLS = {"Relu": (A.ReLU, ()), "LeakyRelu": (A.LeakyReLU, ("alpha",)),
            "Sigmoid": (A.Sigmoid, ()), "Tanh": (A.Tanh, ()), "Silu": (A.SiLU, ()),
            "Elu": (A.ELU, ("alpha", "scale", "input_scale")),
            "Softplus": (A.Softplus, ("beta", "threshold")), "HardSwish": (A.Hardswish, ()),
            "HardSigmoid": (A.Hardsigmoid, ()), "Mish": (A.Mish, ())}


def apply_act(op, attrs, x):
    """The elementwise activation `op` (one of convert.ACT_OPS) on array x."""
    if op == "Clip":
        lo, hi = attrs.get("min"), attrs.get("max")
        return np.clip(x, lo, hi) if (lo is not None or hi is not None) else x
    if op == "Gelu":
        return _fwd(A.GELUTanh if attrs.get("approximate") == "tanh" else A.GELU, x)
    cls, names = _ACT_CLS[op]
    return _fwd(cls, x, *[attrs.get(n, 0.0) for n in names])


def _act_of(node, y):
    act = node.attrs.get("activation")
    return y if act is None else apply_act(act, node.attrs.get("activation_attrs", {}), y)


def _unary(f):
    return lambda node, x: f(x)


def _binary(f):
    return lambda node, a, b: f(a, b)


def _gemm(node, x, w, b=None):
    if not node.attrs.get("transB", 1):
        w = np.ascontiguousarray(w.T)
    return _act_of(node, _fwd(matmul.Linear, x, w, b))


def _matmul(node, a, b):
    if node.attrs.get("transA"):
        a = np.swapaxes(a, -1, -2)
    if node.attrs.get("transB"):
        b = np.swapaxes(b, -1, -2)
    return _fwd(matmul.MatMul, a, b)


def _conv(node, x, w, b=None, skip=None):
    at = node.attrs
    out_hw = tuple(node.outputs[0].shape[2:])
    y = _fwd(conv.Conv2dFn, x, w, b, stride=tuple(at["strides"]), padding=tuple(at["pads"][:2]),
             dilation=tuple(at["dilations"]), groups=at["group"], out_hw=out_hw)
    if skip is not None:   # a residual sum fused in (passes/fuse_residual.py)
        y = y + skip
    return _act_of(node, y)


def _part(attrs, hw):
    """One conv of a fused node (its attrs, its output's spatial size) as _conv reads it."""
    return SimpleNamespace(attrs=attrs, outputs=[SimpleNamespace(shape=(0, 0) + tuple(hw))])


def _mbconv(node, x, we, be, wd, bd, wp, bp, skip=None):
    """The inverted-residual block passes/fuse_mbconv.py makes: its three convs in turn."""
    at, hw = node.attrs, tuple(node.outputs[0].shape[2:])
    e = _conv(_part(at["expand"], x.shape[2:]), x, we, be)
    d = _conv(_part(at["dw"], hw), e, wd, bd)
    return _conv(_part(at["project"], hw), d, wp, bp, skip)


def _conv_t(node, x, w, b=None):
    at = node.attrs
    return _fwd(conv.ConvTranspose2dFn, x, w, b, stride=tuple(at["strides"]),
                padding=tuple(at["pads"][:2]), dilation=tuple(at["dilations"]),
                groups=at["group"], out_hw=tuple(node.outputs[0].shape[2:]))


def _maxpool(node, x):
    at = node.attrs
    return _fwd(pool.MaxPool2dFn, x, kernel=at["kernel_shape"], stride=at["strides"],
                padding=at["pads"][:2], dilation=at["dilations"],
                out_hw=tuple(node.outputs[0].shape[2:]))


def _avgpool(node, x):
    at = node.attrs
    return _fwd(pool.AvgPool2dFn, x, kernel=at["kernel_shape"], stride=at["strides"],
                padding=at["pads"][:2], out_hw=tuple(node.outputs[0].shape[2:]),
                cip=bool(at.get("count_include_pad", 1)), divisor=at.get("divisor", 0))


def _adaptive(cls):
    return lambda node, x: _fwd(cls, x, out_hw=tuple(node.outputs[0].shape[2:]))


def _resize(node, x):
    at = node.attrs
    return _fwd(pool.Upsample2dFn, x, mode=at["mode"], out_hw=tuple(node.outputs[0].shape[2:]),
                align=bool(at["align_corners"]), scales=tuple(at["steps"]))


def _batchnorm(node, x, w, b, mean, var):
    return _fwd(batchnorm.BatchNormFn, x, w, b, running_mean=mean, running_var=var,
                training=False, eps=node.attrs["epsilon"])


def _norm_size(x, axis):
    return int(np.prod(x.shape[axis:], dtype=np.int64))


def _layernorm(node, x, w=None, b=None):
    return _fwd(layernorm.LayerNormFn, x, w, b, n=_norm_size(x, node.attrs["axis"]),
                eps=node.attrs["epsilon"], rms=False)


def _rmsnorm(node, x, w=None):
    return _fwd(layernorm.LayerNormFn, x, w, None, n=_norm_size(x, node.attrs["axis"]),
                eps=node.attrs["epsilon"], rms=True)


def _skip_layernorm(node, a, b, w=None, beta=None):
    s = np.add(a, b)
    y = _fwd(layernorm.LayerNormFn, s, w, beta, n=_norm_size(s, node.attrs["axis"]),
             eps=node.attrs["epsilon"], rms=False)
    return (y, s) if len(node.outputs) == 2 else y


def _slice(node, x):
    at = node.attrs
    return x[tuple(slice(a, b if b >= 0 else None, c)
                   for a, b, c in zip(at["starts"], at["ends"], at["steps"]))]


def _view(node, base):
    at = node.attrs
    flat = np.ascontiguousarray(base).reshape(-1)
    it = flat.itemsize
    v = np.lib.stride_tricks.as_strided(flat[at["offset"]:], shape=tuple(at["shape"]),
                                        strides=tuple(s * it for s in at["strides"]))
    return np.array(v)


def _reduce(cls, **extra):
    def f(node, x):
        at = node.attrs
        axes = at.get("axes")
        kw = dict(extra)
        if "correction" in at:
            kw["correction"] = at["correction"]
        return _fwd(cls, x, axis=None if axes is None else tuple(axes),
                    keepdim=bool(at.get("keepdims", 0)), **kw)
    return f


def _rnn_mode(node):
    if node.op == "RNN":
        return "RNN_RELU" if node.attrs.get("nonlinearity") == "relu" else "RNN_TANH"
    return node.op


def _rnn(node, x, h0, c0, *w):
    at = node.attrs
    return _fwd(rnn.RNNLayer, x, h0, c0, *w, mode=_rnn_mode(node),
                batch_sizes=np.asarray(at["batch_sizes"], np.int64),
                num_directions=at["num_directions"], has_bias=bool(at["has_bias"]),
                has_proj=bool(at["has_proj"]))


def _attention(node, q, k, v, mask=None):
    return _fwd(attention.SDPAFn, q, k, v, mask, is_causal=bool(node.attrs["is_causal"]),
                scale=node.attrs["scale"])


def _pyfunction(node, *arrays):
    return _fwd(node.attrs["fn"], *arrays, **node.attrs.get("kwargs", {}))


OPS = {
    "Add": lambda node, a, b: _act_of(node, np.add(a, b)), "Sub": _binary(np.subtract), "Mul": _binary(np.multiply),
    "Div": _binary(np.divide), "Pow": _binary(np.power), "Max": _binary(np.maximum),
    "Min": _binary(np.minimum),
    "Neg": _unary(np.negative), "Exp": _unary(np.exp), "Log": _unary(np.log),
    "Log1p": _unary(np.log1p), "Sqrt": _unary(np.sqrt), "Abs": _unary(np.abs),
    "Sin": _unary(np.sin), "Cos": _unary(np.cos),
    "Where": lambda node, c, a, b: np.where(c, a, b),
    "MatMul": _matmul, "Gemm": _gemm,
    "Softmax": lambda node, x: _fwd(A.Softmax, x, dim=node.attrs["axis"]),
    "LogSoftmax": lambda node, x: _fwd(A.LogSoftmax, x, dim=node.attrs["axis"]),
    "Conv": _conv, "MBConv": _mbconv, "ConvTranspose": _conv_t, "MaxPool": _maxpool, "AveragePool": _avgpool,
    "GlobalAveragePool": _adaptive(pool.AdaptiveAvgPool2dFn),
    "AdaptiveAveragePool": _adaptive(pool.AdaptiveAvgPool2dFn),
    "GlobalMaxPool": _adaptive(pool.AdaptiveMaxPool2dFn),
    "AdaptiveMaxPool": _adaptive(pool.AdaptiveMaxPool2dFn),
    "Resize": _resize, "BatchNormalization": _batchnorm,
    "LayerNormalization": _layernorm, "RMSNormalization": _rmsnorm,
    "SkipLayerNormalization": _skip_layernorm,
    "Dropout": lambda node, x: x, "Identity": lambda node, x: x,
    "Reshape": lambda node, x: x.reshape(node.attrs["shape"]),
    "Transpose": lambda node, x: x.transpose(node.attrs["perm"]),
    "Expand": lambda node, x: np.broadcast_to(x, node.attrs["shape"]),
    "Tile": lambda node, x: np.tile(x, node.attrs["repeats"]),
    "Cast": lambda node, x: x.astype(node.attrs["to"]),
    "Slice": _slice, "View": _view,
    "Concat": lambda node, *xs: np.concatenate(xs, axis=node.attrs["axis"]),
    "Gather": lambda node, x, i: np.take(x, i, axis=node.attrs["axis"]),
    "GatherElements": lambda node, x, i: _fwd(shape.Gather, x, dim=node.attrs["axis"], index=i),
    "Trilu": lambda node, x: (np.triu if node.attrs["upper"] else np.tril)(x, node.attrs["k"]),
    "Pad": lambda node, x: _fwd(shape.Pad, x, pads=node.attrs["pads"],
                                value=node.attrs["value"]),
    "ReduceSum": _reduce(reduce.Sum), "ReduceMean": _reduce(reduce.Mean),
    "ReduceProd": _reduce(reduce.Prod), "ReduceVar": _reduce(reduce.Var),
    "ReduceLogSumExp": _reduce(reduce.LogSumExp),
    "ReduceMax": _reduce(reduce.Amax, op="max"), "ReduceMin": _reduce(reduce.Amax, op="min"),
    "CumSum": lambda node, x: np.cumsum(x, axis=node.attrs["axis"]),
    "Einsum": lambda node, *xs: _fwd(einsum.Einsum, *xs, equation=node.attrs["equation"]),
    "Attention": _attention, "LSTM": _rnn, "GRU": _rnn, "RNN": _rnn,
    "PyFunction": _pyfunction,
}
for _op in ("Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu", "Silu", "Elu", "Softplus",
            "HardSwish", "HardSigmoid", "Mish", "Clip"):
    OPS[_op] = (lambda op: lambda node, x: apply_act(op, node.attrs, x))(_op)


def run_node(node, arrays):
    """The outputs (a list of arrays) of `node` on its input arrays (None for absent ones)."""
    f = OPS.get(node.op)
    if f is None:
        raise NotImplementedError("reference: no implementation of op %r" % node.op)
    out = f(node, *arrays)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    res = []
    for o, v in zip(outs, node.outputs):
        o = np.asarray(o)
        if o.dtype != v.dtype:
            o = o.astype(v.dtype)
        if o.shape != tuple(v.shape):
            raise ValueError("reference: %s produced shape %s, the graph says %s"
                             % (node.op, o.shape, tuple(v.shape)))
        res.append(o)
    return res


def run_graph(graph, inputs):
    """The graph's output arrays for input arrays `inputs` (a concrete graph)."""
    env = {}
    for v, a in zip(graph.inputs, inputs):
        env[id(v)] = a

    def get(v):
        if v is None:
            return None
        if v.is_const:
            return v.data
        return env[id(v)]

    for node in graph.nodes:
        outs = run_node(node, [get(v) for v in node.inputs])
        for v, o in zip(node.outputs, outs):
            env[id(v)] = o
    return [get(v) for v in graph.outputs]
