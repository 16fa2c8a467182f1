"""quantize_static: static int8 quantization of a whole model from its traced graph, with no
change to the model (the job torch's FX-mode prepare/convert does).

    qmodel = dl.quantization.quantize_static(model, calibration_batches)
    y = qmodel(x)                      # float in, float out; int8 in between

Steps: dl.jit.trace the eval-mode model on the first batch (batch size dynamic), fold
BatchNorm into the convs (the jit pass), fuse each Conv / Add with a Relu or Clip(0, ..) that
is its only consumer (Gemm too), run every calibration batch through the float graph with an observer
on each value that will be quantized, then build the int8 graph: Conv -> nn.quantized.Conv2d,
Gemm -> nn.quantized.Linear, Add -> QFunctional, MaxPool / GlobalAveragePool / Reshape /
Flatten on the codes.  A node with no int8 version (Sigmoid, Mul, ...) runs in float between a
dequantize and a requantize (its output observed like the others) - a correct reference path,
without the int8 speed.  The input is quantized once at entry and the outputs are dequantized
(a final Gemm dequantizes in its epilogue).
"""
import copy
import types

import numpy as np

from .. import jit, nn
from ..nn import quantized as nnq
from ..jit import reference
from ..jit.passes import dead_nodes, fold_batchnorm, fold_constants, identity
from ..jit.symbolic import Dim
from ..ops import qconv as Q
from ..autograd import Function
from ..ops.qtensor import QTensor, quantize_per_tensor
from ..tensor_base import TensorBase, wrap
from .qconfig import get_default_qconfig

__all__ = ["quantize_static", "QuantizedGraphModule"]

# nodes that keep their input's scale and zero point (they move or select codes)
_PASS = {"MaxPool", "Reshape", "Flatten", "Identity", "Dropout", "GlobalAveragePool"}


def _batches(calib):
    for b in calib:
        if isinstance(b, (tuple, list)):
            b = b[0]
        yield b if isinstance(b, TensorBase) else wrap(np.asarray(b, np.float32))


def _fusable_act(node):
    if node.op == "Relu":
        return True
    return node.op == "Clip" and node.attrs.get("min") == 0


def _zero_pad(node):
    """The (top, left, bottom, right) of a constant-zero Pad of only H and W, else None."""
    if node.op != "Pad" or node.attrs.get("value", 0) != 0 or \
            node.attrs.get("mode", "constant") != "constant":
        return None
    pads = node.attrs.get("pads")
    if pads is None or len(pads) != 4 or any(tuple(p) != (0, 0) for p in pads[:2]):
        return None
    (t, b), (l, r) = pads[2], pads[3]
    if min(t, b, l, r) < 0:
        return None
    return (int(t), int(l), int(b), int(r))


def _plan(graph):
    """[(node, act_node or None, folded zero Pad node or None)]: each Relu / Clip(0, ..) that
    is the only consumer of a Conv or Add folded into it, and each zero Pad whose only
    consumer is a Conv folded into that conv's padding (TF "SAME" models pad that way)."""
    uses = {}
    for n in graph.nodes:
        for v in n.inputs:
            if v is not None:
                uses.setdefault(id(v), []).append(n)
    outs = {id(v) for v in graph.outputs}
    fused, pads = set(), {}
    for n in graph.nodes:
        if n.op == "Conv" and n.inputs[0].kind == "node":
            p = n.inputs[0].producer
            if _zero_pad(p) is not None and len(uses.get(id(p.outputs[0]), [])) == 1 and \
                    id(p.outputs[0]) not in outs:
                pads[id(n)] = p
                fused.add(id(p))
    steps = []
    for n in graph.nodes:
        if id(n) in fused:
            continue
        act = None
        if n.op in ("Conv", "Add", "Gemm") and len(n.outputs) == 1:
            u = uses.get(id(n.outputs[0]), [])
            if len(u) == 1 and _fusable_act(u[0]) and id(n.outputs[0]) not in outs:
                act = u[0]
                fused.add(id(act))
        steps.append((n, act, pads.get(id(n))))
    return steps


