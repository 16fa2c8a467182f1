"""One ONNX model, read and checked: the structure (every name defined once, every input
defined, no cycles), then `onnx.checker` and strict `onnx.shape_inference` (shapes that do not
chain fail here), then the initializers as NumPy arrays.  The importer builds IR graphs from
it, one per set of input shapes."""
import os
import re

import onnx

from . import narrow
from .errors import OnnxError, UnsupportedOpError
from .reader import DEFAULT_MAX_BYTES, check_tensor, np_dtype, read_model, tensor_to_array

__all__ = ["OnnxModel", "InputSpec"]

_DEFAULT_DOMAINS = ("", "ai.onnx")
_NESTED = re.compile(r"Inference error\(s\): \(op_type:")


class InputSpec:
    """A graph input: name, dtype, dims (an int, or a str/None for a dynamic dim); for a
    sub-byte integer type, `narrow` names it and dtype is its carrier (narrow.py)."""

    __slots__ = ("name", "dtype", "dims", "narrow")

    def __init__(self, name, dtype, dims, narrow=None):
        self.name, self.dtype, self.dims, self.narrow = name, dtype, dims, narrow

    def __repr__(self):
        return "%s: %s[%s]" % (self.name, self.narrow or self.dtype.name,
                               ", ".join("?" if d is None else str(d) for d in self.dims))


def _dims(type_proto, what):
    if not type_proto.HasField("tensor_type"):
        raise UnsupportedOpError("%s: %s values are not supported (dlcore takes tensors)"
                                 % (what, type_proto.WhichOneof("value")))
    tt = type_proto.tensor_type
    dtype = np_dtype(tt.elem_type, what, narrow_ok=True)
    if not tt.HasField("shape"):
        return dtype, None
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            if d.dim_value < 0:
                raise OnnxError("%s: negative dim %d" % (what, d.dim_value))
            dims.append(int(d.dim_value))
        else:
            dims.append(d.dim_param or None)
    return dtype, dims


def _topological(graph, known):
    """The nodes in an order where each follows the producers of its inputs; OnnxError for an
    undefined input, a name defined twice, or a cycle."""
    nodes = list(graph.node)
    producer = {}
    for i, n in enumerate(nodes):
        for o in n.output:
            if not o:
                continue
            if o in known or o in producer:
                raise OnnxError("graph: value %r is defined twice (by node %d (%s) and %s)"
                                % (o, i, n.op_type, "a graph input or initializer"
                                   if o in known else "node %d" % producer[o]))
            producer[o] = i
    deps = []
    for i, n in enumerate(nodes):
        d = set()
        for name in n.input:
            if not name or name in known:
                continue
            if name not in producer:
                raise OnnxError("graph: node %d (%s%s) reads %r, which no graph input, "
                                "initializer or node defines (a missing initializer?)"
                                % (i, n.op_type, " %r" % n.name if n.name else "", name))
            d.add(producer[name])
        deps.append(d)
    for o in graph.output:
        if o.name not in known and o.name not in producer:
            raise OnnxError("graph: output %r is never defined" % o.name)
    if all(j < i for i, d in enumerate(deps) for j in d):
        return nodes
    # Kahn's algorithm, stable in file order
    users = [[] for _ in nodes]
    left = [len(d) for d in deps]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    ready = [i for i, c in enumerate(left) if c == 0]
    order = []
    while ready:
        i = ready.pop(0)
        order.append(i)
        for u in users[i]:
            left[u] -= 1
            if left[u] == 0:
                ready.append(u)
    if len(order) < len(nodes):
        stuck = [i for i in range(len(nodes)) if left[i] > 0]
        cycle = _find_cycle(stuck, deps)
        raise OnnxError("graph: the nodes form a cycle: %s" % " -> ".join(
            "node %d (%s)" % (i, nodes[i].op_type) for i in cycle))
    return [nodes[i] for i in order]


def _find_cycle(stuck, deps):
    stuck_set = set(stuck)
    i = stuck[0]
    seen = []
    while i not in seen:
        seen.append(i)
        i = next(j for j in deps[i] if j in stuck_set)
    return seen[seen.index(i):] + [i]


