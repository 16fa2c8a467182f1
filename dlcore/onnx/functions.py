"""Ops with an ONNX function body and no converter here (Attention, MeanVarianceNormalization,
Swish, RotaryEmbedding, the window functions, ...): the onnx package's schema gives the body,
the op's definition in ops ONNX already has (for context-dependent bodies, built for this
node's attributes and input types); its nodes go through the ordinary converters, so the
expansion is exactly what the operator specifies.  Random ops (Bernoulli) are never expanded:
a plan must be deterministic."""
import onnx
from onnx import defs, helper

__all__ = ["function_body", "bind_attributes", "expandable", "schema_defaults", "NOT_EXPANDED"]

NOT_EXPANDED = {"Bernoulli", "SequenceMap"}


def _best(versions, opset):
    ok = [v for v in versions if v <= opset]
    return max(ok) if ok else None


def expandable(op, opset):
    """Whether op (default domain) has a function body at `opset` that may be expanded."""
    if op in NOT_EXPANDED:
        return False
    try:
        schema = defs.get_schema(op, opset, "")
    except defs.SchemaError:
        return False
    return _best(schema.context_dependent_function_opset_versions, opset) is not None or \
        _best(schema.function_opset_versions, opset) is not None


def function_body(n, ins, opset):
    """The FunctionProto defining node n (a NodeProto of the default domain) at `opset`, for
    inputs `ins` (IR Values or None), or None when its schema has no body."""
    if n.op_type in NOT_EXPANDED:
        return None
    try:
        schema = defs.get_schema(n.op_type, opset, "")
    except defs.SchemaError:
        return None
    data = None
    if schema.has_context_dependent_function:
        v = _best(schema.context_dependent_function_opset_versions, opset)
        if v is not None:
            types = []
            for x in ins:
                if x is None:
                    types.append(onnx.TypeProto().SerializeToString())
                else:
                    types.append(helper.make_tensor_type_proto(
                        helper.np_dtype_to_tensor_dtype(x.dtype), list(x.shape))
                        .SerializeToString())
            data = schema.get_context_dependent_function_with_opset_version(
                v, n.SerializeToString(), types)
    if data is None and schema.has_function:
        v = _best(schema.function_opset_versions, opset)
        if v is not None:
            data = schema.get_function_with_opset_version(v)
    if not data:
        return None
    f = onnx.FunctionProto()
    f.ParseFromString(data)
    return f


def schema_defaults(op, opset):
    """{attribute name: AttributeProto} of the defaults op's schema declares."""
    try:
        schema = defs.get_schema(op, opset, "")
    except defs.SchemaError:
        return {}
    return {k: a.default_value for k, a in schema.attributes.items()
            if a.default_value.type != 0}


def bind_attributes(body_node, caller, body, defaults):
    """A copy of a body node with its attribute references replaced by the caller node's
    attributes, else the function's or the schema's defaults (dropped where none exists:
    the body node's own default applies)."""
    refs = dict(defaults)
    refs.update({a.name: a for a in body.attribute_proto})
    refs.update({a.name: a for a in caller.attribute})
    out = onnx.NodeProto()
    out.CopyFrom(body_node)
    del out.attribute[:]
    for a in body_node.attribute:
        if a.ref_attr_name:
            src = refs.get(a.ref_attr_name)
            if src is None:
                continue
            b = onnx.AttributeProto()
            b.CopyFrom(src)
            b.name = a.name
            out.attribute.append(b)
        else:
            out.attribute.append(a)
    return out