def _out(node, act):
    return (act or node).outputs[0]


class QuantizedGraphModule(nn.Module):
    """The int8 model quantize_static returns: a list of steps over named values, its int8
    layers registered as submodules (so state_dict / dl.save / load_state_dict work)."""

    def __init__(self, steps, inputs, outputs, in_params, dims, reduce_range=False):
        super().__init__()
        self._steps, self._inputs, self._outputs = steps, inputs, outputs
        self._dims = dims
        for i, (s, z) in enumerate(in_params):
            self.add_module("quant%d" % i, nnq.Quantize(s, z, reduce_range=reduce_range))

    def forward(self, *xs):
        if len(xs) != len(self._inputs):
            raise TypeError("QuantizedGraphModule: expected %d inputs, got %d"
                            % (len(self._inputs), len(xs)))
        env, dims = {}, {}
        for i, (name, x) in enumerate(zip(self._inputs, xs)):
            a = x._data if isinstance(x, TensorBase) else np.asarray(x)
            if a.ndim != len(self._dims[i]) or a.dtype.kind != "f":
                raise ValueError("QuantizedGraphModule: input %d must be a float %d-D tensor "
                                 "(as traced), got %s of shape %s"
                                 % (i, len(self._dims[i]), a.dtype, a.shape))
            for ax, (d, want) in enumerate(zip(a.shape, self._dims[i])):
                if isinstance(want, Dim):
                    dims[next(iter(want.symbols()))] = (d - want.offset) // want.coef
                elif d != want:
                    raise ValueError("QuantizedGraphModule: input %d dim %d must be %d (as "
                                     "traced), got %d" % (i, ax, want, d))
            env[name] = self._modules["quant%d" % i](wrap(a) if not isinstance(x, TensorBase)
                                                     else x)
        for step in self._steps:
            step(self, env, dims)
        res = [v.dequantize() if isinstance(v, QTensor) else v
               for v in (env[n] for n in self._outputs)]
        return res[0] if len(res) == 1 else tuple(res)


def _concrete_shape(shape, dims):
    return tuple(s.eval(dims) if isinstance(s, Dim) else int(s) for s in shape)


