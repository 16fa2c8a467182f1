"""dlcore.jit: capture a model as a graph, optimize and plan it, run it with no Python per op.

    traced = dl.jit.trace(model, example_inputs)          # dynamic batch dim by default
    y = traced(x)                                          # same outputs as model(x), eval mode
    print(traced.graph)                                    # the captured graph
    print(traced.plan(x))                                  # the optimized plan for x's sizes

See docs/jit.md for the IR, the passes and the executor.
"""
import numpy as np

from ..tensor_base import TensorBase
from .ir import Graph, Node, Value
from .module import TracedModule
from .plan import Plan, build_plan
from .symbolic import Dim
from .tracer import TraceError, trace_graph

__all__ = ["trace", "TracedModule", "TraceError", "Graph", "Node", "Value", "Dim", "Plan",
           "build_plan"]


def _as_arrays(example_inputs):
    if isinstance(example_inputs, (TensorBase, np.ndarray)):
        example_inputs = (example_inputs,)
    if not isinstance(example_inputs, (tuple, list)):
        raise TypeError("trace: example_inputs must be a Tensor, an array or a tuple of them, "
                        "got %s" % type(example_inputs).__name__)
    arrays = []
    for i, x in enumerate(example_inputs):
        a = x._data if isinstance(x, TensorBase) else x
        if not isinstance(a, np.ndarray):
            raise TypeError("trace: example input %d must be a Tensor or an array, got %s"
                            % (i, type(x).__name__))
        arrays.append(np.ascontiguousarray(a))
    return arrays


def _dynamic(arrays, dynamic_axes):
    """{dim name: [(input index, axis)]} from trace's dynamic_axes argument."""
    if dynamic_axes is None:
        if not arrays or arrays[0].ndim == 0:
            return {}
        b = arrays[0].shape[0]
        return {"batch": [(i, 0) for i, a in enumerate(arrays) if a.ndim and a.shape[0] == b]}
    if dynamic_axes is False:
        return {}
    if isinstance(dynamic_axes, dict) and all(isinstance(v, str)
                                              for v in dynamic_axes.values()):
        dynamic_axes = [dynamic_axes]
    if isinstance(dynamic_axes, dict):
        items = list(dynamic_axes.items())
    elif isinstance(dynamic_axes, (list, tuple)):
        items = list(enumerate(dynamic_axes))
    else:
        raise TypeError("trace: dynamic_axes must be None, False, {axis: name}, a list of "
                        "them (one per input) or {input index: {axis: name}}, got %r"
                        % (dynamic_axes,))
    out = {}
    for i, axes in items:
        if axes is None:
            continue
        if not isinstance(i, int) or not 0 <= i < len(arrays):
            raise ValueError("trace: dynamic_axes names input %r; there are %d inputs"
                             % (i, len(arrays)))
        for ax, name in dict(axes).items():
            nd = arrays[i].ndim
            if not isinstance(ax, int) or not -nd <= ax < nd:
                raise ValueError("trace: dynamic axis %r of input %d is out of range for its "
                                 "%d dims" % (ax, i, nd))
            if not isinstance(name, str) or not name:
                raise TypeError("trace: dynamic dims are named by strings, got %r" % (name,))
            out.setdefault(name, []).append((i, ax % nd))
    for name, axes in out.items():
        sizes = {arrays[i].shape[ax] for i, ax in axes}
        if len(sizes) > 1:
            raise ValueError("trace: dynamic dim %r has different sizes %s in the example "
                             "inputs" % (name, sorted(sizes)))
        if sizes == {0}:
            raise ValueError("trace: dynamic dim %r is 0 in the example inputs" % name)
    return out


def trace(model, example_inputs, dynamic_axes=None, optimize=True):
    """Capture `model` (a callable of Tensors, usually an nn.Module; run in eval mode and
    without gradients) as a graph, and return a TracedModule that runs it.

    dynamic_axes: None (axis 0 of the inputs is the dynamic dim "batch"), False (every size
    static), {axis: name} for one input, or a list of such dicts (one per input; None for
    none) or {input index: {axis: name}}.  Inputs may then change those sizes; anything else
    (count, dtype, rank, other sizes) must match the example and raises otherwise.
    Python control flow runs once and is baked in; data-dependent branches are not followed.
    optimize=False plans the recorded graph without the passes; optimize=None runs it in the
    reference interpreter (node by node in Python: for debugging).
    """
    arrays = _as_arrays(example_inputs)
    dyn = _dynamic(arrays, dynamic_axes)
    was_training = getattr(model, "training", None)
    if was_training:
        model.eval()
    try:
        graph = trace_graph(model, arrays, dyn)
    finally:
        if was_training:
            model.train(True)
    if optimize is None:
        return TracedModule(graph, None)
    opt = bool(optimize)
    return TracedModule(graph, lambda g, env: build_plan(g, env, optimize=opt))
