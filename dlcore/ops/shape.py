"""Shape and indexing ops: views in forward, the matching scatter in backward.  `ShapeMethods`
and `IndexMethods` hold the Tensor methods of this family."""
import numbers

import numpy as np

from ..autograd import Function
from ..dtypes import as_dtype, bool_, is_floating
from ..shapes import Size, SortResult, norm_dim, resolve_shape
from ..tensor_base import TensorBase, index_of, raw, scalar_of, shape_args, wrap
from .half_convert import convert


class Reshape(Function):
    LINEAR = True

    def forward(self, a, shape=()):
        self.in_shape = a.shape
        return a.reshape(shape)

    def backward(self, g):
        return g.reshape(self.in_shape)


class Permute(Function):
    LINEAR = True

    def forward(self, a, dims=()):
        self.dims = dims
        return a.transpose(dims)

    def backward(self, g):
        return g.transpose(np.argsort(self.dims))


class Expand(Function):
    LINEAR = True

    def forward(self, a, shape=()):
        return np.broadcast_to(a, shape)

    def backward(self, g):
        return g  # the engine sums broadcast axes back to the input's shape


class Repeat(Function):
    LINEAR = True

    def forward(self, a, reps=()):
        lead = len(reps) - a.ndim
        self.in_shape = (1,) * lead + a.shape
        self.reps = reps
        self.orig = a.shape
        return np.tile(a, reps)

    def backward(self, g):
        # view g as (rep0, n0, rep1, n1, ...) and sum the rep axes
        split = []
        for r, n in zip(self.reps, self.in_shape):
            split += [r, n]
        g = g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return g.reshape(self.orig)


class Clone(Function):
    LINEAR = True

    def forward(self, a):
        return np.array(a, copy=True, order="C")

    def backward(self, g):
        return g


class Cast(Function):
    LINEAR = True

    def forward(self, a, dtype=None):
        self.in_dtype = a.dtype
        return convert(a, dtype)

    def backward(self, g):
        if not is_floating(self.in_dtype):
            return None
        return convert(g, self.in_dtype)


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer))
               for i in items)


class GetItem(Function):
    LINEAR = True

    def forward(self, a, index=None):
        try:
            out = a[index]
        except IndexError as e:
            raise IndexError("__getitem__: index %r is out of range for a tensor of shape %s: %s"
                             % (index, a.shape, e)) from None
        if self.requires_grad:
            self.shape, self.dtype, self.index = a.shape, a.dtype, index
        return np.asarray(out)

    def backward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        if _is_basic(self.index):
            out[self.index] = g
        else:
            np.add.at(out, self.index, g)  # repeated integer indices accumulate
        return out


class Cat(Function):
    LINEAR = True

    def forward(self, *arrays, dim=0):
        self.dim = dim
        self.sizes = [a.shape[dim] for a in arrays]
        return np.concatenate(arrays, axis=dim)

    def backward(self, g):
        cuts = np.cumsum(self.sizes)[:-1]
        return tuple(np.split(g, cuts, axis=self.dim))


class Stack(Function):
    LINEAR = True

    def forward(self, *arrays, dim=0):
        self.dim = dim
        return np.stack(arrays, axis=dim)

    def backward(self, g):
        return tuple(np.moveaxis(g, self.dim, 0))


def check_index_values(index, size, fname, dim):
    """Every entry of an integer index array must lie in [0, size): PyTorch's gather,
    scatter_add and index_select refuse negative entries rather than wrapping them."""
    if index.dtype.kind not in "iu":
        raise TypeError("%s: index must be an integer tensor, got %s" % (fname, index.dtype))
    if index.size == 0:
        return
    lo, hi = index.min(), index.max()
    if lo < 0 or hi >= size:
        bad = lo if lo < 0 else hi
        raise IndexError("%s: index %d is out of bounds for dim %d of size %d"
                         % (fname, bad, dim, size))


def check_index_shape(index, shape, dim, fname, what="input"):
    """An index for gather/scatter has the input's rank and is no larger along any other dim
    (it is never broadcast)."""
    if index.ndim != len(shape):
        raise ValueError("%s: index must have %d dims like the %s, got %d"
                         % (fname, len(shape), what, index.ndim))
    for d, (n, m) in enumerate(zip(index.shape, shape)):
        if d != dim and n > m:
            raise ValueError("%s: index of shape %s is larger than the %s of shape %s along "
                             "dim %d" % (fname, index.shape, what, shape, d))