def _make_step(node, act, pad, qp, name, rr=False):
    """A callable(module, env, dims) running node (+act) on QTensors, and the quantized layer
    to register under `name` (or None); rr: the activation observers' reduce_range."""
    op = node.op
    ins = [None if v is None else v.name for v in node.inputs]
    out = _out(node, act).name
    relu = act is not None
    if op == "Conv" and node.inputs[1].is_const and \
            (len(node.inputs) < 3 or node.inputs[2] is None or node.inputs[2].is_const):
        w = node.inputs[1].data
        b = node.inputs[2].data if len(node.inputs) > 2 and node.inputs[2] is not None else None
        a = node.attrs
        pads = tuple(a.get("pads", (0, 0, 0, 0)))
        if pad is not None:
            pads = tuple(p + q for p, q in zip(pads, _zero_pad(pad)))
            ins[0] = pad.inputs[0].name
        fake = types.SimpleNamespace(weight=wrap(w), bias=None if b is None else wrap(b),
                                     groups=a.get("group", 1), stride=tuple(a["strides"]),
                                     dilation=tuple(a.get("dilations", (1, 1))), padding=pads)
        cls = nnq.ConvReLU2d if relu else nnq.Conv2d
        layer = cls.from_float(fake, *qp[out])
        layer.reduce_range = rr

        def run(m, env, dims, x=ins[0]):
            env[out] = m._modules[name](env[x])
        return run, layer
    if op == "Gemm" and node.inputs[1].is_const and node.attrs.get("transB") == 1 and \
            node.attrs.get("alpha", 1.0) == 1.0 and node.attrs.get("beta", 1.0) == 1.0 and \
            not node.attrs.get("transA") and node.inputs[0].ndim == 2 and \
            (len(node.inputs) < 3 or node.inputs[2] is None or
             (node.inputs[2].is_const and node.inputs[2].data.ndim == 1)):
        w = node.inputs[1].data
        b = node.inputs[2].data if len(node.inputs) > 2 and node.inputs[2] is not None else None
        fake = types.SimpleNamespace(weight=wrap(w), bias=None if b is None else wrap(b))
        s, z = qp.get(out, (None, 0))
        layer = (nnq.LinearReLU if relu else nnq.Linear).from_float(
            fake, s if s is not None else 1.0, z)
        layer.reduce_range = rr
        float_out = s is None

        def run(m, env, dims, x=ins[0]):
            lin = m._modules[name]
            if float_out:
                env[out] = Q.qlinear(env[x], lin._packed_weight(), lin._bias(), None,
                                     relu=relu)
            else:
                env[out] = lin(env[x])
        return run, layer
    if op == "Add" and all(v is not None and not v.is_const for v in node.inputs) and \
            tuple(node.inputs[0].shape) == tuple(node.inputs[1].shape):
        layer = nnq.QFunctional(*qp[out])
        layer.reduce_range = rr

        def run(m, env, dims, a=ins[0], b=ins[1]):
            f = m._modules[name]
            env[out] = f.add_relu(env[a], env[b]) if relu else f.add(env[a], env[b])
        return run, layer
    if op in ("Relu", "Clip") and not node.inputs[0].is_const:
        lo = 0.0 if op == "Relu" else node.attrs.get("min")
        hi = None if op == "Relu" else node.attrs.get("max")

        def run(m, env, dims, x=ins[0]):
            env[out] = Q.qclamp(env[x], lo, hi)
        return run, None
    if op == "MaxPool" and not node.attrs.get("ceil_mode"):
        a = node.attrs
        p = tuple(a.get("pads", (0, 0)))
        pads = p if len(p) == 4 else (p[0], p[1], p[0], p[1])

        def run(m, env, dims, x=ins[0]):
            env[out] = Q.qmax_pool2d(env[x], tuple(a["kernel_shape"]), tuple(a["strides"]),
                                     pads, tuple(a.get("dilations", (1, 1))))
        return run, None
    if _zero_pad(node) is not None:
        t, l, b, r = _zero_pad(node)

        def run(m, env, dims, x=ins[0]):
            q = env[x]
            c = _PadCodes.apply(q.codes, nhwc=q.nhwc, pads=(t, l, b, r), value=q.zero_point)
            env[out] = QTensor(c._data, q.scale, q.zero_point, nhwc=True,
                               reduce_range=q.reduce_range)
        return run, None
    if op == "GlobalAveragePool":
        def run(m, env, dims, x=ins[0]):
            env[out] = Q.qadaptive_avg_pool2d(env[x], 1)
        return run, None
    if op in ("Reshape", "Flatten") and "shape" in node.attrs or op == "Flatten":
        def run(m, env, dims, x=ins[0], v=node.outputs[0]):
            env[out] = env[x].reshape(_concrete_shape(v.shape, dims))
        return run, None
    if op in ("Identity", "Dropout"):
        def run(m, env, dims, x=ins[0]):
            env[out] = env[x]
        return run, None
    # the reference path: float in, float out, requantized
    s_z = qp.get(out)

    def run(m, env, dims, node=node, act=act):
        args, where = [], []
        for v in node.inputs:
            if v is None or v.is_const:
                where.append(None if v is None else v.data)
                continue
            x = env[v.name]
            args.append(x.dequantize() if isinstance(x, QTensor) else x)
            where.append(len(args) - 1)
        y = _FloatStep.apply(*args, node=node, act=act, where=tuple(
            w if isinstance(w, int) else _Const(w) for w in where))
        env[out] = quantize_per_tensor(y, *s_z, reduce_range=rr) if s_z is not None else y
    return run, None


class _Const:
    """A constant input of a float step (held apart so the trace does not see it as data)."""
    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data


