"""The ONNX graph being written by dl.onnx.export: names for IR values, initializers for
constants, and int64 shape tensors for attributes that hold dynamic sizes.

A `Dim` (coef * prod(dim ** exp) + offset, from dl.jit's tracer) becomes ONNX nodes that
read the size from the graph input it came from: Shape -> Gather -> Mul/Add, each computed
once.  A list of ints and Dims becomes one Concat of those pieces (a constant when it has no
Dim)."""
import numpy as np
from onnx import helper, numpy_helper

from ..jit.symbolic import Dim

__all__ = ["Writer", "ExportError"]


class ExportError(ValueError):
    """A traced graph that cannot be written as ONNX (the message names the op)."""


class Writer:
    def __init__(self, opset, dim_sources):
        self.opset = opset
        self.dim_sources = dim_sources   # {dim name: (onnx input name, axis)}
        self.nodes = []
        self.inits = []
        self.names = {}
        self.used = set()
        self._dims = {}
        self._shapes = {}
        self._consts = {}

    # ---- names --------------------------------------------------------------------------------
    def fresh(self, prefix):
        base = "".join(c if c.isalnum() or c in "._/:-" else "_" for c in prefix) or "v"
        name, k = base, 0
        while name in self.used:
            k += 1
            name = "%s_%d" % (base, k)
        self.used.add(name)
        return name

    def bind(self, v, name):
        self.names[id(v)] = name

    def name(self, v):
        """The ONNX name holding IR Value v (constants become initializers on first use)."""
        if v is None:
            return ""
        n = self.names.get(id(v))
        if n is not None:
            return n
        if v.is_const:
            n = self.const(v.data, v.name if not v.name.startswith("$") else "const")
        else:
            n = self.fresh("t" + v.name.lstrip("%"))
        self.names[id(v)] = n
        return n

    def const(self, arr, prefix="const"):
        arr = np.asarray(arr)
        if arr.dtype.kind not in "biuf":
            raise ExportError("export: a constant of dtype %s cannot be written" % arr.dtype)
        key = None
        if arr.size <= 16:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in self._consts:
                return self._consts[key]
        n = self.fresh(prefix)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), n))
        if key is not None:
            self._consts[key] = n
        return n

    def node(self, op, inputs, n_out=1, outputs=None, **attrs):
        """Appends a node; returns its output name (or the list when n_out > 1)."""
        outs = outputs or [self.fresh(op.lower()) for _ in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op, list(inputs), list(outs),
                                           name=self.fresh("n_" + op), **attrs))
        return outs[0] if len(outs) == 1 and n_out == 1 else outs

    # ---- dynamic sizes ------------------------------------------------------------------------
    def _shape(self, input_name):
        if input_name not in self._shapes:
            self._shapes[input_name] = self.node("Shape", [input_name])
        return self._shapes[input_name]

    def dim(self, d):
        """An int64 tensor of shape (1,) holding the size d (an int or a Dim)."""
        if not isinstance(d, Dim):
            return self.const(np.asarray([int(d)], np.int64), "size")
        key = repr(d)
        if key in self._dims:
            return self._dims[key]
        acc = None
        for sym, exp in d.powers:
            if sym not in self.dim_sources:
                raise ExportError("export: dynamic size %r has no graph input to read it from"
                                  % sym)
            src, axis = self.dim_sources[sym]
            t = self.node("Gather", [self._shape(src), self.const(np.asarray([axis], np.int64),
                                                                  "axis")], axis=0)
            for _ in range(exp):
                acc = t if acc is None else self.node("Mul", [acc, t])
        if acc is None:
            acc = self.const(np.asarray([1], np.int64), "one")
        if d.coef != 1:
            acc = self.node("Mul", [acc, self.const(np.asarray([d.coef], np.int64), "coef")])
        if d.offset:
            acc = self.node("Add", [acc, self.const(np.asarray([d.offset], np.int64), "off")])
        self._dims[key] = acc
        return acc

    def ints(self, values, prefix="shape"):
        """An int64 1-D tensor of `values` (ints and Dims)."""
        values = list(values)
        if not any(isinstance(v, Dim) for v in values):
            return self.const(np.asarray(values, np.int64).reshape(-1), prefix)
        parts, run = [], []
        for v in values:
            if isinstance(v, Dim):
                if run:
                    parts.append(self.const(np.asarray(run, np.int64), prefix))
                    run = []
                parts.append(self.dim(v))
            else:
                run.append(int(v))
        if run:
            parts.append(self.const(np.asarray(run, np.int64), prefix))
        return parts[0] if len(parts) == 1 else self.node("Concat", parts, axis=0)


def tensor_type(dtype):
    try:
        return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    except (KeyError, TypeError, ValueError):
        raise ExportError("export: dtype %s has no ONNX type" % np.dtype(dtype)) from None


def value_info(name, dtype, shape):
    dims = []
    for s in shape:
        if isinstance(s, Dim):
            pure = s.coef == 1 and s.offset == 0 and len(s.powers) == 1 and s.powers[0][1] == 1
            dims.append(s.powers[0][0] if pure else None)
        else:
            dims.append(int(s))
    return helper.make_tensor_value_info(name, tensor_type(dtype), dims)


__all__ += ["tensor_type", "value_info"]