class OnnxModel:
    def __init__(self, source, max_bytes=DEFAULT_MAX_BYTES, check=True):
        proto, base_dir = read_model(source, max_bytes)
        self.max_bytes = int(max_bytes)
        self.opsets = {}
        for o in proto.opset_import:
            self.opsets[o.domain if o.domain not in _DEFAULT_DOMAINS else ""] = int(o.version)
        if "" not in self.opsets:
            raise OnnxError("model: it imports no opset of the default ONNX domain")
        self.opset = self.opsets[""]
        if self.opset < 1:
            raise OnnxError("model: opset %d is not valid" % self.opset)
        latest = onnx.defs.onnx_opset_version()
        if self.opset > latest:  # ops' meaning at an opset onnx does not know is unknown
            raise UnsupportedOpError(
                "model: it imports opset %d of the default ONNX domain; the installed onnx "
                "package knows opsets up to %d (upgrade onnx, or export the model at opset "
                "%d or lower)" % (self.opset, latest, latest))
        if proto.functions:
            proto = onnx.inliner.inline_local_functions(proto)
        g = proto.graph
        if len(g.sparse_initializer):
            raise OnnxError("model: sparse initializers are not supported")
        init_names = [t.name for t in g.initializer]
        if len(set(init_names)) != len(init_names):
            raise OnnxError("model: an initializer name appears twice")
        for t in g.initializer:
            check_tensor(t, base_dir, max_bytes, "initializer %r" % t.name)
        for i, n in enumerate(g.node):
            for a in n.attribute:
                if a.HasField("t"):
                    check_tensor(a.t, base_dir, max_bytes, "node %d (%s) attribute %r"
                                 % (i, n.op_type, a.name))
        known = set(init_names) | {v.name for v in g.input}
        nodes = _topological(g, known)
        sorted_ok = nodes == list(g.node)
        if not sorted_ok:
            proto = onnx.ModelProto.FromString(proto.SerializeToString())
            del proto.graph.node[:]
            proto.graph.node.extend(nodes)
            g = proto.graph
        self.declared = {}
        if check:
            path = source if sorted_ok and base_dir is not None else None
            self._check(proto, path)
        self.proto = proto
        self.graph = g
        self.initializers = {t.name: tensor_to_array(t, base_dir, max_bytes,
                                                     "initializer %r" % t.name)
                             for t in g.initializer}
        # sub-byte integer initializers and outputs, by name (narrow.py)
        self.narrow = {t.name: narrow.narrow_name(t.data_type) for t in g.initializer
                       if narrow.narrow_name(t.data_type)}
        self.base_dir = base_dir
        self.inputs = []
        for v in g.input:
            if v.name in self.initializers:
                continue
            dtype, dims = _dims(v.type, "graph input %r" % v.name)
            if dims is None:
                raise OnnxError("graph input %r has no shape; dlcore needs its rank"
                                % v.name)
            self.inputs.append(InputSpec(v.name, dtype, dims,
                                         narrow.narrow_name(v.type.tensor_type.elem_type)))
        self.outputs = [v.name for v in g.output]
        self.output_narrow = [narrow.narrow_name(v.type.tensor_type.elem_type)
                              if v.type.HasField("tensor_type") else None for v in g.output]
        for v in g.output:
            if v.type.HasField("tensor_type") and v.name not in self.declared:
                _, dims = _dims(v.type, "graph output %r" % v.name)
                if dims is not None:
                    self.declared[v.name] = dims

    def _check(self, proto, path=None):
        try:
            # from the path, the checker finds external data files next to the model
            onnx.checker.check_model(proto if path is None else os.fspath(path))
        except onnx.checker.ValidationError as e:
            raise OnnxError("onnx.checker rejects the model: %s" % str(e).strip()) from None
        try:
            inferred = onnx.shape_inference.infer_shapes(proto, check_type=True,
                                                         strict_mode=True, data_prop=True)
        except Exception as e:  # InferenceError, or a C++ error from an op's shape rule
            msg = str(e).strip()
            if len(_NESTED.findall(msg)) < 2:
                raise OnnxError("onnx.shape_inference rejects the model (shapes or types that "
                                "do not chain): %s" % msg) from None
            # an error inside an op's function body: onnx's inference does not apply the
            # body's attribute defaults (MeanVarianceNormalization's axes); dlcore checks
            # every shape itself when it imports the graph
            inferred = onnx.shape_inference.infer_shapes(proto, check_type=False,
                                                         strict_mode=False)
        for v in list(inferred.graph.value_info) + list(inferred.graph.output):
            t = v.type
            if t.HasField("tensor_type") and t.tensor_type.HasField("shape"):
                self.declared[v.name] = [d.dim_value if d.HasField("dim_value") else None
                                         for d in t.tensor_type.shape.dim]

    def __repr__(self):
        return "OnnxModel(opset %d, %d nodes, inputs %s, outputs %s)" % (
            self.opset, len(self.graph.node), self.inputs, self.outputs)


def input_dims_ok(spec, shape):
    return len(spec.dims) == len(shape) and all(
        not isinstance(d, int) or d == s for d, s in zip(spec.dims, shape))


__all__ += ["input_dims_ok"]
