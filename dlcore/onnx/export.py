"""dl.onnx.export: a dlcore model, traced by dl.jit.trace, written as an ONNX file that ONNX
Runtime (or dl.onnx.load) runs with the same outputs.

The traced graph is written before the optimizing passes (plain ops, not fused kernels);
constants it computed from parameters are folded first; dynamic dims (the batch axis by
default) become named ONNX dims and every size that follows them is computed from the input
shapes in the file."""
import os
import tempfile

import numpy as np
import onnx
from onnx import helper

from .. import __version__
from ..jit import TracedModule, trace
from ..jit.reference import run_node
from ..jit.symbolic import Dim, has_symbols
from .export_args import check_torch_switches, dynamic_from_names, flatten, split_args
from .export_ops import WRITERS
from .export_writer import ExportError, Writer, value_info

__all__ = ["export", "ExportError", "MIN_OPSET"]

MIN_OPSET = 17


def _fold_constants(g):
    """Nodes whose inputs are all constants (views and casts of parameters, masks built from
    sizes) become constants."""
    for node in list(g.nodes):
        if node.op == "PyFunction" or not node.inputs or has_symbols(node.attrs):
            continue
        if any(v is not None and not v.is_const for v in node.inputs):
            continue
        outs = run_node(node, [None if v is None else v.data for v in node.inputs])
        for v, arr in zip(node.outputs, outs):
            c = g.const(np.array(arr), v.name.replace("%", "c"))
            g.replace_uses(v, c)
        g.nodes.remove(node)


def _dim_sources(g, names):
    """{dim name: (input name, axis)} where a graph input's size is exactly that dim."""
    src = {}
    for v, name in zip(g.inputs, names):
        for ax, s in enumerate(v.shape):
            if isinstance(s, Dim) and s.coef == 1 and s.offset == 0 and len(s.powers) == 1 \
                    and s.powers[0][1] == 1:
                src.setdefault(s.powers[0][0], (name, ax))
    return src


def _names(given, n, default, what):
    if given is None:
        return [default] if n == 1 else ["%s%d" % (default, i) for i in range(n)]
    given = list(given)
    if len(given) != n or len(set(given)) != n or not all(isinstance(s, str) and s
                                                          for s in given):
        raise ValueError("export: %s must be %d distinct non-empty strings, got %r"
                         % (what, n, given))
    return given


def to_model(traced, opset=MIN_OPSET, input_names=None, output_names=None):
    """The ONNX ModelProto of a TracedModule's graph."""
    latest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or not MIN_OPSET <= opset <= latest:
        raise ValueError("export: opset must be an int from %d to %d (the installed onnx's "
                         "latest), got %r" % (MIN_OPSET, latest, opset))
    g = traced.graph.copy()
    _fold_constants(g)
    in_names = _names(input_names, len(g.inputs), "input", "input_names")
    out_names = _names(output_names, len(g.outputs), "output", "output_names")
    w = Writer(opset, _dim_sources(g, in_names))
    for n in in_names + out_names:
        w.used.add(n)
    for v, n in zip(g.inputs, in_names):
        w.bind(v, n)
    late = []
    for v, n in zip(g.outputs, out_names):
        if id(v) in w.names or v.is_const:
            late.append((v, n))
        else:
            w.bind(v, n)
    for node in g.nodes:
        f = WRITERS.get(node.op)
        if f is None:
            what = node.attrs.get("fn").__name__ if node.op == "PyFunction" else node.op
            raise ExportError("export: op %r has no ONNX form in dlcore's exporter (%s)"
                              % (node.op, what))
        f(w, node)
    for v, n in late:
        w.node("Identity", [w.name(v)], outputs=[n])
    graph = helper.make_graph(
        w.nodes, "dlcore", [value_info(n, v.dtype, v.shape) for v, n in zip(g.inputs, in_names)],
        [value_info(n, v.dtype, v.shape) for v, n in zip(g.outputs, out_names)],
        initializer=w.inits)
    ops = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=ops, producer_name="dlcore",
                              producer_version=__version__)
    model.ir_version = helper.find_min_ir_version_for(ops)
    return model


def export(model, example_inputs=(), path=None, dynamic_axes=None, opset=None, input_names=None,
           output_names=None, check=True, *, kwargs=None, opset_version=None, **torch_switches):
    """Traces `model` on `example_inputs` (dl.jit.trace; a TracedModule is used as it is) and
    writes it to `path` as ONNX.  Returns the ModelProto.  With `check`, the model goes through
    onnx.checker and strict shape inference before it is written; the file is written to a
    temporary name and renamed into place.

    torch.onnx.export's calls work too: example inputs nested in tuples/lists/dicts (flattened
    into graph inputs in order; a dict last holds keyword arguments), `opset_version`, and
    dynamic_axes keyed by input/output name ({"input": {0: "batch"}}: only the named axes are
    dynamic).  dlcore's own dynamic_axes (None: axis 0 of the inputs is the dynamic "batch"
    dim) are as dl.jit.trace takes them."""
    check_torch_switches(torch_switches)
    if path is None:
        raise TypeError("export: a path to write the model to is required")
    if opset is not None and opset_version is not None and opset != opset_version:
        raise ValueError("export: opset=%r and opset_version=%r disagree" % (opset, opset_version))
    opset = opset if opset is not None else (opset_version if opset_version is not None
                                             else MIN_OPSET)
    if isinstance(model, TracedModule):
        traced = model
    else:
        args, kw = split_args(example_inputs, kwargs)
        flat, rebuild = flatten((args, kw))
        dynamic_axes = dynamic_from_names(dynamic_axes, input_names, output_names, len(flat))
        if len(flat) == len(args) and not kw:
            traced = trace(model, tuple(args), dynamic_axes=dynamic_axes)
        else:  # nested inputs: trace a function of the flat list that rebuilds the structure
            def call(*values):
                a, k = rebuild(values)
                return model(*a, **k)
            was_training = getattr(model, "training", False)
            if was_training:
                model.eval()
            try:
                traced = trace(call, tuple(flat), dynamic_axes=dynamic_axes)
            finally:
                if was_training:
                    model.train(True)
    proto = to_model(traced, opset, input_names, output_names)
    if check:
        onnx.checker.check_model(proto, full_check=True)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".dlcore-export-", suffix=".onnx", dir=folder)
    os.close(fd)
    try:
        onnx.save_model(proto, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return proto
