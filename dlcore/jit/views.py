"""Where a value lives: a `Buf` (one materialized storage: an arena buffer, a constant array or
a caller's input/output array) and a `Ref` (a strided view of a Buf: element offset, shape,
strides).  Transpose, Slice, Expand and most Reshapes make new Refs of the same Buf, with no
copy; a reader that needs contiguous data gets a copy only then (plan.py)."""
import numpy as np

__all__ = ["Buf", "Ref", "contiguous_strides", "reshape_strides", "merge_dims"]


class Buf:
    __slots__ = ("kind", "nbytes", "array", "io_index", "values", "offset", "first", "last",
                 "name")

    def __init__(self, kind, nbytes, array=None, io_index=-1, name=""):
        self.kind = kind            # "arena", "const" or "io"
        self.nbytes = int(nbytes)
        self.array = array          # a constant's array
        self.io_index = io_index    # position among the call's inputs then outputs
        self.values = []            # ids of the graph values stored in it (liveness)
        self.offset = -1            # arena offset (memory planner)
        self.first = self.last = -1  # steps that first write / last read it
        self.name = name


def contiguous_strides(shape):
    st, acc = [], 1
    for n in reversed(shape):
        st.append(acc)
        acc *= n
    return tuple(reversed(st))


class Ref:
    __slots__ = ("buf", "offset", "shape", "strides", "dtype")

    def __init__(self, buf, offset, shape, strides, dtype):
        self.buf, self.offset = buf, int(offset)
        self.shape, self.strides = tuple(int(s) for s in shape), tuple(int(s) for s in strides)
        self.dtype = np.dtype(dtype)

    @classmethod
    def whole(cls, buf, shape, dtype):
        return cls(buf, 0, shape, contiguous_strides(shape), dtype)

    def numel(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def contiguous(self):
        want = 1
        for n, s in zip(reversed(self.shape), reversed(self.strides)):
            if n != 1 and s != want:
                return False
            want *= n
        return True

    @property
    def covers_buf(self):
        """Contiguous from the start of its Buf to the end."""
        return self.contiguous and self.offset == 0 and \
            self.numel() * self.dtype.itemsize == self.buf.nbytes

    def with_view(self, offset, shape, strides):
        return Ref(self.buf, self.offset + offset, shape, strides, self.dtype)


def reshape_strides(shape, strides, new_shape):
    """Strides that view (shape, strides) as new_shape without copying, or None (NumPy's
    no-copy reshape rule: the old dims merged into one new dim must be contiguous among
    themselves)."""
    if 0 in shape or 0 in new_shape:
        return contiguous_strides(new_shape)
    old = [(n, s) for n, s in zip(shape, strides) if n != 1]
    nd = list(new_shape)
    out = [0] * len(nd)
    if not old:
        return tuple(out)
    oi = ni = 0
    while ni < len(nd) and oi < len(old):
        nj, oj = ni + 1, oi + 1
        np_, op = nd[ni], old[oi][0]
        while np_ != op:
            if np_ < op:
                if nj >= len(nd):
                    return None
                np_ *= nd[nj]
                nj += 1
            else:
                if oj >= len(old):
                    return None
                op *= old[oj][0]
                oj += 1
        for k in range(oi, oj - 1):
            if old[k][1] != old[k + 1][0] * old[k + 1][1]:
                return None
        out[nj - 1] = old[oj - 1][1]
        for k in range(nj - 1, ni, -1):
            out[k - 1] = out[k] * nd[k]
        ni, oi = nj, oj
    return tuple(out)


def merge_dims(shape, stride_lists):
    """(shape, stride lists) with size-1 dims dropped and adjacent dims merged wherever every
    stride list allows it; at least one dim is kept."""
    dims = [(n, [s[i] for s in stride_lists]) for i, n in enumerate(shape) if n != 1]
    if not dims:
        return (1,), [(0,) for _ in stride_lists]
    merged = [dims[0]]
    for n, st in dims[1:]:
        pn, pst = merged[-1]
        if all(ps == s * n for ps, s in zip(pst, st)):
            merged[-1] = (pn * n, st)
        else:
            merged.append((n, st))
    shape = tuple(n for n, _ in merged)
    return shape, [tuple(st[k] for _, st in merged) for k in range(len(stride_lists))]


def broadcast_strides(ref, out_shape):
    """ref's strides for reading it broadcast to out_shape (0 on broadcast dims)."""
    nd = len(out_shape)
    shape = (1,) * (nd - len(ref.shape)) + ref.shape
    strides = (0,) * (nd - len(ref.strides)) + ref.strides
    return tuple(0 if n == 1 and m != 1 else s for n, s, m in zip(shape, strides, out_shape))
