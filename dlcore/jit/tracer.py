"""Graph capture: run the model once with autograd's tracing hook on and record every
Function.apply into a Graph.

What a trace sees: the op calls (each Function with its keyword arguments), which arrays they
read and write.  An array an op reads that no recorded op made is a constant: a parameter or
buffer of the model (named by its state_dict key), a view of one (a View node), or an array
the model built outside the ops (an anonymous constant).  Python control flow runs once and is
baked in.

Dynamic dims: the model runs again with each dynamic dim of the inputs changed, and once more
with all of them changed and the input values shuffled; every int of the graph (shapes,
Reshape targets, slice bounds) that moved becomes a Dim expression (symbolic.fit), and the
last run must agree with the fitted graph.  A constant that differs between runs was computed
from the input outside the traced ops: that is an error, never a silently frozen value.
"""
import threading

import numpy as np

from .. import autograd
from ..autograd import enable_grad
from ..tensor_base import TensorBase, wrap
from . import reference
from .convert import convert
from .ir import Graph, Node, Value
from .symbolic import Dim, SymbolicError, fit

__all__ = ["trace_graph", "TraceError", "flatten", "unflatten"]

_lock = threading.Lock()


class TraceError(RuntimeError):
    """The model cannot be captured as a graph (the message says which op and why)."""


# ---- nested outputs ---------------------------------------------------------------------------
def flatten(obj):
    """(leaves, tree): Tensors/arrays of a nest of tuples, lists and dicts, and its shape."""
    if isinstance(obj, (tuple, list)):
        leaves, trees = [], []
        for o in obj:
            lv, t = flatten(o)
            leaves += lv
            trees.append(t)
        return leaves, (type(obj), trees)
    if isinstance(obj, dict):
        leaves, trees = [], []
        for k, o in obj.items():
            lv, t = flatten(o)
            leaves += lv
            trees.append((k, t))
        return leaves, (dict, trees)
    if obj is None:
        return [], None
    return [obj], "leaf"


def unflatten(tree, leaves):
    it = iter(leaves)

    def build(t):
        if t == "leaf":
            return next(it)
        if t is None:
            return None
        kind, parts = t
        if kind is dict:
            return {k: build(p) for k, p in parts}
        vals = [build(p) for p in parts]
        if kind is list:
            return vals
        if kind is tuple:
            return tuple(vals)
        return kind(*vals) if hasattr(kind, "_fields") else kind(vals)
    return build(tree)


