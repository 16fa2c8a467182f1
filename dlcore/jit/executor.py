"""The executor's Python face, and dlcore.jit's only door to the compiled core: it packs the
lowered steps into a C plan (dlcore/_C/plan.pxi, csrc/plan.c) and runs it.  A plan whose steps
are all C runs in one call with the GIL released; Python steps (ops with no C kernel yet) run
between C segments, on NumPy views of the same arena.
"""
import time

import numpy as np

from .. import _C
from . import reference

__all__ = ["Executable", "MAX_OPS", "MAX_INTS", "MAX_FLOATS", "MAX_DIMS", "ACT_KIND",
           "PlanError"]

MAX_OPS, MAX_INTS, MAX_FLOATS, MAX_DIMS = _C.PLAN_MAX_OPS, _C.PLAN_MAX_INTS, \
    _C.PLAN_MAX_FLOATS, 8
# the direct convolution's limits (csrc/include/dlcore/plan.h)
DIRECT_MAX_TAPS, DIRECT_MAX_FLOATS = _C.PLAN_DIRECT_MAX_TAPS, _C.PLAN_DIRECT_MAX_FLOATS
S2W_MAX_C, S2W_MAX_RS = _C.PLAN_S2W_MAX_C, _C.PLAN_S2W_MAX_RS
PlanError = _C.PlanError

# op codes (csrc/include/dlcore/plan.h)
(COPY, FILL, GEMM, CONV, CONV_T, ACT, SOFTMAX, BINARY, UNARY, LAYERNORM, SKIP_LAYERNORM, MAXPOOL,
 AVGPOOL, ADAPTIVE_AVGPOOL, ADAPTIVE_MAXPOOL, RESIZE, BATCHNORM, ATTENTION, RNN, GATHER, CAST,
 WHERE, REDUCE, CONV_GEMM, CONV_DIRECT, MBCONV) = range(1, 27)
# the int8 steps (lower_quant.py)
QLINEAR, QCONV, QADD, QUANTIZE, DEQUANTIZE, QAVGPOOL, QMAXPOOL = range(40, 47)
OP_NAMES = {v: k for k, v in dict(
    COPY=COPY, FILL=FILL, GEMM=GEMM, CONV=CONV, CONV_T=CONV_T, ACT=ACT, SOFTMAX=SOFTMAX,
    BINARY=BINARY, UNARY=UNARY, LAYERNORM=LAYERNORM, SKIP_LAYERNORM=SKIP_LAYERNORM,
    MAXPOOL=MAXPOOL, AVGPOOL=AVGPOOL, ADAPTIVE_AVGPOOL=ADAPTIVE_AVGPOOL,
    ADAPTIVE_MAXPOOL=ADAPTIVE_MAXPOOL, RESIZE=RESIZE, BATCHNORM=BATCHNORM, ATTENTION=ATTENTION,
    RNN=RNN, GATHER=GATHER, CAST=CAST, WHERE=WHERE, REDUCE=REDUCE,
    CONV_GEMM=CONV_GEMM, CONV_DIRECT=CONV_DIRECT, MBCONV=MBCONV, QLINEAR=QLINEAR, QCONV=QCONV,
    QADD=QADD,
    QUANTIZE=QUANTIZE, DEQUANTIZE=DEQUANTIZE, QAVGPOOL=QAVGPOOL, QMAXPOOL=QMAXPOOL).items()}
BIN = {"Add": 0, "Sub": 1, "Mul": 2, "Div": 3, "Max": 4, "Min": 5, "Pow": 6}
UNARY_OPS = {"Neg": 0, "Exp": 1, "Log": 2, "Log1p": 3, "Sqrt": 4, "Abs": 5, "Sin": 6, "Cos": 7}
RED = {"ReduceSum": 0, "ReduceMean": 1, "ReduceMax": 2, "ReduceMin": 3}
TYPE = {np.dtype(np.float32): 0, np.dtype(np.float64): 1, np.dtype(np.int64): 2,
        np.dtype(np.int32): 3, np.dtype(np.uint8): 4, np.dtype(np.bool_): 4}