class Gather(Function):
    LINEAR = True

    def forward(self, a, dim=0, index=None):
        # the output has the index's shape: only the leading part of the other dims is read
        part = a[tuple(slice(None) if d == dim else slice(0, n)
                       for d, n in enumerate(index.shape))]
        out = np.take_along_axis(part, index, axis=dim)
        if self.requires_grad:
            self.shape, self.dim, self.index = a.shape, dim, index
        return out

    def backward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        idx = np.indices(self.index.shape, sparse=True)
        full = list(idx)
        full[self.dim] = self.index
        np.add.at(out, tuple(full), g)
        return out


class ScatterAdd(Function):
    LINEAR = True

    def forward(self, a, src, dim=0, index=None):
        out = np.array(a, copy=True)
        idx = list(np.indices(index.shape, sparse=True))
        idx[dim] = index
        self.idx = tuple(idx)
        np.add.at(out, self.idx, src[tuple(slice(0, n) for n in index.shape)])
        self.src_shape = src.shape
        return out

    def backward(self, g):
        gs = np.zeros(self.src_shape, dtype=g.dtype)
        part = g[self.idx]
        gs[tuple(slice(0, n) for n in part.shape)] = part
        return g, gs


class MaskedFill(Function):
    LINEAR = True
    AFFINE = True

    def forward(self, a, mask=None, value=0.0):
        self.mask = mask
        return np.where(mask, np.asarray(value, dtype=a.dtype), a)

    def backward(self, g):
        return np.where(self.mask, np.zeros((), g.dtype), g)


class MaskedFillTensor(Function):
    """masked_fill with a 0-d tensor value: the value's gradient sums the filled positions."""

    def forward(self, a, value, mask=None):
        self.mask = mask
        out = np.where(mask, value.astype(a.dtype), a)
        self.broadcast = out.shape != a.shape
        return out

    def backward(self, g):
        ga = np.where(self.mask, np.zeros((), g.dtype), g)
        gv = np.sum(np.where(self.mask, g, np.zeros((), g.dtype))) \
            if self.needs_input_grad[1] else None
        return ga, gv


class Tri(Function):
    LINEAR = True

    def forward(self, a, k=0, upper=False):
        if a.ndim < 2:
            raise ValueError("tril/triu: input must have at least 2 dims, got %d" % a.ndim)
        self.k, self.upper = k, upper
        return np.triu(a, k) if upper else np.tril(a, k)

    def backward(self, g):
        return np.triu(g, self.k) if self.upper else np.tril(g, self.k)


class Flip(Function):
    LINEAR = True

    def forward(self, a, dims=()):
        self.dims = dims
        return np.flip(a, dims)

    def backward(self, g):
        return np.flip(g, self.dims)


class Pad(Function):
    """Constant padding; `pads` is ((before, after), ...) per axis, negative values crop."""
    LINEAR = True
    AFFINE = True

    def forward(self, a, pads=(), value=0.0):
        self.shape = a.shape
        self.crop = tuple(slice(max(-b, 0), a.shape[i] - max(-e, 0))
                          for i, (b, e) in enumerate(pads))
        a = a[self.crop]
        pos = tuple((max(b, 0), max(e, 0)) for b, e in pads)
        self.inner = tuple(slice(b, b + n) for (b, _), n in zip(pos, a.shape))
        return np.pad(a, pos, mode="constant", constant_values=value)

    def backward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        out[self.crop] = g[self.inner]
        return out


