"""The graph builder the op converters write into.

The importer builds dlcore's IR for one set of concrete input shapes, so every shape is an int
and every value computed only from constants and shapes (Shape -> Gather -> Concat -> Reshape
chains, masks built from Range, ConstantOfShape) is evaluated right there by the IR's
reference interpreter and becomes a constant: what reaches the plan is the data path only.
`emit` does that folding, and checks each new value against the size limit before anything
is allocated.
"""
import numpy as np

from ..jit.ir import Graph, Node, Value
from ..jit.reference import run_node
from .errors import OnnxError, UnsupportedOpError
from .numpy_ops import NumpyOp

__all__ = ["Builder", "OnnxNode", "Scope", "REQUIRED", "NeedsValues", "SMALL_INPUT"]

REQUIRED = object()


# a graph input this small that decides a shape or an attribute becomes part of the plan's key
SMALL_INPUT = 4096


class NeedsValues(Exception):
    """Raised while building when a shape-like argument depends on small graph inputs: the
    plan is then built per value of those inputs (as it is per shape)."""

    def __init__(self, names):
        super().__init__(", ".join(names))
        self.names = names


def _small_input_sources(v):
    """Names of the graph inputs v is computed from, when all are small; else []."""
    seen, stack, names = set(), [v], []
    while stack:
        u = stack.pop()
        if u is None or id(u) in seen or u.is_const:
            continue
        seen.add(id(u))
        if u.kind == "input":
            if u.numel() > SMALL_INPUT:
                return []
            names.append(u.name)
        elif u.producer is not None:
            stack.extend(u.producer.inputs)
    return names


class OnnxNode:
    """What a converter sees of one ONNX node: its inputs as IR Values (None where absent),
    attributes as Python values, how many outputs the graph uses, the opset of its domain."""

    __slots__ = ("op", "name", "index", "domain", "opset", "inputs", "attrs", "n_outputs",
                 "b", "used")

    def __init__(self, b, op, name, index, domain, opset, inputs, attrs, n_outputs, used):
        self.b, self.op, self.name, self.index = b, op, name, index
        self.domain, self.opset = domain, opset
        self.inputs, self.attrs, self.n_outputs, self.used = inputs, attrs, n_outputs, used

    def where(self):
        return "node %d (%s%s, opset %d)" % (self.index, self.op,
                                             " %r" % self.name if self.name else "", self.opset)

    def error(self, msg):
        return OnnxError("%s: %s" % (self.where(), msg))

    def unsupported(self, msg):
        if "not supported" not in msg:
            msg += " (not supported by dlcore.onnx)"
        return UnsupportedOpError("%s: %s" % (self.where(), msg))

    def attr(self, key, default=REQUIRED):
        if key in self.attrs:
            return self.attrs[key]
        if default is REQUIRED:
            raise self.error("required attribute %r is missing" % key)
        return default

    def input(self, i):
        return self.inputs[i] if i < len(self.inputs) else None

    def need_input(self, i, what):
        v = self.input(i)
        if v is None:
            raise self.error("input %d (%s) is required" % (i, what))
        return v

    def const(self, i, what, default=REQUIRED):
        """Input i's value, which must be known at load time (a constant, or computed from
        constants and shapes)."""
        v = self.input(i)
        if v is None:
            if default is REQUIRED:
                raise self.error("input %d (%s) is required" % (i, what))
            return default
        if not v.is_const:
            small = _small_input_sources(v)
            if small:
                raise NeedsValues(small)
            raise self.unsupported("input %d (%s) must be computable when the model is "
                                   "loaded (from constants and input shapes); here it depends "
                                   "on input data" % (i, what))
        return v.data

    def ints(self, i, what, default=REQUIRED):
        a = self.const(i, what, default)
        if a is default and default is not REQUIRED:
            return default
        a = np.asarray(a)
        if a.dtype.kind not in "iu":
            raise self.error("input %d (%s) must be integers, got %s" % (i, what, a.dtype))
        return [int(x) for x in a.reshape(-1)]

    def axis(self, axis, ndim, what="axis"):
        """A non-negative axis; ONNX allows -ndim..ndim-1."""
        a = int(axis)
        if not -ndim <= a < max(ndim, 1):
            raise self.error("%s %d is out of range for a %d-D input" % (what, a, ndim))
        return a % max(ndim, 1)


class Scope:
    """Where a node is converted: the model, the ONNX names visible there (env: the graph's
    own and, for a subgraph, the enclosing graphs'), its error prefix, subgraph depth, the
    importer's convert_node (control-flow converters convert subgraphs with it) and the
    plan's `optimize` setting (subgraphs planned on their own follow it)."""

    __slots__ = ("model", "env", "where", "depth", "convert", "optimize")

    def __init__(self, model, env, where, depth, convert, optimize=True):
        self.model, self.env, self.where, self.depth = model, env, where, depth
        self.convert, self.optimize = convert, optimize