ACT_KIND = {"Relu": _C.AF_RELU, "LeakyRelu": _C.AF_LEAKY_RELU, "Sigmoid": _C.AF_SIGMOID,
            "Tanh": _C.AF_TANH, "Silu": _C.AF_SILU, "Elu": _C.AF_ELU,
            "Softplus": _C.AF_SOFTPLUS, "Clip": _C.AF_HARDTANH, "HardSwish": _C.AF_HARDSWISH,
            "HardSigmoid": _C.AF_HARDSIGMOID, "Mish": _C.AF_MISH}
GELU, GELU_TANH = _C.AF_GELU, _C.AF_GELU_TANH
GEMM_ACT_RELU, GEMM_ACT_GELU, GEMM_ACT_RELU6 = _C.ACT_RELU, _C.ACT_GELU, _C.ACT_RELU6
BIAS_ROW, BIAS_COL = _C.BIAS_ROW, _C.BIAS_COL
ATTN_MASK_BOOL, ATTN_MASK_ADD = 1, 2
SLOT_CONST, SLOT_ARENA, SLOT_IO = 0, 1, 2


def qlinear_scratch_bytes(M, K):
    return int(_C.qlinear_plan_scratch(M, K))


def qrows_work_rows(M):
    """Rows of float work a QLINEAR step writing quantized rows uses (a chunk per thread)."""
    return int(_C.qrows_work_rows(M, _C.get_num_threads()))


def gemm_columns():
    """The fp32 GEMM's register-tile width on the SIMD path in use (16 on AVX2, 32 on AVX-512),
    read at each call so that dl.runtime.set_isa is followed."""
    return int(_C.plan_gemm_columns())


def rnn_work_floats(mode, batch_sizes, H, P):
    return int(_C.rnn_work_sizes(mode, np.ascontiguousarray(batch_sizes, np.int64), H, P)[0])


