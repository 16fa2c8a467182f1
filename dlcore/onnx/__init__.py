"""dlcore.onnx: run ONNX models on dlcore's executor, and write traced dlcore models as ONNX.

    plan = dl.onnx.load("model.onnx")        # parsed and checked by the `onnx` package
    y = plan(x)                              # NumPy arrays or Tensors, in input order or by name
    print(plan.plan(x))                      # the optimized plan for x's shapes

    dl.onnx.export(model, example_inputs, "model.onnx")   # dl.jit.trace -> ONNX (opset 17+)

Needs the optional `onnx` package (pip install "dlcore[onnx]").  `supported_ops()` lists the
ONNX ops the importer converts, with the first opset each is read from.
"""
import onnx  # noqa: F401  (the optional dependency: a clear ImportError here when missing)

from .errors import OnnxError, UnsupportedOpError
from .export import ExportError, export
from .functions import expandable
from .model import OnnxModel
from .plan import OnnxPlan
from .reader import DEFAULT_MAX_BYTES
from .registry import OPS, supported_ops

__all__ = ["load", "export", "OnnxPlan", "OnnxError", "UnsupportedOpError", "ExportError",
           "supported_ops"]


def load(source, optimize=True, max_bytes=DEFAULT_MAX_BYTES, check=True):
    """A callable plan for the ONNX model at `source` (a path, bytes or an onnx.ModelProto).

    The file is checked (onnx.checker, strict shape inference, every tensor's size against
    its data, external data inside the model's folder) and each op converted to dlcore's IR;
    anything wrong or unsupported raises OnnxError / UnsupportedOpError naming the node, op
    and opset.  No single tensor may exceed `max_bytes` (4 GiB by default).  optimize=False
    plans without the jit passes; optimize=None runs the reference interpreter (debugging).
    """
    if not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError("onnx.load: max_bytes must be a positive int, got %r" % (max_bytes,))
    model = OnnxModel(source, max_bytes=max_bytes, check=check)
    plan = OnnxPlan(model, optimize=optimize)
    _check_convertible(plan)
    return plan


def _check_convertible(plan):
    """Fails fast on ops dlcore does not implement (before the first call builds a graph),
    in the graph and in its subgraphs (If branches, Loop and Scan bodies)."""
    for where, i, n in _nodes(plan.model.graph, ""):
        if n.domain in ("", "ai.onnx") and n.op_type not in OPS and \
                not expandable(n.op_type, plan.model.opset):
            raise UnsupportedOpError("%snode %d (%s%s, opset %d): ONNX op %r (opset %d) is not "
                                     "supported by dlcore.onnx"
                                     % (where, i, n.op_type, " %r" % n.name if n.name else "",
                                        plan.model.opset, n.op_type, plan.model.opset))
        if n.domain not in ("", "ai.onnx"):
            raise UnsupportedOpError("%snode %d (%s): ops of domain %r are not supported (dlcore "
                                     "runs the default ai.onnx domain)"
                                     % (where, i, n.op_type, n.domain))


def _nodes(graph, where, depth=0):
    """(where prefix, index, NodeProto) of graph's nodes and its subgraphs' (bounded depth:
    the importer reports deeper nesting)."""
    for i, n in enumerate(graph.node):
        yield where, i, n
        if depth < 32:
            for a in n.attribute:
                for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                    yield from _nodes(g, "%snode %d (%s): %s: " % (where, i, n.op_type, a.name),
                                      depth + 1)
