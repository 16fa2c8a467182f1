"""dlcore as an ONNX backend (onnx.backend.base), so that ONNX's own conformance runner
(onnx.backend.test) can run its node and model cases on dlcore:

    import onnx.backend.test
    suite = onnx.backend.test.BackendTest(DlcoreBackend, __name__)

`is_compatible(model)` says whether every op of a model has a converter; conformance.py
runs the runner over exactly those cases and counts the results."""
import numpy as np
import onnx
import onnx.backend.base as base

from .model import OnnxModel
from .plan import OnnxPlan
from .functions import expandable
from .registry import OPS

__all__ = ["DlcoreBackend", "DlcoreRep", "prepare", "run_model", "supports_device",
           "model_ops", "is_compatible"]


class DlcoreRep(base.BackendRep):
    """A prepared model: run(inputs) with a list (graph-input order), a dict by name, or one
    array; returns the outputs as a namedtuple-dict of NumPy arrays."""

    def __init__(self, plan):
        self.plan = plan

    def run(self, inputs, **kwargs):
        if isinstance(inputs, dict):
            outs = self.plan.run(**inputs)
        else:
            if isinstance(inputs, np.ndarray):
                inputs = [inputs]
            outs = self.plan.run(*inputs)
        return base.namedtupledict("Outputs", self.plan.output_names)(*outs)


class DlcoreBackend(base.Backend):
    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        if not cls.supports_device(device):
            raise ValueError("dlcore backend: device %r is not supported (CPU only)" % device)
        return DlcoreRep(OnnxPlan(OnnxModel(model), optimize=kwargs.get("optimize", True)))

    @classmethod
    def run_model(cls, model, inputs, device="CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node, inputs, device="CPU", outputs_info=None, **kwargs):
        """One node on `inputs` (arrays in the node's input order), through a one-node model."""
        ins = [onnx.helper.make_tensor_value_info(
            name, onnx.helper.np_dtype_to_tensor_dtype(np.asarray(x).dtype), np.shape(x))
            for name, x in zip(node.input, inputs)]
        outs = [onnx.helper.make_empty_tensor_value_info(name) for name in node.output]
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        model = onnx.helper.make_model(
            onnx.helper.make_graph([node], "node", ins, outs),
            opset_imports=[onnx.helper.make_opsetid("", opset)])
        return cls.run_model(model, [np.asarray(x) for x in inputs], device)

    @classmethod
    def supports_device(cls, device):
        return str(device).upper() == "CPU"

    @classmethod
    def is_compatible(cls, model, device="CPU", **kwargs):
        return cls.supports_device(device) and is_compatible(model)


def model_ops(model):
    """{(domain, op type)} of a model's nodes, subgraphs included."""
    ops = set()

    def walk(graph):
        for n in graph.node:
            ops.add((n.domain if n.domain not in ("", "ai.onnx") else "", n.op_type))
            for a in n.attribute:
                if a.HasField("g"):
                    walk(a.g)
                for g in a.graphs:
                    walk(g)
    walk(model.graph)
    return ops


def is_compatible(model):
    """Whether every op of `model` (a ModelProto) is one dlcore.onnx converts (itself, or
    through its ONNX function body)."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    return all(d == "" and (op in OPS or expandable(op, opset)) for d, op in model_ops(model))


prepare = DlcoreBackend.prepare
run_model = DlcoreBackend.run_model
supports_device = DlcoreBackend.supports_device