class Builder:
    def __init__(self, max_bytes, optimize=True):
        self.g = Graph()
        self.max_bytes = max_bytes
        self.optimize = optimize   # OnnxPlan's: True/False for jit's passes, None: reference
        self.scope = None   # the Scope of the node being converted (set by the importer)
        self.narrow = {}    # Values of sub-byte integer types (narrow.tag)

    # ---- values ------------------------------------------------------------------------------
    def const(self, arr, name=None):
        return self.g.const(np.asarray(arr), name)

    @staticmethod
    def data(v):
        return None if v is None or not v.is_const else v.data

    def _check_size(self, shape, dtype, op):
        n = 1
        for s in shape:
            if s < 0:
                raise OnnxError("%s: negative size in result shape %s" % (op, tuple(shape)))
            n *= int(s)
        nbytes = n * np.dtype(dtype).itemsize
        if nbytes > self.max_bytes:
            raise OnnxError("%s: a result of shape %s (%s) needs %s bytes, over the limit of "
                            "%s (max_bytes)" % (op, tuple(shape), np.dtype(dtype).name,
                                                format(nbytes, ","), format(self.max_bytes, ",")))

    # ---- nodes -------------------------------------------------------------------------------
    def emit(self, op, inputs, attrs, out_types):
        """Appends `op` (an IR op type) and returns its output Values; evaluated at once into
        constants when every input is a constant."""
        out_types = [(tuple(int(s) for s in shape), np.dtype(dt)) for shape, dt in out_types]
        what = attrs.get("kwargs", {}).get("op", op) if op == "PyFunction" else op
        for shape, dt in out_types:
            self._check_size(shape, dt, what)
        if all(v is None or v.is_const for v in inputs) and any(v is not None for v in inputs):
            outs = [Value("%fold", s, d, "node") for s, d in out_types]
            node = Node(op, inputs, outs, attrs)
            arrays = run_node(node, [None if v is None else v.data for v in inputs])
            return [self.const(a if a.flags.c_contiguous else np.array(a, order="C"))
                    for a in arrays]
        return list(self.g.add_node(op, inputs, attrs, out_types).outputs)

    def op(self, op, inputs, attrs, shape, dtype):
        return self.emit(op, inputs, attrs, [(shape, dtype)])[0]

    def numpy(self, name, inputs, out_types, **kw):
        """A node with no IR op type: NumpyOp `name` (numpy_ops.py), a Python step in a plan."""
        return self.emit("PyFunction", inputs, {"fn": NumpyOp, "kwargs": dict(kw, op=name)},
                         out_types)

    def numpy1(self, name, inputs, shape, dtype, **kw):
        return self.numpy(name, inputs, [(shape, dtype)], **kw)[0]

    # ---- shape helpers -----------------------------------------------------------------------
    def unary(self, op, x, attrs=None):
        return self.op(op, [x], attrs or {}, x.shape, x.dtype)

    def binary(self, op, a, b, dtype=None):
        shape = broadcast_shapes(op, a.shape, b.shape)
        return self.op(op, [a, b], {}, shape, dtype or a.dtype)

    def reshape(self, x, shape):
        shape = tuple(int(s) for s in shape)
        if shape == tuple(x.shape):
            return x
        if int(np.prod(shape, dtype=np.int64)) != x.numel():
            raise OnnxError("Reshape: cannot view %d elements of shape %s as %s"
                            % (x.numel(), x.shape, shape))
        return self.op("Reshape", [x], {"shape": shape}, shape, x.dtype)

    def transpose(self, x, perm):
        perm = tuple(int(p) for p in perm)
        if perm == tuple(range(len(perm))):
            return x
        return self.op("Transpose", [x], {"perm": perm}, tuple(x.shape[p] for p in perm),
                       x.dtype)

    def cast(self, x, dtype):
        dtype = np.dtype(dtype)
        if x.dtype == dtype:
            return x
        return self.op("Cast", [x], {"to": dtype.name}, x.shape, dtype)

    def slice(self, x, starts, ends, steps=None):
        """x[starts:ends:steps] per axis, bounds already clamped and non-negative (an end of
        -1 with a negative step means "through index 0")."""
        steps = steps or [1] * x.ndim
        # range() reads an end of -1 as "stop after index 0", as the IR's Slice does
        shape = tuple(len(range(s, e, st)) for s, e, st in zip(starts, ends, steps))
        if shape == tuple(x.shape) and all(st == 1 for st in steps):
            return x
        return self.op("Slice", [x], {"starts": tuple(starts), "ends": tuple(ends),
                                      "steps": tuple(steps)}, shape, x.dtype)

    def concat(self, xs, axis):
        if len(xs) == 1:
            return xs[0]
        shape = list(xs[0].shape)
        shape[axis] = sum(v.shape[axis] for v in xs)
        return self.op("Concat", list(xs), {"axis": axis}, tuple(shape), xs[0].dtype)

    def gather(self, x, idx, axis):
        shape = tuple(x.shape[:axis]) + tuple(idx.shape) + tuple(x.shape[axis + 1:])
        return self.op("Gather", [x, idx], {"axis": axis}, shape, x.dtype)

    def expand(self, x, shape):
        shape = tuple(shape)
        if shape == tuple(x.shape):
            return x
        return self.op("Expand", [x], {"shape": shape}, shape, x.dtype)

    def scalar(self, value, dtype):
        return self.const(np.asarray(value, dtype=dtype))


def broadcast_shapes(what, *shapes):
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise OnnxError("%s: shapes %s do not broadcast" % (
            what, " and ".join(str(tuple(s)) for s in shapes))) from None