class _FloatStep(Function):
    """One graph node run in float32 by the reference interpreter (an op without an int8
    version), its activation fused; a Function so that a trace records it."""

    def forward(self, *arrays, node=None, act=None, where=()):
        args = [arrays[w] if isinstance(w, int) else w.data for w in where]
        y = reference.OPS[node.op](node, *args)
        y = y[0] if isinstance(y, (tuple, list)) else y
        if act is not None:
            y = reference.apply_act(act.op, act.attrs, y)
        return np.ascontiguousarray(np.asarray(y))


class _PadCodes(Function):
    def forward(self, codes, nhwc=True, pads=(0, 0, 0, 0), value=0):
        t, l, b, r = pads
        c = codes if nhwc else codes.transpose(0, 2, 3, 1)
        return np.pad(c, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)


def quantize_static(model, calibration, qconfig=None, example_input=None):
    """An int8 copy of `model` (a QuantizedGraphModule) calibrated on `calibration` (an
    iterable of input batches, or of (input, target) pairs, e.g. a DataLoader).

    qconfig: its activation observer (default get_default_qconfig('x86'): histogram, 7-bit
    activation codes as torch's x86 default, which run the AVX2 7-bit GEMM tile; pass
    get_default_qconfig('x86', reduce_range=False) for 8-bit codes); weights are always per
    output channel symmetric int8.  The model must trace with
    dl.jit.trace (one float input, a CNN/MLP of convs, linears, pools, adds, activations)."""
    if not isinstance(model, nn.Module):
        raise TypeError("quantize_static: model must be a dl.nn.Module, got %s"
                        % type(model).__name__)
    qconfig = qconfig or get_default_qconfig("x86")
    batches = list(_batches(calibration))
    if not batches:
        raise ValueError("quantize_static: calibration gave no batches")
    model = copy.deepcopy(model)
    model.eval()
    ex = batches[0] if example_input is None else example_input
    traced = jit.trace(model, ex, dynamic_axes={0: "batch"} if ex.ndim else None)
    graph = traced.graph.copy()
    for f in (identity.run, fold_constants.run, dead_nodes.run, fold_batchnorm.run,
              dead_nodes.run):
        f(graph)
    if len(graph.inputs) != 1:
        raise ValueError("quantize_static: the model must take one input, its graph has %d"
                         % len(graph.inputs))
    steps = _plan(graph)
    # the values that get their own quantization parameters
    observed = {graph.inputs[0].name}
    final = {v.name for v in graph.outputs}
    for node, act, _ in steps:
        v = _out(node, act)
        if node.op in _PASS or _zero_pad(node) is not None or node.op in ("Relu", "Clip") and act is None:
            continue
        if node.op == "Gemm" and v.name in final:
            continue
        observed.add(v.name)
    obs = {n: qconfig.activation() for n in observed}
    concrete = {}
    for x in batches:
        a = x._data
        n = a.shape[0]
        if n not in concrete:
            concrete[n] = graph.concretize({d: n for d in graph.dims}) if graph.dims else graph
        g = concrete[n]
        env = {g.inputs[0].name: a}
        if g.inputs[0].name in obs:
            obs[g.inputs[0].name](wrap(a))
        for node in g.nodes:
            outs = reference.run_node(node, [None if v is None else
                                             (v.data if v.is_const else env[v.name])
                                             for v in node.inputs])
            for v, o in zip(node.outputs, outs):
                env[v.name] = o
                if v.name in obs:
                    obs[v.name](wrap(o))
    qp = {n: o.calculate_qparams() for n, o in obs.items()}
    rr = all(bool(getattr(o, "reduce_range", False)) for o in obs.values())
    runs, layers = [], {}
    for i, (node, act, pad) in enumerate(steps):
        name = "%s_%d" % (node.op.lower(), i)
        run, layer = _make_step(node, act, pad, qp, name, rr)
        runs.append(run)
        if layer is not None:
            layers[name] = layer
    qm = QuantizedGraphModule(runs, [graph.inputs[0].name], [v.name for v in graph.outputs],
                              [qp[graph.inputs[0].name]], [graph.inputs[0].shape], rr)
    for name, layer in layers.items():
        qm.add_module(name, layer)
    qm.train(False)
    return qm
