"""The graph IR: values, nodes, graphs, printing.

A `Value` is one array: a graph input, a constant (a parameter, a buffer or an array the model
made outside the traced ops; `data` holds it) or the output of a node.  Its shape entries are
ints or `Dim` expressions over named dynamic dims.  A `Node` applies one op type (ONNX's name
where the concept matches: Gemm, Conv, Relu, Add, ...; see docs/jit.md) to input Values (None
for an absent optional input) with attributes (a dict of plain Python values: ints, floats,
strings, tuples, slices, small arrays; ints may be Dims), and defines its output Values.
A `Graph` holds its inputs, nodes in execution order (each after the producers of its inputs),
outputs, and the example size of each dynamic dim.
"""
import numpy as np

from .symbolic import Dim, concrete, has_symbols

__all__ = ["Value", "Node", "Graph"]


class Value:
    __slots__ = ("name", "shape", "dtype", "data", "producer", "kind")

    def __init__(self, name, shape, dtype, kind, data=None, producer=None):
        self.name = name
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.kind = kind            # "input", "const" or "node"
        self.data = data            # the array of a constant
        self.producer = producer    # the Node defining it (kind "node")

    @property
    def is_const(self):
        return self.kind == "const"

    @property
    def ndim(self):
        return len(self.shape)

    def numel(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    def type_str(self):
        return "%s[%s]" % (self.dtype.name, ", ".join(str(s) for s in self.shape))

    def __repr__(self):
        return "%s: %s" % (self.name, self.type_str())


class Node:
    __slots__ = ("op", "inputs", "outputs", "attrs")

    def __init__(self, op, inputs, outputs, attrs):
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.attrs = dict(attrs)

    def __repr__(self):
        return _node_line(self)


def _attr_str(v):
    if isinstance(v, np.ndarray):
        if v.size <= 8:
            return "array(%s)" % v.tolist()
        return "array(%s %s)" % (v.dtype.name, v.shape)
    if isinstance(v, float):
        return "%.6g" % v
    if isinstance(v, type):
        return v.__name__
    if isinstance(v, slice):
        return "%s:%s%s" % ("" if v.start is None else v.start, "" if v.stop is None else v.stop,
                            "" if v.step is None else ":%s" % v.step)
    if isinstance(v, tuple):
        return "(%s%s)" % (", ".join(_attr_str(e) for e in v), "," if len(v) == 1 else "")
    if isinstance(v, dict):
        return "{%s}" % ", ".join("%s=%s" % (k, _attr_str(e)) for k, e in v.items())
    return repr(v)


def _node_line(node):
    outs = ", ".join("%s: %s" % (o.name, o.type_str()) for o in node.outputs)
    ins = ", ".join("_" if v is None else v.name for v in node.inputs)
    attrs = " ".join("%s=%s" % (k, _attr_str(v)) for k, v in node.attrs.items()
                     if not k.startswith("_"))
    return "%s = %s(%s)%s" % (outs, node.op, ins, (" " + attrs) if attrs else "")


class Graph:
    def __init__(self):
        self.inputs = []
        self.outputs = []
        self.nodes = []
        self.dims = {}          # dynamic dim name -> its size in the example inputs
        self.output_tree = None  # how the model's outputs nest (see tracer); None: a tuple
        self._count = 0

    # ---- building ---------------------------------------------------------------------------
    def _name(self, prefix="%"):
        self._count += 1
        return "%s%d" % (prefix, self._count)

    def add_input(self, name, shape, dtype):
        v = Value(name, shape, dtype, "input")
        self.inputs.append(v)
        return v

    def const(self, data, name=None):
        data = np.asarray(data)
        return Value(name or self._name("$"), data.shape, data.dtype, "const", data=data)

    def add_node(self, op, inputs, attrs, out_types, index=None):
        """A new node of `op` on `inputs` with outputs of out_types [(shape, dtype)], appended
        (or inserted at `index`); returns the node."""
        outs = [Value(self._name(), s, d, "node") for s, d in out_types]
        node = Node(op, inputs, outs, attrs)
        for o in outs:
            o.producer = node
        if index is None:
            self.nodes.append(node)
        else:
            self.nodes.insert(index, node)
        return node

    # ---- queries and rewiring ---------------------------------------------------------------
    def uses(self):
        """{id(value): [(node, input index)]}; graph outputs count as (None, output index)."""
        u = {}
        for n in self.nodes:
            for i, v in enumerate(n.inputs):
                if v is not None:
                    u.setdefault(id(v), []).append((n, i))
        for i, v in enumerate(self.outputs):
            u.setdefault(id(v), []).append((None, i))
        return u

    def replace_uses(self, old, new):
        """Every use of Value `old` (node inputs and graph outputs) now reads `new`."""
        for n in self.nodes:
            n.inputs = [new if v is old else v for v in n.inputs]
        self.outputs = [new if v is old else v for v in self.outputs]

    def constants(self):
        seen, out = set(), []
        for n in self.nodes:
            for v in n.inputs:
                if v is not None and v.is_const and id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        for v in self.outputs:
            if v.is_const and id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out

    def check(self):
        """Raises ValueError when a node reads a value no earlier node, input or constant
        defines (the order the executor relies on)."""
        known = {id(v) for v in self.inputs}
        for k, n in enumerate(self.nodes):
            for v in n.inputs:
                if v is None or v.is_const:
                    continue
                if id(v) not in known:
                    raise ValueError("graph: node %d (%s) reads %s before it is defined"
                                     % (k, n.op, v.name))
            known.update(id(o) for o in n.outputs)
        for v in self.outputs:
            if not v.is_const and id(v) not in known:
                raise ValueError("graph: output %s is never defined" % v.name)

    # ---- copies ------------------------------------------------------------------------------
    def copy(self, env=None):
        """A copy sharing constant arrays; with `env` ({dim: size}) every Dim becomes an int."""
        g = Graph()
        g.dims = dict(self.dims)
        g.output_tree = self.output_tree
        g._count = self._count
        vmap = {}

        def cv(v):
            if v is None:
                return None
            if id(v) not in vmap:
                shape = v.shape if env is None else tuple(concrete(s, env) for s in v.shape)
                vmap[id(v)] = Value(v.name, shape, v.dtype, v.kind, v.data)
            return vmap[id(v)]

        g.inputs = [cv(v) for v in self.inputs]
        for n in self.nodes:
            attrs = n.attrs if env is None else concrete(n.attrs, env)
            nn = Node(n.op, [cv(v) for v in n.inputs], [cv(o) for o in n.outputs], attrs)
            for o in nn.outputs:
                o.producer = nn
            g.nodes.append(nn)
        g.outputs = [cv(v) for v in self.outputs]
        if env is not None:
            g.dims = {}
        return g

    def concretize(self, env):
        missing = [d for d in self.dims if d not in env]
        if missing:
            raise KeyError("graph: no size for dynamic dims %s" % missing)
        return self.copy(env)

    @property
    def is_symbolic(self):
        return bool(self.dims) and (any(has_symbols(v.shape) for v in self.inputs) or
                                    any(has_symbols(n.attrs) for n in self.nodes))

    # ---- printing ---------------------------------------------------------------------------
    def __str__(self):
        ins = ", ".join(repr(v) for v in self.inputs)
        lines = ["graph(%s)%s {" % (ins, "" if not self.dims else "  dims: %s" % ", ".join(
            "%s=%d" % kv for kv in self.dims.items()))]
        consts = self.constants()
        if consts:
            n = sum(int(np.prod(c.shape, dtype=np.int64)) if not has_symbols(c.shape) else 0
                    for c in consts)
            lines.append("  # %d constants, %d elements" % (len(consts), n))
        for node in self.nodes:
            lines.append("  " + _node_line(node))
        lines.append("  return %s" % ", ".join(v.name for v in self.outputs))
        lines.append("}")
        return "\n".join(lines)

    def op_counts(self):
        c = {}
        for n in self.nodes:
            c[n.op] = c.get(n.op, 0) + 1
        return c


def static_shape(shape):
    """`shape` as a tuple of ints; raises when a Dim is left."""
    for s in shape:
        if isinstance(s, Dim):
            raise ValueError("shape %s still has a dynamic dim" % (shape,))
    return tuple(int(s) for s in shape)
