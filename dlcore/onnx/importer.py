"""From an OnnxModel and concrete input shapes to dlcore's IR: each ONNX node goes through its
converter (registry.OPS, filled by the ops_*.py modules), values known at load time fold into
constants, every result is checked against the shapes the model declares, and the pattern
pass (patterns.py) puts back the ops exporters spell out (erf-GELU, ...) before the jit
passes run."""
from onnx import AttributeProto

from . import ops_math, ops_nn, ops_norm, ops_reduce, ops_rnn, ops_shape  # noqa: F401
from . import ops_control, ops_extra, ops_loop, ops_misc, ops_quant  # noqa: F401
from . import attention, narrow, patterns, qdq
from .builder import Builder, NeedsValues, OnnxNode, Scope
from .errors import OnnxError, UnsupportedOpError
from .functions import bind_attributes, function_body, schema_defaults
from .reader import tensor_to_array
from .registry import OPS

__all__ = ["build_graph", "parse_attrs"]


def parse_attrs(n, base_dir, max_bytes, where):
    out = {}
    for a in n.attribute:
        if a.ref_attr_name:
            raise OnnxError("%s: attribute %r refers to a function attribute" % (where, a.name))
        t = a.type
        if t == AttributeProto.FLOAT:
            out[a.name] = float(a.f)
        elif t == AttributeProto.INT:
            out[a.name] = int(a.i)
        elif t == AttributeProto.STRING:
            out[a.name] = a.s.decode("utf-8", "replace")
        elif t == AttributeProto.TENSOR:
            out[a.name] = tensor_to_array(a.t, base_dir, max_bytes,
                                          "%s attribute %r" % (where, a.name))
        elif t == AttributeProto.FLOATS:
            out[a.name] = [float(x) for x in a.floats]
        elif t == AttributeProto.INTS:
            out[a.name] = [int(x) for x in a.ints]
        elif t == AttributeProto.STRINGS:
            out[a.name] = [s.decode("utf-8", "replace") for s in a.strings]
        elif t in (AttributeProto.GRAPH, AttributeProto.GRAPHS):
            out[a.name] = a  # control flow (ops_control.py): the GraphProto is read there
        else:
            raise OnnxError("%s: attribute %r has a type (%s) dlcore does not read"
                            % (where, a.name, AttributeProto.AttributeType.Name(t)))
    return out


def _where(i, n, opset):
    return "node %d (%s%s, opset %d)" % (i, n.op_type, " %r" % n.name if n.name else "", opset)


def _check_declared(model, name, v, where):
    dims = model.declared.get(name)
    if dims is None:
        return
    shape = tuple(v.shape)
    if len(dims) != len(shape) or any(d is not None and d != s for d, s in zip(dims, shape)):
        raise OnnxError("%s: output %r has shape %s here, but the model declares %s (shapes "
                        "that do not chain)" % (where, name, shape,
                                                tuple("?" if d is None else d for d in dims)))


# function bodies may call ops that have bodies themselves; no schema nests deeply
_MAX_DEPTH = 8


def convert_node(b, model, n, i, env, opset, where_prefix="", depth=0):
    """Converts NodeProto n (index i) reading and writing ONNX names in `env`."""
    domain = n.domain if n.domain not in ("", "ai.onnx") else ""
    where = where_prefix + _where(i, n, model.opsets.get(domain, opset) if not where_prefix
                                  else opset)
    if domain:
        raise UnsupportedOpError("%s: ops of domain %r are not supported (dlcore runs the "
                                 "default ai.onnx domain)" % (where, domain))
    ins = [env[name] if name else None for name in n.input]
    entry = OPS.get(n.op_type)
    if entry is None or opset < entry[1]:
        body = function_body(n, ins, opset) if depth < _MAX_DEPTH else None
        if body is None:
            if entry is None:
                raise UnsupportedOpError("%s: ONNX op %r (opset %d) is not supported by "
                                         "dlcore.onnx" % (where, n.op_type, opset))
            raise UnsupportedOpError("%s: %s before opset %d is not supported by dlcore.onnx "
                                     "(this model imports opset %d)"
                                     % (where, n.op_type, entry[1], opset))
        outs = _expand(b, model, n, body, ins, opset, where, depth)
    else:
        attrs = parse_attrs(n, model.base_dir, model.max_bytes, where)
        node = OnnxNode(b, n.op_type, n.name, i, domain, opset, ins, attrs, len(n.output),
                        [bool(o) for o in n.output])
        # control-flow converters read their subgraphs in this node's scope (ops_control.py)
        b.scope = Scope(model, env, where, depth, convert_node, b.optimize)
        try:
            outs = entry[0](b, node)
        except NeedsValues:
            raise
        except OnnxError as e:
            msg = str(e)
            if msg.startswith("node ") and not where_prefix:
                raise
            raise type(e)("%s%s" % (where_prefix, msg) if msg.startswith("node ")
                          else "%s: %s" % (where, msg)) from None
        except (ValueError, TypeError, IndexError, KeyError, ArithmeticError) as e:
            raise OnnxError("%s: %s: %s" % (where, type(e).__name__, e)) from None
    for k, name in enumerate(n.output):
        if not name:
            continue
        v = outs[k] if k < len(outs) else None
        if v is None:
            raise UnsupportedOpError("%s: output %d (%r) is not supported" % (where, k, name))
        if not where_prefix:
            _check_declared(model, name, v, where)
        if v.name.startswith(("%", "$")):
            v.name = name
        env[name] = v


def _expand(b, model, n, body, ins, opset, where, depth):
    """n's outputs computed by its function body's nodes."""
    local = {}
    for k, formal in enumerate(body.input):
        local[formal] = ins[k] if k < len(ins) else None
    fopset = opset
    for o in body.opset_import:
        if o.domain in ("", "ai.onnx"):
            fopset = int(o.version)
    defaults = schema_defaults(n.op_type, opset)
    for k, bn in enumerate(body.node):
        convert_node(b, model, bind_attributes(bn, n, body, defaults), k, local, fopset,
                     "%s: in its function body: " % where, depth + 1)
    return [local.get(formal) for formal in body.output]


def build_graph(model, shapes, values=None, optimize=True):
    """The IR Graph of `model` for graph inputs of `shapes` (a list of int tuples, in the
    order of model.inputs); inputs named in `values` ({name: array}) are constants of those
    values, and the graph's inputs are the others, in order.  Raises NeedsValues when a shape
    argument depends on small inputs not in `values`.  `optimize` (OnnxPlan's) is how the
    plans of control-flow subgraphs run at run time are built."""
    b = Builder(model.max_bytes, optimize)
    env = {}
    values = values or {}
    for name, arr in model.initializers.items():
        env[name] = narrow.tag(b, b.const(arr, name), model.narrow.get(name))
    for spec, shape in zip(model.inputs, shapes):
        if spec.name in values:
            env[spec.name] = b.const(values[spec.name], spec.name)
        else:
            env[spec.name] = b.g.add_input(spec.name, tuple(int(s) for s in shape), spec.dtype)
        narrow.tag(b, env[spec.name], spec.narrow)
    for i, n in enumerate(model.graph.node):
        convert_node(b, model, n, i, env, model.opset)
    b.g.outputs = [env[name] for name in model.outputs]
    qdq.run(b.g)
    patterns.run(b.g)
    attention.run(b.g)
    b.g.check()
    return b.g