# ---- one recording run ------------------------------------------------------------------------
class _Recorder:
    def __init__(self, names, inputs):
        self.graph = Graph()
        self.names = names          # id(array) -> state_dict key of the model's tensors
        self.values = {}            # id(array) -> Value
        self.keep = []              # arrays seen, kept alive so their ids stay unique
        self.thread = threading.get_ident()
        self.error = None
        for i, arr in enumerate(inputs):
            v = self.graph.add_input("x%d" % i if len(inputs) > 1 else "x", arr.shape, arr.dtype)
            self._bind(arr, v)

    def _bind(self, arr, v):
        self.values[id(arr)] = v
        self.keep.append(arr)

    def value_of(self, x, dtype_like=None):
        """The Value an op argument stands for (None stays None)."""
        if x is None:
            return None
        if isinstance(x, TensorBase):
            x = x._data
        if not isinstance(x, np.ndarray):
            if dtype_like is not None and np.dtype(dtype_like).kind in "iub" and \
                    isinstance(x, (int, np.integer)):
                x = np.asarray(x, dtype_like)
            else:
                x = np.asarray(x)
            v = self.graph.const(x)
            self.keep.append(x)
            return v
        v = self.values.get(id(x))
        if v is not None:
            return v
        name = self.names.get(id(x))
        if name is not None:
            v = self.graph.const(x, name)
        else:
            v = self._view_of_known(x)
            if v is None:
                v = self.graph.const(x)
        self._bind(x, v)
        return v

    def _view_of_known(self, a):
        """A View node when `a` is a NumPy view of a recorded value, parameter or buffer."""
        b = a.base
        while b is not None:
            if isinstance(b, np.ndarray) and (id(b) in self.values or id(b) in self.names) \
                    and b.flags.c_contiguous and b.dtype == a.dtype:
                it = a.itemsize
                off = a.__array_interface__["data"][0] - b.__array_interface__["data"][0]
                if off % it or any(s % it for s in a.strides):
                    return None
                base = self.value_of(b)
                return self._emit("View", [base], {"offset": off // it, "shape": a.shape,
                                                   "strides": tuple(s // it for s in a.strides)},
                                  [(a.shape, a.dtype)])[0]
            b = getattr(b, "base", None)
        return None

    def _emit(self, op, inputs, attrs, out_types):
        return self.graph.add_node(op, inputs, attrs, out_types).outputs

    def __call__(self, cls, args, kwargs, result):
        if threading.get_ident() != self.thread or self.error is not None:
            return
        try:
            self._record(cls, args, kwargs, result)
        except Exception as e:  # reported after the model returns, with the op named
            self.error = e

    def _record(self, cls, args, kwargs, result):
        outs = list(result) if isinstance(result, tuple) else [result]
        out_arrays = [o._data for o in outs]
        like = next((a._data.dtype for a in args if isinstance(a, TensorBase)), None)
        inputs = [self.value_of(a, like) for a in args]

        def const(x):
            return self.value_of(x, like)

        class _Out:
            def __init__(self, arr):
                self.shape, self.dtype = arr.shape, arr.dtype

        vals = convert(cls, self._emit, inputs, kwargs, [_Out(a) for a in out_arrays], const)
        if vals is None:
            arrays = [a for a in kwargs.values() if isinstance(a, np.ndarray)
                      and id(a) in self.values and self.values[id(a)].kind != "const"]
            if arrays:
                raise TraceError("%s: an array keyword argument comes from the traced input; "
                                 "this op has no converter that can follow it"
                                 % cls.__name__)
            vals = self._emit("PyFunction", inputs, {"fn": cls, "kwargs": dict(kwargs)},
                              [(a.shape, a.dtype) for a in out_arrays])
        if len(vals) != len(out_arrays):
            raise TraceError("%s: converter gave %d outputs for %d" % (cls.__name__, len(vals),
                                                                       len(out_arrays)))
        for v, arr in zip(vals, out_arrays):
            if tuple(v.shape) != arr.shape or v.dtype != arr.dtype:
                raise TraceError("%s: recorded as %s, the op returned %s %s"
                                 % (cls.__name__, v.type_str(), arr.dtype, arr.shape))
            self._bind(arr, v)


def _tensor_names(model):
    names = {}
    if hasattr(model, "named_parameters"):
        for n, p in model.named_parameters():
            names[id(p._data)] = n
        for n, b in model.named_buffers():
            if b is not None:
                names[id(b._data)] = n
    return names


def _run(model, arrays):
    """(graph, output arrays) of one recorded run on input arrays."""
    rec = _Recorder(_tensor_names(model), arrays)
    tensors = [wrap(a) for a in arrays]
    with _lock:
        if autograd._tracer is not None:
            raise TraceError("trace: another trace is running")
        autograd._tracer = rec
        try:
            # with autograd on, a model takes the path made of ops even where it has an
            # inference-only shortcut for no_grad (e.g. raw-array GEMMs) the tracer cannot see;
            # nothing is differentiated
            with enable_grad():
                out = model(*tensors)
        finally:
            autograd._tracer = None
    if rec.error is not None:
        raise TraceError("trace: %s" % (rec.error,)) from rec.error
    leaves, tree = flatten(out)
    g = rec.graph
    outs = []
    for leaf in leaves:
        if not isinstance(leaf, (TensorBase, np.ndarray)):
            raise TraceError("trace: the model returned a %s; outputs must be Tensors (in "
                             "tuples, lists or dicts)" % type(leaf).__name__)
        outs.append(rec.value_of(leaf))
    g.outputs = outs
    g.output_tree = tree
    return g, [np.array(leaf._data if isinstance(leaf, TensorBase) else leaf) for leaf in leaves]


# ---- several runs into one symbolic graph ------------------------------------------------------
def _resized(arrays, axes, size):
    """The inputs with every (input, axis) in `axes` resized to `size` (values reused)."""
    out = list(arrays)
    for i, ax in axes:
        a = out[i]
        out[i] = np.take(a, np.arange(size) % a.shape[ax], axis=ax)
    return out


def _shuffled(arrays, rng):
    return [rng.permutation(a.reshape(-1)).reshape(a.shape) if a.size > 1 else a.copy()
            for a in arrays]


def _node_key(n):
    return n.op


def _merge(graphs, envs):
    """The graph of graphs[0] with every int that differs across the runs as a Dim."""
    base, env0 = graphs[0], envs[0]
    others = list(zip(envs[1:], graphs[1:]))
    for e, g in others:
        if [_node_key(n) for n in g.nodes] != [_node_key(n) for n in base.nodes]:
            k = next((i for i, (a, b) in enumerate(zip(base.nodes, g.nodes)) if a.op != b.op),
                     min(len(base.nodes), len(g.nodes)))
            raise TraceError(
                "trace: the model runs different ops when the dynamic dims change (node %d: "
                "%s at %s, %s at %s); data-dependent control flow cannot be traced with these "
                "dims dynamic" % (k, base.nodes[k].op if k < len(base.nodes) else "end",
                                  _env(env0), g.nodes[k].op if k < len(g.nodes) else "end",
                                  _env(e)))
    index = [{id(v): k for k, v in enumerate(_all_values(g))} for g in graphs]
    vals = [_all_values(g) for g in graphs]
    for k, v in enumerate(vals[0]):
        for (e, g), ix, vs in zip(others, index[1:], vals[1:]):
            w = vs[k]
            if v.kind != w.kind or (v.kind == "const" and v.name != w.name and
                                    not v.name.startswith("$")):
                raise TraceError("trace: value %s is a %s in one run and a %s in another"
                                 % (v.name, v.kind, w.kind))
            if v.kind == "const" and not (v.data.shape == w.data.shape and
                                          v.data.dtype == w.data.dtype and
                                          np.array_equal(v.data, w.data, equal_nan=True)):
                user = _first_user(base, v)
                raise TraceError(
                    "trace: a constant read by %s differs between runs (%s at %s, %s at %s): "
                    "it was computed from the input outside the traced ops (e.g. with NumPy, "
                    "a comparison or .numpy()), so the graph would freeze it.  Build it with "
                    "tensor ops, or keep the dims it depends on static"
                    % (user, v.type_str(), _env(env0), w.type_str(), _env(e)))
    for (e, g), ix in zip(others, index[1:]):
        for n0, n1 in zip(base.nodes, g.nodes):
            if [None if v is None else ix.get(id(v), -1) for v in n1.inputs] != \
                    [None if v is None else index[0].get(id(v), -1) for v in n0.inputs]:
                raise TraceError("trace: node %s reads different values when the dynamic dims "
                                 "change" % n0.op)
    out = base.copy()
    new_vals = _all_values(out)
    for k, v in enumerate(new_vals):
        if v.kind == "const":
            continue
        try:
            v.shape = tuple(fit("shape of %s" % v.name, vals[0][k].shape, env0,
                                [(e, vs[k].shape) for (e, _), vs in zip(others, vals[1:])]))
        except SymbolicError as err:
            raise TraceError("trace: %s" % err) from None
    for i, n in enumerate(out.nodes):
        try:
            n.attrs = fit("%s (node %d)" % (n.op, i), base.nodes[i].attrs, env0,
                          [(e, g.nodes[i].attrs) for e, g in others])
        except SymbolicError as err:
            raise TraceError("trace: %s" % err) from None
    return out


def _env(env):
    return ", ".join("%s=%d" % kv for kv in sorted(env.items())) or "the example sizes"


def _first_user(g, v):
    for k, n in enumerate(g.nodes):
        if any(x is v for x in n.inputs):
            return "node %d (%s)" % (k, n.op)
    return "an output"


def _all_values(g):
    seen, out = set(), []

    def add(v):
        if v is not None and id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    for v in g.inputs:
        add(v)
    for n in g.nodes:
        for v in n.inputs:
            add(v)
        for v in n.outputs:
            add(v)
    for v in g.outputs:
        add(v)
    return out


# How far the graph's outputs may stray from the recorded run, relative to the output's largest
# magnitude.  The two runs may take different algorithms for one op (a convolution recorded
# with autograd on computes by im2col, the same convolution as inference by Winograd with its
# cached filter transform), which moves float32 results by ~1e-6 of the largest value; data
# the tracer did not see changes results by far more.
_VERIFY_RTOL = {"f2": 1e-2, "f4": 1e-4, "f8": 1e-10, "c8": 1e-4, "c16": 1e-10}


def _agrees(a, b):
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind not in "fc":
        return np.array_equal(a, b)
    tol = _VERIFY_RTOL.get("%s%d" % (a.dtype.kind, a.dtype.itemsize), 1e-2)
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb) or not np.array_equal(a[~fa], b[~fb], equal_nan=True):
        return False
    if not fa.any():
        return True
    a, b = a[fa].astype(np.complex128 if a.dtype.kind == "c" else np.float64), b[fb]
    scale = float(np.abs(b).max())
    return float(np.abs(a - b).max()) <= tol * scale + np.finfo(b.dtype).tiny


def _verify(graph, env, arrays, expected, what):
    got = reference.run_graph(graph.concretize(env), arrays)
    for i, (a, b) in enumerate(zip(got, expected)):
        if not _agrees(np.asarray(a), np.asarray(b)):
            raise TraceError("trace: the recorded graph does not reproduce output %d of the model "
                             "(%s): the model changes data the tracer cannot see (in-place "
                             "updates, NumPy on .numpy() or ._data)" % (i, what))


def trace_graph(model, arrays, dyn):
    """A Graph of `model` on input arrays; dyn {dim name: [(input index, axis)]}."""
    env0 = {name: arrays[axes[0][0]].shape[axes[0][1]] for name, axes in dyn.items()}
    graphs, envs, runs = [], [], []
    g, outs = _run(model, arrays)
    graphs.append(g)
    envs.append(env0)
    runs.append((arrays, outs))
    for name, axes in dyn.items():
        for size in _candidates(env0[name], 1):
            env = dict(env0, **{name: size})
            try:
                g, o = _run(model, _resized(arrays, axes, size))
            except TraceError:
                raise
            except Exception:
                continue
            graphs.append(g)
            envs.append(env)
            runs.append((None, o))
            break
        else:
            raise TraceError("trace: the model fails when dynamic dim %r changes from %d to %d "
                             "or %d; keep it static" % (name, env0[name], env0[name] + 1,
                                                        env0[name] - 1))
    rng = np.random.default_rng(1234)
    check_env = dict(env0)
    check_arrays = list(arrays)
    for name, axes in dyn.items():
        size = envs[list(dyn).index(name) + 1][name]
        check = size + 1 if size > env0[name] else max(size - 1, 1)
        if check in (env0[name], size):
            check = size + 1
        check_env[name] = check
        check_arrays = _resized(check_arrays, axes, check)
    check_arrays = _shuffled(check_arrays, rng)
    try:
        g_check, o_check = _run(model, check_arrays)
    except TraceError:
        raise
    except Exception as e:
        raise TraceError("trace: the model fails on the check run at %s: %s"
                         % (_env(check_env), e)) from e
    graph = _merge(graphs, envs)
    graph.dims = dict(env0)
    graph.check()
    # the check run: same structure and constants, and the fitted graph must predict it
    _merge([graph.concretize(check_env), g_check], [check_env, check_env])
    _verify(graph, env0, arrays, runs[0][1], "the example inputs")
    _verify(graph, check_env, check_arrays, o_check, "inputs resized to %s and shuffled"
            % _env(check_env))
    return graph


def _candidates(v, step):
    out = [v + step]
    if v - step >= 1:
        out.append(v - step)
    return out


def _is_dim(x):
    return isinstance(x, Dim)


# unused names kept out of the public surface
del Node, Value
