"""Lowering: a concrete, optimized graph becomes a flat list of steps over buffers.

Each value gets a Ref (views.py).  View ops (Reshape, Transpose, Slice, Expand, View,
Identity) make new Refs of their input's Buf with no step; a reader whose kernel needs
contiguous data gets one Copy step the first time.  Compute nodes become one C step each
(lower_ops.py) or, with no C kernel for them, a Python step that runs the reference op.
Outputs of elementwise steps reuse their input's buffer when that input dies there
(in-place).  Graph outputs are written straight into the caller's output arrays.
"""
import numpy as np

from . import executor as X
from .shared_consts import shared
from .views import Buf, Ref, broadcast_strides, contiguous_strides, merge_dims, reshape_strides

__all__ = ["Step", "Lowerer"]


class Step:
    __slots__ = ("op", "operands", "ints", "floats", "node", "label", "outputs")

    def __init__(self, op, operands, ints=(), floats=(), node=None, label="", outputs=()):
        self.op = op                # an executor op code, or "py"
        self.operands = list(operands)
        self.ints = list(ints)
        self.floats = list(floats)
        self.node = node            # the graph node it runs (None for copies)
        self.label = label
        self.outputs = list(outputs)  # operand positions it writes (for printing, liveness)


class Lowerer:
    def __init__(self, graph):
        self.g = graph
        self.steps = []
        self.refs = {}
        self.contig = {}
        self.consts = {}
        self.bufs = []
        self.fallbacks = []
        n_in = len(graph.inputs)
        self.n_io = n_in + len(graph.outputs)
        self.last_use = {}
        for k, node in enumerate(graph.nodes):
            for v in node.inputs:
                if v is not None:
                    self.last_use[id(v)] = k
        self.is_output = {id(v) for v in graph.outputs}
        self._live = {}  # id(buf) -> (values seen, their latest last use, any graph output)
        self.out_index = {}
        for k, v in enumerate(graph.outputs):
            if not v.is_const and id(v) not in self.out_index and \
                    all(v is not u for u in graph.inputs):
                self.out_index[id(v)] = n_in + k
        # an output that is a Reshape of a node's result: that result goes to the caller's
        # array directly (its Reshape is then free)
        uses = graph.uses()
        for v in list(graph.outputs):
            k = self.out_index.get(id(v))
            u = v
            while k is not None and u.producer is not None and \
                    u.producer.op in ("Reshape", "Identity", "Dropout"):
                src = u.producer.inputs[0]
                if src.is_const or len(uses.get(id(src), [])) != 1 or \
                        any(src is w for w in graph.inputs) or id(src) in self.is_output:
                    break
                u = src
            if u is not v:
                self.out_index[id(u)] = self.out_index.pop(id(v))
        self.dest = self._concat_destinations(uses)
        for k, v in enumerate(graph.inputs):
            b = self._buf("io", v.numel() * v.dtype.itemsize, io_index=k, name=v.name)
            self._bind(v, Ref.whole(b, v.shape, v.dtype))
        self.k = -1

    def _concat_destinations(self, uses):
        """{id(value): (concat output, element offset)} for Concat inputs their producers can
        write straight into the Concat's output (each input's slab is contiguous there: every
        dim before the axis is 1), so the Concat needs no copy."""
        dest = {}
        views = ("Reshape", "Transpose", "Slice", "Expand", "Identity", "Dropout", "View")
        inputs = {id(v) for v in self.g.inputs}
        for node in self.g.nodes:
            if node.op != "Concat":
                continue
            y, ax = node.outputs[0], node.attrs["axis"]
            if any(n != 1 for n in y.shape[:ax]):
                continue
            inner = 1
            for n in y.shape[ax + 1:]:
                inner *= n
            pos = 0
            for v in node.inputs:
                if v.producer is not None and v.producer.op not in views and \
                        len(uses.get(id(v), [])) == 1 and id(v) not in inputs and \
                        id(v) not in self.is_output and id(v) not in dest and \
                        v.dtype == y.dtype and not v.is_const:
                    dest[id(v)] = (y, pos * inner)
                pos += v.shape[ax]
        return dest

    # ---- buffers and refs --------------------------------------------------------------------
    def _buf(self, kind, nbytes, **kw):
        b = Buf(kind, nbytes, **kw)
        self.bufs.append(b)
        return b

    def _bind(self, v, ref):
        self.refs[id(v)] = ref
        ref.buf.values.append(id(v))
        if ref.contiguous:
            self.contig[id(v)] = ref

    def ref(self, v):
        """The Ref of value v (constants get a Buf on first use)."""
        r = self.refs.get(id(v))
        if r is not None:
            return r
        if not v.is_const:
            raise KeyError("lowering: %s is read before it is defined" % v.name)
        arr = np.ascontiguousarray(v.data)
        if v.name.startswith("$"):
            # a constant the tracer or a pass made (folded weights), not a parameter: plans
            # of the same model share it (shared_consts.py)
            arr = shared(arr)
        b = self.consts.get(id(arr))
        if b is None:
            b = self._buf("const", arr.nbytes, array=arr, name=v.name)
            self.consts[id(arr)] = b
        r = Ref.whole(b, arr.shape, arr.dtype)
        self._bind(v, r)
        return r

    def contiguous(self, v):
        """A contiguous Ref holding v, copying it once if its Ref is a strided view."""
        r = self.contig.get(id(v))
        if r is not None:
            return r
        src = self.ref(v)
        if src.contiguous:
            self.contig[id(v)] = src
            return src
        b = self._buf("arena", src.numel() * src.dtype.itemsize, name=v.name + ".c")
        dst = Ref.whole(b, src.shape, src.dtype)
        b.values.append(id(v))
        self.copy(src, dst)
        self.contig[id(v)] = dst
        return dst

    def output(self, v, reuse=()):
        """A fresh contiguous Ref for value v: the caller's output array for a graph output,
        else an arena buffer; with `reuse` (input values of an elementwise step) the buffer of
        one that dies at this node, when it fits."""
        if id(v) in self.dest:
            y, off = self.dest.pop(id(v))
            base = self.refs.get(id(y)) or self.output(y)
            r = Ref(base.buf, base.offset + off, v.shape, contiguous_strides(v.shape), v.dtype)
            self._bind(v, r)
            return r
        if id(v) in self.out_index:
            k = self.out_index.pop(id(v))
            r = Ref.whole(self._buf("io", v.numel() * v.dtype.itemsize, io_index=k,
                                    name=v.name), v.shape, v.dtype)
            self._bind(v, r)
            return r
        nbytes = v.numel() * v.dtype.itemsize
        for u in reuse:
            if u is None or u.is_const:
                continue
            r = self.refs.get(id(u))
            if r is None or r.buf.kind != "arena" or not r.covers_buf or \
                    r.buf.nbytes != nbytes or r.dtype != v.dtype:
                continue
            if self._buf_free(r.buf):
                out = Ref.whole(r.buf, v.shape, v.dtype)
                self._bind(v, out)
                return out
        r = Ref.whole(self._buf("arena", nbytes, name=v.name), v.shape, v.dtype)
        self._bind(v, r)
        return r

    def _buf_free(self, buf):
        """Whether every value stored in buf is dead after step k and none is a graph output.
        buf.values only grows, so this folds in just the new ones: a long chain of elementwise
        ops reusing one buffer stays linear (it was quadratic: 20,000 Relus took minutes)."""
        seen, last, out = self._live.get(id(buf), (0, -1, False))
        for w in buf.values[seen:]:
            last = max(last, self.last_use.get(w, -1))
            out = out or w in self.is_output
        self._live[id(buf)] = (len(buf.values), last, out)
        return last <= self.k and not out

    def copy_new(self, src):
        """A contiguous copy of Ref src in a new arena buffer."""
        b = self._buf("arena", src.numel() * src.dtype.itemsize, name="copy")
        dst = Ref.whole(b, src.shape, src.dtype)
        self.copy(src, dst)
        return dst

    def array(self, arr, name=""):
        """A Ref of a constant array made during lowering (e.g. a fused bias)."""
        arr = shared(np.ascontiguousarray(arr))
        b = self._buf("const", arr.nbytes, array=arr, name=name)
        self.consts[id(arr)] = b
        return Ref.whole(b, arr.shape, arr.dtype)

    def scratch(self, nbytes, name="scratch"):
        b = self._buf("arena", max(int(nbytes), 4), name=name)
        return Ref(b, 0, (max(int(nbytes) // 4, 1),), (1,), np.float32)

    def alias(self, v, ref):
        self._bind(v, ref)

    # ---- steps ---------------------------------------------------------------------------------
    def step(self, op, operands, ints=(), floats=(), outputs=(), label=""):
        if len(operands) > X.MAX_OPS or len(ints) > X.MAX_INTS or len(floats) > X.MAX_FLOATS:
            raise ValueError("lowering: %s step has too many operands or parameters" % label)
        s = Step(op, operands, ints, floats, self.node, label, outputs)
        self.steps.append(s)
        return s

    def copy(self, src, dst, label="Copy"):
        """dst (a Ref) = src (a Ref of the same shape), any strides."""
        shape, (ss, ds) = merge_dims(src.shape, [src.strides, dst.strides])
        if len(shape) > X.MAX_DIMS:
            raise ValueError("lowering: a copy over %d dims" % len(shape))
        pad = [0] * (X.MAX_DIMS - len(shape))
        ints = [src.dtype.itemsize, len(shape)] + list(shape) + pad + list(ss) + pad + \
            list(ds) + pad
        self.step(X.COPY, [src, dst], ints, outputs=[1], label=label)

    # ---- the walk ------------------------------------------------------------------------------
    def run(self, lower_node):
        for k, node in enumerate(self.g.nodes):
            self.k, self.node = k, node
            if not lower_node(self, node):
                self.python_step(node)
        self.node = None
        self.k = len(self.g.nodes)
        n_in = len(self.g.inputs)
        done = set()
        for j, v in enumerate(self.g.outputs):
            r = self.ref(v)
            if r.buf.kind == "io" and r.buf.io_index == n_in + j and r.covers_buf:
                done.add(j)
                continue
            dst = Ref.whole(self._buf("io", v.numel() * v.dtype.itemsize, io_index=n_in + j,
                                      name="out%d" % j), v.shape, v.dtype)
            self.copy(r, dst, label="Output")
        return self

    def python_step(self, node):
        ins = [None if v is None else self.contiguous(v) for v in node.inputs]
        outs = [self.output(v) for v in node.outputs]
        self.fallbacks.append(node.op)
        self.step("py", ins + outs, outputs=list(range(len(ins), len(ins) + len(outs))),
                  label=node.op)


# ---- helpers the op lowerings share ---------------------------------------------------------------
def matrix(ref):
    """(rows, cols, ld, trans) reading the last two dims of ref as one matrix, its leading
    dims folded into the rows when they are contiguous with them; None when the layout does
    not fit a GEMM operand."""
    shape, strides = ref.shape, ref.strides
    if len(shape) < 2:
        return None
    lead = reshape_strides(shape, strides, (int(np.prod(shape[:-1])), shape[-1]))
    if lead is not None:
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        rs, cs = lead
        if cs == 1 or cols == 1:
            return rows, cols, max(rs, cols), 0
        if rs == 1 or rows == 1:
            return rows, cols, max(cs, rows), 1
    return None


__all__ += ["matrix", "broadcast_strides", "contiguous_strides", "merge_dims"]
