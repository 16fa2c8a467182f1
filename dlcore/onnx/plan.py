"""`dl.onnx.load`'s result: a callable that runs an ONNX model on dlcore's executor.

For each set of input shapes it builds the IR graph (importer.py), optimizes and plans it with
dlcore.jit's passes and memory planner, and caches the executable plan; calls with the same
shapes reuse it.  Inputs go in the graph's order or by name; the result is a Tensor, or a
tuple of them when the graph has several outputs (as dl.jit.trace's modules return).
"""
import threading

import numpy as np

from ..jit import reference
from ..jit.plan import build_plan
from ..tensor_base import TensorBase, wrap
from . import narrow
from .errors import OnnxError
from .builder import NeedsValues
from .importer import build_graph

__all__ = ["OnnxPlan"]


class OnnxPlan:
    def __init__(self, model, optimize=True):
        self.model = model
        self.optimize = optimize
        self._plans = {}
        self._lock = threading.Lock()
        # inputs whose values (not only shapes) shape the graph: small ints/floats that feed a
        # Reshape target, axes, pads, ... (found while building; part of the plan's key)
        self.value_inputs = set()
        self._checked = set()   # (dtype, shape) per input of calls that passed the checks
        # sub-byte integer inputs take a range check on every call (narrow.py)
        self._narrow_in = any(s.narrow for s in model.inputs)
        self._narrow_out = any(model.output_narrow)

    @property
    def input_names(self):
        return [s.name for s in self.model.inputs]

    @property
    def output_names(self):
        return list(self.model.outputs)

    # ---- inputs --------------------------------------------------------------------------------
    def _arrays(self, args, kwargs, fname="onnx plan"):
        if not kwargs and len(args) == len(self.model.inputs) and not self._narrow_in:
            # the common call: arrays in order, with dtypes and shapes already seen and checked
            try:
                sig = tuple((a.dtype, a.shape) for a in args if a.flags.c_contiguous)
            except AttributeError:
                sig = None
            if sig in self._checked:
                return list(args)
        arrays = self._check(args, kwargs, fname)
        if len(self._checked) < 64:
            self._checked.add(tuple((a.dtype, a.shape) for a in arrays))
        return arrays

    def _check(self, args, kwargs, fname):
        specs = self.model.inputs
        names = [s.name for s in specs]
        if len(args) > len(specs):
            raise TypeError("%s: the model takes %d inputs (%s), got %d"
                            % (fname, len(specs), ", ".join(names), len(args)))
        given = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError("%s: no input named %r (inputs: %s)" % (fname, k,
                                                                          ", ".join(names)))
            if k in given:
                raise TypeError("%s: input %r given twice" % (fname, k))
            given[k] = v
        missing = [n for n in names if n not in given]
        if missing:
            raise TypeError("%s: missing input%s %s (inputs: %s)"
                            % (fname, "s" if len(missing) > 1 else "",
                               ", ".join(repr(m) for m in missing), ", ".join(names)))
        arrays, dims = [], {}
        for spec in specs:
            x = given[spec.name]
            a = x._data if isinstance(x, TensorBase) else x
            if not isinstance(a, np.ndarray):
                a = np.asarray(a, dtype=spec.dtype if not isinstance(a, np.generic) else None)
            if spec.narrow:
                a = narrow.to_carrier(a, spec.narrow, "%s: input %r" % (fname, spec.name))
            if a.dtype != spec.dtype:
                raise TypeError("%s: input %r must be %s, got %s"
                                % (fname, spec.name, spec.dtype.name, a.dtype.name))
            if a.ndim != len(spec.dims):
                raise ValueError("%s: input %r must be %d-D %s, got shape %s"
                                 % (fname, spec.name, len(spec.dims), _dims_str(spec.dims),
                                    a.shape))
            for ax, (want, got) in enumerate(zip(spec.dims, a.shape)):
                if isinstance(want, int) and want != got:
                    raise ValueError("%s: input %r must have size %d in dim %d %s, got shape "
                                     "%s" % (fname, spec.name, want, ax, _dims_str(spec.dims),
                                             a.shape))
                if isinstance(want, str):
                    if dims.setdefault(want, got) != got:
                        raise ValueError("%s: dim %r is %d in one input and %d in input %r"
                                         % (fname, want, dims[want], got, spec.name))
            arrays.append(a if a.flags.c_contiguous else np.array(a, order="C"))
        return arrays

    # ---- graphs and plans ----------------------------------------------------------------------
    def graph(self, *inputs, **named):
        """The imported IR graph (before the jit passes) for these inputs' shapes."""
        return self._build(self._arrays(inputs, named, "graph"))[0]

    def _build(self, arrays):
        """(graph, indices of the arrays the graph takes) for these inputs, learning which
        inputs must be fixed by value."""
        names = [s.name for s in self.model.inputs]
        for _ in range(len(names) + 1):
            values = {n: a for n, a in zip(names, arrays) if n in self.value_inputs}
            try:
                g = build_graph(self.model, [a.shape for a in arrays], values,
                                self.optimize)
            except NeedsValues as e:
                new = set(e.names) - self.value_inputs
                if not new:
                    raise
                self.value_inputs |= new
                continue
            return g, [i for i, n in enumerate(names) if n not in values]
        raise OnnxError("onnx plan: could not settle which inputs fix the graph")

    def _key(self, arrays):
        names = [s.name for s in self.model.inputs]
        return tuple(a.shape if n not in self.value_inputs else
                     (a.shape, a.dtype.str, a.tobytes()) for n, a in zip(names, arrays))

    def _plan_for(self, arrays):
        """(plan or reference graph, indices of the arrays it takes)."""
        key = self._key(arrays)
        p = self._plans.get(key)
        if p is None:
            with self._lock:
                p = self._plans.get(key)
                if p is None:
                    g, used = self._build(arrays)
                    key = self._key(arrays)  # value_inputs may have grown
                    p = (g if self.optimize is None else
                         build_plan(g, {}, optimize=self.optimize), used)
                    self._plans[key] = p
        return p

    def plan(self, *inputs, **named):
        """The optimized, memory-planned executable for these inputs' shapes
        (print it to see its steps)."""
        return self._plan_for(self._arrays(inputs, named, "plan"))[0]

    # ---- running -------------------------------------------------------------------------------
    def run(self, *inputs, num_threads=None, **named):
        """The outputs as a list of NumPy arrays (sub-byte integer outputs in the ml_dtypes
        type onnx gives them: ml_dtypes.int4, ...)."""
        outs = self._run(inputs, named, num_threads)
        if self._narrow_out:
            outs = [o if nar is None else narrow.from_carrier(o, nar)
                    for o, nar in zip(outs, self.model.output_narrow)]
        return outs

    def _run(self, inputs, named, num_threads):
        arrays = self._arrays(inputs, named)
        p, used = self._plan_for(arrays)
        arrays = [arrays[i] for i in used]
        if self.optimize is None:
            outs = reference.run_graph(p, arrays)
        else:
            try:
                outs = p.run(arrays, num_threads)
            except MemoryError:
                raise
            except RuntimeError as e:  # a kernel's own check (e.g. a Gather index out of range)
                raise OnnxError("onnx plan: %s" % e) from None
        return outs

    def __call__(self, *inputs, num_threads=None, **named):
        # sub-byte integer outputs stay in their int8/uint8 carrier: dlcore has no int4 dtype
        outs = [wrap(o) for o in self._run(inputs, named, num_threads)]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def __repr__(self):
        m = self.model
        return "OnnxPlan(opset %d, %d nodes; inputs %s; outputs %s)" % (
            m.opset, len(m.graph.node), ", ".join(repr(s) for s in m.inputs),
            ", ".join(m.outputs))


def _dims_str(dims):
    return "(%s)" % ", ".join("?" if d is None else str(d) for d in dims)
