"""Control flow decided at run time, as Python steps of a plan.

An ONNX If whose condition depends on input data cannot be folded into one flat plan: each
branch becomes a graph of its own (subgraph.separate), planned with the jit passes the first
time it runs and cached, and the If node becomes a `PyFunction` step of `IfFn` that runs the
chosen branch's plan on the captured values.  The graph's printout shows
these steps as PyFunction with op='If'.
A Loop whose trip count or condition is only known at run time runs its body's plan the same
way (`LoopFn`), under a bound on iterations and on the bytes its scan outputs may take.
"""
import threading

import numpy as np

from ..autograd import Function
from ..jit import reference
from ..jit.plan import build_plan
from .errors import OnnxError

__all__ = ["SubPlan", "IfFn", "LoopFn", "MAX_LOOP_ITERATIONS"]

# a run-time Loop stops with an error past this many iterations (a hostile trip count or a
# condition that never turns false must not hang the process)
MAX_LOOP_ITERATIONS = 1 << 20


class SubPlan:
    """An IR graph planned on first use (thread-safe) and run on arrays; `optimize` is the
    enclosing OnnxPlan's (True/False: jit's passes on or off; None: the IR's reference
    interpreter, no plan)."""

    def __init__(self, graph, what, optimize=True):
        self.graph, self.what, self.optimize = graph, what, optimize
        self._plan = None
        self._lock = threading.Lock()

    def run(self, arrays):
        if self.optimize is None:
            return [np.asarray(o) for o in reference.run_graph(self.graph, list(arrays))]
        p = self._plan
        if p is None:
            with self._lock:
                if self._plan is None:
                    self._plan = build_plan(self.graph, {}, optimize=self.optimize)
                p = self._plan
        try:
            return [np.asarray(o) for o in p.run(list(arrays), None)]
        except RuntimeError as e:
            raise OnnxError("%s: %s" % (self.what, e)) from None

    def __repr__(self):
        return "SubPlan(%s)" % self.what


def _flag(c, what):
    c = np.asarray(c)
    if c.size != 1:
        raise OnnxError("%s: the condition must hold one value, got shape %s" % (what, c.shape))
    return bool(c.reshape(-1)[0])


class IfFn(Function):
    """forward(cond, *captured, branches, takes, what): runs branches[0] (then) or
    branches[1] (else) on the captured arrays each takes (indices into `captured`)."""

    def forward(self, cond, *captured, branches, takes, what, op="If"):
        k = 0 if _flag(cond, what) else 1
        outs = branches[k].run([captured[i] for i in takes[k]])
        return tuple(outs) if len(outs) > 1 else outs[0]


class LoopFn(Function):
    """forward(trip, cond, *state_and_captured, body, n_state, n_scan, scan_types, max_bytes,
    what): ONNX Loop semantics on the body's plan (inputs: iteration, cond, state...,
    captured...; outputs: cond, state..., scan outputs...)."""

    def forward(self, trip, cond, *rest, body, n_state, n_scan, scan_types, max_bytes, what,
                op="Loop"):
        state, captured = list(rest[:n_state]), list(rest[n_state:])
        limit = MAX_LOOP_ITERATIONS if trip is None else int(np.asarray(trip).reshape(-1)[0])
        if trip is not None and limit > MAX_LOOP_ITERATIONS:
            raise OnnxError("%s: trip count %d is over the limit of %d iterations"
                            % (what, limit, MAX_LOOP_ITERATIONS))
        go = True if cond is None else _flag(cond, what)
        per_iter = sum(int(np.prod(s, dtype=np.int64)) * np.dtype(d).itemsize
                       for s, d in scan_types)
        scans = [[] for _ in range(n_scan)]
        i = 0
        while go and i < limit:
            outs = body.run([np.asarray(i, np.int64), np.asarray(go)] + state + captured)
            go = _flag(outs[0], what)
            state = outs[1:1 + n_state]
            for s, o in zip(scans, outs[1 + n_state:]):
                s.append(o)
            i += 1
            if per_iter * i > max_bytes:
                raise OnnxError("%s: the scan outputs pass %s bytes after %d iterations (the "
                                "max_bytes limit)" % (what, format(max_bytes, ","), i))
            if trip is None and cond is not None and i >= MAX_LOOP_ITERATIONS and go:
                raise OnnxError("%s: the loop ran %d iterations without its condition turning "
                                "false" % (what, i))
        outs = state + [np.stack(s) if s else np.zeros((0,) + tuple(t[0]), t[1])
                        for s, t in zip(scans, scan_types)]
        return tuple(outs) if len(outs) > 1 else outs[0]