class Executable:
    """Steps packed for C.  Slot 0 is the arena; each constant array and each input/output
    position has its own slot; an operand is (slot, byte offset)."""

    def __init__(self, steps, bufs, arena_bytes, n_inputs, out_types):
        self.n_inputs = n_inputs
        self.out_types = [(tuple(s), np.dtype(d)) for s, d in out_types]
        kinds, io_index, arena_off, consts = [SLOT_ARENA], [-1], [0], [None]
        slot_of = {}
        for b in bufs:
            if b.kind == "arena":
                continue
            key = ("c", id(b.array)) if b.kind == "const" else ("io", b.io_index)
            if key in slot_of:
                continue
            slot_of[key] = len(kinds)
            kinds.append(SLOT_CONST if b.kind == "const" else SLOT_IO)
            io_index.append(b.io_index if b.kind == "io" else -1)
            arena_off.append(0)
            consts.append(b.array if b.kind == "const" else None)

        def locate(r):
            if r is None:
                return -1, 0
            b = r.buf
            off = r.offset * r.dtype.itemsize
            if b.kind == "arena":
                return 0, b.offset + off
            key = ("c", id(b.array)) if b.kind == "const" else ("io", b.io_index)
            return slot_of[key], off

        S = len(steps)
        ops = np.zeros(S, np.int32)
        slots = np.full((S, MAX_OPS), -1, np.int32)
        offs = np.zeros((S, MAX_OPS), np.int64)
        ints = np.zeros((S, MAX_INTS), np.int64)
        floats = np.zeros((S, MAX_FLOATS), np.float64)
        self.segments = []
        seg_start = 0
        for k, s in enumerate(steps):
            if s.op == "py":
                if seg_start < k:
                    self.segments.append(("c", seg_start, k))
                self.segments.append(("py", k, k + 1))
                seg_start = k + 1
                continue
            ops[k] = s.op
            for j, r in enumerate(s.operands):
                slots[k, j], offs[k, j] = locate(r)
            ints[k, :len(s.ints)] = s.ints
            floats[k, :len(s.floats)] = s.floats
        if seg_start < S:
            self.segments.append(("c", seg_start, S))
        self.steps = steps
        self.locate = locate
        self.all_c = all(kind == "c" for kind, _, _ in self.segments)
        self.cplan = _C.CPlan(ops, slots, offs, ints, floats, kinds, io_index, arena_off,
                              consts, int(arena_bytes), n_inputs + len(out_types))

    def run(self, arrays, nthreads=None):
        """Output arrays (new) for input arrays (checked by the caller: dtypes, shapes,
        C-contiguous)."""
        outs = [np.empty(s, d) for s, d in self.out_types]
        io = list(arrays) + outs
        nt = int(nthreads or 0)
        if self.all_c:
            self.cplan.run(io, nt)
            return outs
        handle, arena = self.cplan.acquire()
        try:
            for kind, b, e in self.segments:
                if kind == "c":
                    self.cplan.run(io, nt, b, e, handle)
                else:
                    self._python_step(self.steps[b], io, arena)
        finally:
            self.cplan.release(handle)
        return outs

    def run_sliced(self, arrays, nslices, nthreads, out_types):
        """Outputs of types out_types (the whole batch) for the whole batch's input arrays,
        this plan (made for one slice) run on each of nslices consecutive slices."""
        outs = [np.empty(s, d) for s, d in out_types]
        self.cplan.run_sliced(list(arrays) + outs, nslices, nthreads)
        return outs

    def step_times(self, arrays, repeats, nthreads=None, clock=time.perf_counter):
        """Each step run alone `repeats` times after one warm run of the whole plan: a list of
        (step index, label, [seconds per run])."""
        outs = [np.empty(s, d) for s, d in self.out_types]
        io = list(arrays) + outs
        nt = int(nthreads or 0)
        handle, arena = self.cplan.acquire()
        times = []
        try:
            for kind, b, e in self.segments:
                for k in range(b, e):
                    self._run_range(kind, k, io, nt, handle, arena)
            for k, s in enumerate(self.steps):
                kind = "py" if s.op == "py" else "c"
                ts = []
                for _ in range(max(1, repeats)):
                    t0 = clock()
                    self._run_range(kind, k, io, nt, handle, arena)
                    ts.append(clock() - t0)
                times.append((k, s.label, ts))
        finally:
            self.cplan.release(handle)
        return times

    def profile(self, arrays, repeats, nthreads=None):
        times = [(k, label, sorted(ts)[len(ts) // 2] * 1e3)
                 for k, label, ts in self.step_times(arrays, repeats, nthreads)]
        return sorted(times, key=lambda t: -t[2])

    def _run_range(self, kind, k, io, nt, handle, arena):
        if kind == "c":
            self.cplan.run(io, nt, k, k + 1, handle)
        else:
            self._python_step(self.steps[k], io, arena)

    def _array(self, r, io, arena):
        b = r.buf
        n = r.numel() * r.dtype.itemsize
        if b.kind == "const":
            return b.array.reshape(-1).view(np.uint8)[r.offset * r.dtype.itemsize:][:n] \
                .view(r.dtype).reshape(r.shape)
        base = arena[b.offset:b.offset + b.nbytes] if b.kind == "arena" else \
            io[b.io_index].reshape(-1).view(np.uint8)
        off = r.offset * r.dtype.itemsize
        return base[off:off + n].view(r.dtype).reshape(r.shape)

    def _python_step(self, step, io, arena):
        node = step.node
        n_in = len(node.inputs)
        # a Ref of a 0-d value may be laid out as (1,): the step sees the value's own shape
        ins = [None if r is None else self._array(r, io, arena).reshape(v.shape)
               for r, v in zip(step.operands[:n_in], node.inputs)]
        outs = reference.run_node(node, ins)
        for r, o in zip(step.operands[n_in:], outs):
            self._array(r, io, arena)[...] = o
