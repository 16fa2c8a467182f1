"""A plan: the graph at concrete sizes, optimized by the passes, lowered to steps, its arena
laid out, packed for the C executor.  `print(plan)` lists the steps, where each buffer lives,
which steps (if any) run in Python, and the arena size next to eager mode's peak."""
import threading

import numpy as np

from ..runtime import get_num_threads, threads_for_load
from . import passes
from .batch_split import split_dim
from .cache_slices import cache_slices, macs_per_byte
from .executor import OP_NAMES, Executable
from .lower_ops import lower_node
from .lowering import Lowerer
from .memory import assign_offsets, eager_peak_bytes, liveness

__all__ = ["Plan", "build_plan"]


class Plan:
    def __init__(self, graph, env, optimize=True):
        self.env = dict(env)
        self._symbolic, self._optimize = graph, optimize
        # the dim whose slices are independent (batch_split.py), and the plans for a slice
        self.split_dim = split_dim(graph)
        self._slice_plans = {}
        self._slice_lock = threading.Lock()
        self.source = graph.concretize(env)
        g = self.source.copy()
        self.pass_log = []
        if optimize:
            passes.optimize(g, self.pass_log)
        self.graph = g
        self.macs_per_byte = macs_per_byte(g) if self.split_dim is not None else None
        low = Lowerer(g).run(lower_node)
        self.steps = low.steps
        liveness(self.steps, low.bufs)
        self.arena_bytes = assign_offsets(low.bufs)
        self.bufs = low.bufs
        self.fallbacks = low.fallbacks
        self.eager_peak_bytes = eager_peak_bytes(self.source)
        self.unshared_bytes = sum(b.nbytes for b in low.bufs if b.kind == "arena"
                                  and b.first >= 0)
        # kernel workspace (im2col tiles, attention row sums, RNN gates): eager mode has the
        # same inside its kernels, not in eager_peak_bytes
        self.workspace_bytes = max([b.nbytes for b in low.bufs if b.kind == "arena" and
                                    b.name in ("im2col", "lse", "rnn_work")] or [0])
        self.exe = Executable(self.steps, low.bufs, self.arena_bytes, len(g.inputs),
                              [(v.shape, v.dtype) for v in g.outputs])

    @property
    def n_python_steps(self):
        return sum(1 for s in self.steps if s.op == "py")

    def run(self, arrays, num_threads=None):
        """Output arrays for input arrays (C-contiguous, of the planned dtypes and shapes).
        At several threads, a batch whose samples the graph never mixes runs as one slice per
        thread, each single-threaded (see slice_plan); a memory-bound one (MobileNetV2) runs
        as slices small enough to keep their intermediates in cache, at any thread count
        (cache_slices.py; ResNet-18, whose Winograd convolutions gain from more images per
        product, measured 17% slower in such slices)."""
        if self.split_dim is None:  # nothing to slice (a third of a 1-step plan's call)
            return self.exe.run(arrays, num_threads)
        threads = int(num_threads or get_num_threads())
        # a memory-bound graph (cache_slices.py) runs in slices that keep its intermediates
        # in cache, at one thread too, the threads taking slices as they come free
        n = 1 if self.split_dim is None else cache_slices(
            self.env.get(self.split_dim, 0), self.arena_bytes, self.macs_per_byte, threads)
        # slices only for threads the machine has room for: on an oversubscribed one the
        # caller ends up running every slice itself, each at the slice plan's size (MLP b32
        # at two threads under load: 0.19 ms as two slices of 16 rows, 0.156 ms whole)
        n = n if n > 1 else threads if threads < 2 or self.split_dim is None \
            else threads_for_load(threads)
        sub = self.slice_plan(n)
        if sub is not None:
            return sub.exe.run_sliced(arrays, n, threads, self.exe.out_types)
        return self.exe.run(arrays, num_threads)

    def slice_plan(self, nslices):
        """The plan for 1/nslices of the batch, run on the slices side by side, or None when
        the graph's samples are not independent (batch_split.py), the batch does not split
        into nslices equal slices, or the slice plan has Python steps."""
        if nslices < 2 or self.split_dim is None:
            return None
        size = self.env.get(self.split_dim, 0)
        if size < nslices or size % nslices:
            return None
        sub = self._slice_plans.get(nslices)
        if sub is None:
            with self._slice_lock:
                sub = self._slice_plans.get(nslices)
                if sub is None:
                    env = dict(self.env)
                    env[self.split_dim] = size // nslices
                    sub = Plan(self._symbolic, env, self._optimize)
                    sub = sub if sub.exe.all_c else False
                    self._slice_plans[nslices] = sub
        return sub or None

    def profile(self, arrays, repeats=10, num_threads=None):
        """[(step index, label, median ms)] timing each step on its own (after one full run
        fills the arena), slowest first: where a plan spends its time."""
        return self.exe.profile([np.ascontiguousarray(a) for a in arrays], repeats,
                                num_threads)

    def __call__(self, *arrays, num_threads=None):
        return self.run([np.ascontiguousarray(a) for a in arrays], num_threads)

    def _where(self, r):
        if r is None:
            return "_"
        b = r.buf
        if b.kind == "const":
            place = b.name or "const"
        elif b.kind == "io":
            place = ("in%d" % b.io_index) if b.io_index < len(self.graph.inputs) else \
                ("out%d" % (b.io_index - len(self.graph.inputs)))
            if r.offset:
                place += "+%d" % (r.offset * r.dtype.itemsize)
        else:
            place = "@%d" % (b.offset + r.offset * r.dtype.itemsize)
        view = "" if r.contiguous else "~"
        return "%s%s[%s]" % (place, view, ",".join(str(s) for s in r.shape))

    def __str__(self):
        dims = ", ".join("%s=%d" % kv for kv in sorted(self.env.items())) or "static sizes"
        n_py = self.n_python_steps
        lines = ["plan (%s): %d steps, %d in C%s; arena %s bytes incl. %s of kernel workspace "
                 "(eager peak %s, %s without reuse)" % (
                     dims, len(self.steps), len(self.steps) - n_py,
                     "" if not n_py else ", %d in Python (%s)" % (
                         n_py, ", ".join(sorted(set(self.fallbacks)))),
                     format(self.arena_bytes, ","), format(self.workspace_bytes, ","),
                     format(self.eager_peak_bytes, ","), format(self.unshared_bytes, ","))]
        if self.split_dim is not None:
            lines.append("  (at n threads, a %s divisible by n runs as n slices, one per thread)"
                         % self.split_dim)
        for k, s in enumerate(self.steps):
            kind = "py" if s.op == "py" else OP_NAMES.get(s.op, str(s.op))
            outs = set(s.outputs)
            ins = [self._where(r) for j, r in enumerate(s.operands) if j not in outs
                   and r is not None]
            res = [self._where(s.operands[j]) for j in s.outputs if s.operands[j] is not None]
            extra = ""
            if s.node is not None and s.node.attrs.get("activation"):
                extra = " +%s" % s.node.attrs["activation"]
            lines.append("  %3d %-5s %-22s %s -> %s%s%s" % (
                k, "[py]" if s.op == "py" else "", s.label, ", ".join(ins), ", ".join(res),
                extra, "" if s.op == "py" else "  (%s)" % kind))
        return "\n".join(lines)


def build_plan(graph, env, optimize=True):
    return Plan(graph, env, optimize)
