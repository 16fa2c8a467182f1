"""The traced module: `dl.jit.trace(model, example_inputs)` returns one.

It holds the traced (symbolic) graph and, per set of concrete dim sizes, an optimized and
memory-planned executable plan (built on first use, then cached).  Calling it checks the
inputs against the trace (count, dtype, rank, static sizes), picks or builds the plan for the
dynamic sizes, runs it and returns Tensors nested as the model returned them.
"""
import threading

import numpy as np

from ..tensor_base import TensorBase, wrap
from . import reference
from .symbolic import Dim
from .tracer import unflatten

__all__ = ["TracedModule"]


class TracedModule:
    # plans kept per set of dim sizes; beyond this the least recently built goes (each holds
    # its constants' packed copies and a pool of arenas)
    MAX_PLANS = 16

    def __init__(self, graph, plan_builder=None):
        self.graph = graph
        self._builder = plan_builder
        self._plans = {}
        self._lock = threading.Lock()

    # ---- inputs ----------------------------------------------------------------------------
    def _arrays(self, inputs, fname="TracedModule"):
        g = self.graph
        if len(inputs) != len(g.inputs):
            raise TypeError("%s: expected %d inputs (as traced), got %d"
                            % (fname, len(g.inputs), len(inputs)))
        arrays, env = [], {}
        for i, (x, v) in enumerate(zip(inputs, g.inputs)):
            a = x._data if isinstance(x, TensorBase) else x
            if not isinstance(a, np.ndarray):
                a = np.asarray(a)
            if a.dtype != v.dtype:
                raise TypeError("%s: input %d must be %s (as traced), got %s"
                                % (fname, i, v.dtype, a.dtype))
            if a.ndim != len(v.shape):
                raise ValueError("%s: input %d must be %d-D %s (as traced), got shape %s"
                                 % (fname, i, len(v.shape), _shape_str(v.shape), a.shape))
            for ax, (want, got) in enumerate(zip(v.shape, a.shape)):
                if isinstance(want, Dim):
                    name = next(iter(want.symbols()))
                    size = (got - want.offset) // want.coef
                    if size < 1 or want.eval({name: size}) != got:
                        raise ValueError("%s: input %d dim %d must be %s, got %d"
                                         % (fname, i, ax, want, got))
                    if env.setdefault(name, size) != size:
                        raise ValueError("%s: dim %r is %d in one input and %d in input %d "
                                         "(dim %d)" % (fname, name, env[name], size, i, ax))
                elif want != got:
                    raise ValueError("%s: input %d dim %d is static (traced as %d), got %d; "
                                     "trace with dynamic_axes to vary it"
                                     % (fname, i, ax, want, got))
            if not a.flags.c_contiguous:
                a = np.ascontiguousarray(a)
            arrays.append(a)
        return arrays, env

    def plan(self, *example_inputs, env=None):
        """The executable plan for these inputs' sizes (or for dim sizes `env`)."""
        if env is None:
            _, env = self._arrays(example_inputs, "plan")
        key = tuple(sorted(env.items()))
        p = self._plans.get(key)
        if p is None:
            with self._lock:
                p = self._plans.get(key)
                if p is None:
                    p = self._builder(self.graph, env)
                    if len(self._plans) >= self.MAX_PLANS:
                        self._plans.pop(next(iter(self._plans)))
                    self._plans[key] = p
        return p

    def __call__(self, *inputs, num_threads=None):
        arrays, env = self._arrays(inputs)
        if self._builder is None:
            outs = reference.run_graph(self.graph.concretize(env), arrays)
        else:
            key = tuple(sorted(env.items()))
            p = self._plans.get(key)
            if p is None:
                p = self.plan(env=env)
            outs = p.run(arrays, num_threads)
        return self._pack(outs)

    def run_numpy(self, *inputs, num_threads=None):
        """Like calling the module, with NumPy arrays out (a flat list, no nesting)."""
        arrays, env = self._arrays(inputs)
        return self.plan(env=env).run(arrays, num_threads)

    def _pack(self, outs):
        tensors = [wrap(o) for o in outs]
        tree = self.graph.output_tree
        if tree == "leaf":
            return tensors[0]
        return unflatten(tree, tensors)

    def __str__(self):
        return str(self.graph)

    def __repr__(self):
        return "TracedModule(%d nodes, inputs %s)" % (
            len(self.graph.nodes), ", ".join(v.type_str() for v in self.graph.inputs))


def _shape_str(shape):
    return "(%s)" % ", ".join(str(s) for s in shape)