def _elem_strides(a):
    return tuple(st // a.itemsize for st in a.strides)


def _view_dtype(t, dtype):
    """t's bytes read as `dtype` (torch's Tensor.view(dtype)); a new dtype of another size
    rescales the last dimension, which must then have stride 1."""
    dt = as_dtype(dtype, fname="view")
    if dt == t._data.dtype:
        return Reshape.apply(t, shape=t._data.shape)
    a = t._data
    if dt.itemsize != a.itemsize:
        if a.ndim == 0:
            raise RuntimeError("view: a 0-d tensor cannot be viewed as a dtype of another size "
                               "(%s to %s)" % (a.dtype, dt))
        if a.strides[-1] != a.itemsize and a.shape[-1] != 1:
            raise RuntimeError("view: to view %s as %s the last dimension must have stride 1"
                               % (a.dtype, dt))
        if (a.shape[-1] * a.itemsize) % dt.itemsize:
            raise RuntimeError("view: the last dimension's size in bytes (%d) must be divisible "
                               "by the new element size (%d)" % (a.shape[-1] * a.itemsize,
                                                                 dt.itemsize))
    try:
        return wrap(a.view(dt))
    except ValueError as e:
        raise RuntimeError("view: cannot view %s as %s: %s" % (a.dtype, dt, e)) from None


class ShapeMethods:
    """Tensor reshaping, permuting, broadcasting, splitting and copying."""

    __slots__ = ()

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def clone(self):
        return Clone.apply(self)

    def contiguous(self):
        if self._data.flags.c_contiguous:
            return self
        return self.clone()

    def reshape(self, *shape):
        shape = shape_args(shape, "reshape")
        return Reshape.apply(self, shape=resolve_shape(shape, self._data.size, "reshape"))

    def view(self, *shape):
        """A tensor sharing this one's storage with a new shape, or (given a dtype) its bytes
        read as another dtype.  Where the strides cannot express the new shape without a copy
        (torch's rule, which NumPy's no-copy reshape follows too) it raises, as torch does:
        a silent copy would lose writes made through the view."""
        if len(shape) == 1 and not isinstance(shape[0], (tuple, list, Size, numbers.Integral)):
            return _view_dtype(self, shape[0])
        shape = resolve_shape(shape_args(shape, "view"), self._data.size, "view")
        if not self._data.flags.c_contiguous:
            try:
                np.reshape(self._data, shape, copy=False)
            except ValueError:
                raise RuntimeError(
                    "view size is not compatible with input tensor's size and stride (at least "
                    "one dimension spans across two contiguous subspaces): view of shape %s "
                    "from shape %s with strides %s. Use .reshape(...) instead."
                    % (tuple(shape), tuple(self._data.shape), _elem_strides(self._data))
                ) from None
        return Reshape.apply(self, shape=shape)

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        nd = self.ndim
        if nd == 0:
            return self.reshape(1)
        s = norm_dim(start_dim, nd, "flatten")
        e = norm_dim(end_dim, nd, "flatten")
        if s > e:
            raise ValueError("flatten: start_dim %d comes after end_dim %d" % (start_dim, end_dim))
        shp = self._data.shape
        return self.reshape(shp[:s] + (int(np.prod(shp[s:e + 1])),) + shp[e + 1:])

    def unflatten(self, dim, sizes):
        d = norm_dim(dim, self.ndim, "unflatten")
        shp = self._data.shape
        sizes = resolve_shape(tuple(sizes), shp[d], "unflatten")
        return self.reshape(shp[:d] + tuple(sizes) + shp[d + 1:])

    def squeeze(self, dim=None):
        shp = self._data.shape
        if dim is None:
            new = tuple(n for n in shp if n != 1)
        else:
            dims = dim if isinstance(dim, (tuple, list)) else (dim,)
            dims = {norm_dim(d, self.ndim, "squeeze") for d in dims} if self.ndim else set()
            new = tuple(n for i, n in enumerate(shp) if not (i in dims and n == 1))
        return self.reshape(new) if new != shp else self

    def unsqueeze(self, dim):
        d = norm_dim(dim, self.ndim + 1, "unsqueeze")
        shp = self._data.shape
        return self.reshape(shp[:d] + (1,) + shp[d:])

    def permute(self, *dims):
        dims = shape_args(dims, "permute")
        if len(dims) != self.ndim:
            raise ValueError("permute: expected %d dims, got %s" % (self.ndim, dims))
        dims = tuple(norm_dim(d, self.ndim, "permute") for d in dims)
        if sorted(dims) != list(range(self.ndim)):
            raise ValueError("permute: dims %s are not a permutation of 0..%d"
                             % (dims, self.ndim - 1))
        return Permute.apply(self, dims=dims)

    def transpose(self, dim0, dim1):
        nd = self.ndim
        if nd < 2 and dim0 in (0, -1) and dim1 in (0, -1):
            return self
        a, b = norm_dim(dim0, nd, "transpose"), norm_dim(dim1, nd, "transpose")
        dims = list(range(nd))
        dims[a], dims[b] = dims[b], dims[a]
        return self.permute(*dims)

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise ValueError("t: expects a tensor with <= 2 dims, got %d" % self.ndim)
        return self.transpose(0, 1) if self.ndim == 2 else self

    def expand(self, *sizes):
        sizes = shape_args(sizes, "expand")
        shp = self._data.shape
        if len(sizes) < len(shp):
            raise ValueError("expand: the number of sizes (%d) must be >= the number of dims (%d)"
                             % (len(sizes), len(shp)))
        lead = len(sizes) - len(shp)
        target = []
        for i, n in enumerate(sizes):
            if n == -1:
                if i < lead:
                    raise ValueError("expand: -1 is not allowed in a new leading dimension")
                n = shp[i - lead]
            elif i >= lead and shp[i - lead] not in (1, n):
                raise ValueError("expand: size %d of dim %d does not match %d"
                                 % (n, i, shp[i - lead]))
            target.append(n)
        return Expand.apply(self, shape=tuple(target))

    def expand_as(self, other):
        return self.expand(*other.shape)

    def repeat(self, *sizes):
        sizes = shape_args(sizes, "repeat")
        if len(sizes) < self.ndim:
            raise ValueError("repeat: number of repeats (%d) must be >= the number of dims (%d)"
                             % (len(sizes), self.ndim))
        return Repeat.apply(self, reps=tuple(sizes))

    def split(self, split_size_or_sections, dim=0):
        d = norm_dim(dim, self.ndim, "split")
        n = self._data.shape[d]
        if isinstance(split_size_or_sections, numbers.Integral):
            step = int(split_size_or_sections)
            if step <= 0:
                raise ValueError("split: split_size must be positive, got %d" % step)
            sizes = [min(step, n - i) for i in range(0, n, step)] or [0]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if sum(sizes) != n:
                raise ValueError("split: sections %s do not sum to the dim size %d" % (sizes, n))
        out, start = [], 0
        for s in sizes:
            idx = (slice(None),) * d + (slice(start, start + s),)
            out.append(self[idx])
            start += s
        return tuple(out)

    def chunk(self, chunks, dim=0):
        d = norm_dim(dim, self.ndim, "chunk")
        n = self._data.shape[d]
        if chunks <= 0:
            raise ValueError("chunk: chunks must be positive, got %d" % chunks)
        step = -(-n // chunks)
        return self.split(max(step, 1), d)

    def unbind(self, dim=0):
        d = norm_dim(dim, self.ndim, "unbind")
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self._data.shape[d]))

    def flip(self, dims):
        dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
        axes = tuple(norm_dim(d, self.ndim, "flip") for d in dims)
        return Flip.apply(self, dims=axes if self.ndim else ())  # a scalar flips to itself

    def tril(self, diagonal=0):
        return Tri.apply(self, k=diagonal, upper=False)

    def triu(self, diagonal=0):
        return Tri.apply(self, k=diagonal, upper=True)


class IndexMethods:
    """Tensor indexing, gathering, masking and sorting."""

    __slots__ = ()

    def __getitem__(self, idx):
        return GetItem.apply(self, index=index_of(idx))

    def gather(self, dim, index):
        d = norm_dim(dim, self.ndim, "gather")
        idx = raw(index)
        if idx.size == 0:  # an empty index reads nothing: torch checks neither shape nor dtype
            return self.reshape(-1)[0:0].reshape(idx.shape)
        check_index_values(idx, self._data.shape[d] if self.ndim else 1, "gather", d)
        if self.ndim == 0 and idx.ndim <= 1:  # a scalar reads as a 1-element vector
            return self.reshape(1).gather(0, idx.reshape(-1)).reshape(idx.shape)
        check_index_shape(idx, self._data.shape, d, "gather")
        return Gather.apply(self, dim=d, index=idx)

    def scatter_add(self, dim, index, src):
        d = norm_dim(dim, self.ndim, "scatter_add")
        idx = raw(index)
        if raw(src).dtype != self.dtype:
            raise TypeError("scatter_add: src must have the input's dtype %s, got %s"
                            % (self.dtype, raw(src).dtype))
        check_index_values(idx, self._data.shape[d] if self.ndim else 1, "scatter_add", d)
        check_index_shape(idx, self._data.shape, d, "scatter_add")
        s = raw(src)
        if s.ndim != idx.ndim or any(n > m for n, m in zip(idx.shape, s.shape)):
            raise ValueError("scatter_add: index of shape %s is larger than src of shape %s"
                             % (idx.shape, s.shape))
        if self.ndim == 0:  # a 0-d tensor scatters as a 1-element vector
            return ScatterAdd.apply(self.reshape(1), src.reshape(-1), dim=0,
                                    index=idx.reshape(-1)).reshape(())
        return ScatterAdd.apply(self, src, dim=d, index=idx)

    def index_select(self, dim, index):
        d = norm_dim(dim, self.ndim, "index_select")
        idx = raw(index)
        if idx.ndim > 1:
            raise ValueError("index_select: index must be 0-d or 1-d, got %d dims" % idx.ndim)
        check_index_values(idx, self._data.shape[d] if self.ndim else 1, "index_select", d)
        if self.ndim == 0:
            return self.reshape(1)[idx.reshape(-1)].reshape(())
        return self[(slice(None),) * d + (idx.reshape(-1),)]

    def masked_fill(self, mask, value):
        m = raw(mask)
        if m.dtype != bool_:
            raise TypeError("masked_fill: mask must be a bool tensor, got %s" % m.dtype)
        try:
            np.broadcast_shapes(m.shape, self._data.shape)
        except ValueError:
            raise ValueError("masked_fill: mask of shape %s does not broadcast to %s"
                             % (m.shape, self.shape)) from None
        if isinstance(value, TensorBase):
            if value.ndim != 0:
                raise ValueError("masked_fill: value must be a 0-d tensor, got shape %s"
                                 % (tuple(value.shape),))
            return MaskedFillTensor.apply(self, value, mask=m)
        return MaskedFill.apply(self, mask=m, value=scalar_of(value, "masked_fill"))

    def masked_select(self, mask):
        m = raw(mask)
        if m.dtype != bool_:
            raise TypeError("masked_select: mask must be a bool tensor, got %s" % m.dtype)
        try:
            shape = np.broadcast_shapes(m.shape, self._data.shape)
        except ValueError:
            raise ValueError("masked_select: mask of shape %s and input of shape %s do not "
                             "broadcast" % (m.shape, tuple(self.shape))) from None
        x = self if tuple(self.shape) == shape else self.expand(*shape)
        return x[np.broadcast_to(m, shape)]

    def sort(self, dim=-1, descending=False, stable=False):
        d = norm_dim(dim, self.ndim, "sort")
        if self.ndim == 0:
            return SortResult(self * 1, wrap(np.zeros((), dtype=np.int64)))
        # always stable: equal keys keep their order, which `stable=True` asks for
        order = np.argsort(-self._data if descending else self._data, axis=d, kind="stable")
        if descending and self._data.dtype.kind == "f":
            # NaN counts as the largest value (torch): first when descending, last otherwise
            nan_last = np.isnan(np.take_along_axis(self._data, order, axis=d))
            order = np.take_along_axis(order, np.argsort(~nan_last, axis=d, kind="stable"),
                                       axis=d)
        return SortResult(self.gather(d, order), wrap(order.astype(np.int64)))

    def argsort(self, dim=-1, descending=False, stable=False):
        return self.sort(dim, descending).indices

    def topk(self, k, dim=-1, largest=True, sorted=True):
        d = norm_dim(dim, self.ndim, "topk")
        if self.ndim == 0:
            if k not in (0, 1):
                raise ValueError("topk: k=%d out of range for a 0-d tensor" % k)
            return SortResult(self * 1, wrap(np.zeros((), dtype=np.int64)))
        if not 0 <= k <= self._data.shape[d]:
            raise ValueError("topk: k=%d out of range for a dim of size %d"
                             % (k, self._data.shape[d]))
        vals, idx = self.sort(d, descending=largest)
        sl = (slice(None),) * d + (slice(0, k),)
        return SortResult(vals[sl], idx[sl])
