"""More of torch's shape functions, composed of differentiable ops (permute, reshape, repeat,
narrow, cat, flip, indexing, gather): movedim swapdims ravel tile tensor_split h/v/dsplit
atleast_Nd h/v/d/column/row_stack fliplr flipud rot90 broadcast_tensors broadcast_shapes take
take_along_dim diag_embed diagflat trace block_diag cartesian_prod combinations
tril/triu_indices.  `ShapeExtraMethods` holds the ones torch also has as Tensor methods."""
import functools
import itertools
import numbers

import numpy as np

from ..dtypes import promote_types
from ..shapes import Size, norm_dim
from ..tensor_base import TensorBase, wrap
from . import join

__all__ = ["movedim", "moveaxis", "select", "swapdims", "ravel", "tile", "tensor_split", "hsplit",
           "vsplit", "dsplit", "atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack",
           "dstack", "column_stack", "row_stack", "fliplr", "flipud", "rot90",
           "broadcast_tensors", "broadcast_shapes", "take", "take_along_dim", "diag_embed",
           "diagflat", "trace", "block_diag", "cartesian_prod", "combinations", "tril_indices",
           "triu_indices"]


def _dims(d):
    return [d] if isinstance(d, numbers.Integral) else list(d)


def movedim(input, source, destination):
    src, dst = _dims(source), _dims(destination)
    if len(src) != len(dst):
        raise ValueError("movedim: source and destination must name as many dims, got %r and %r"
                         % (source, destination))
    n = input.ndim
    src = [norm_dim(d, n, "movedim") for d in src]
    dst = [norm_dim(d, n, "movedim") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError("movedim: repeated dim in source %r or destination %r"
                         % (source, destination))
    order = [d for d in range(n) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return input.permute(*order)


moveaxis = movedim


def select(input, dim, index):
    """input's slice at `index` along `dim`, that dim removed (a view: writes reach input)."""
    d = norm_dim(dim, input.ndim, "select")
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError("select(): index %d out of range for tensor of size %s at dimension %d"
                         % (index, tuple(input.shape), dim))
    return input.narrow(d, index % n, 1).squeeze(d)


def swapdims(input, dim0, dim1):
    return input.transpose(dim0, dim1)


def ravel(input):
    return input.reshape(-1)


def tile(input, dims):
    dims = tuple(_dims(dims))
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return input.repeat(*dims)


def _split_at(input, points, dim):
    d = norm_dim(dim, input.ndim, "tensor_split")
    n = input.shape[d]
    bounds = [0] + [min(max(p if p >= 0 else p + n, 0), n) for p in points] + [n]
    return tuple(input.narrow(d, lo, max(hi, lo) - lo) for lo, hi in zip(bounds, bounds[1:]))


def tensor_split(input, indices_or_sections, dim=0):
    if input.ndim == 0:
        raise RuntimeError("tensor_split: expected at least a 1-dimensional tensor")
    s = indices_or_sections
    if isinstance(s, TensorBase):
        s = s.tolist()
    if isinstance(s, numbers.Integral):
        if s <= 0:
            raise RuntimeError("tensor_split: number of sections must be larger than 0, got %d"
                               % s)
        n = input.shape[norm_dim(dim, input.ndim, "tensor_split")]
        size, extra = divmod(n, s)
        points = list(itertools.accumulate([size + 1] * extra + [size] * (s - extra)))[:-1]
        return _split_at(input, points, dim)
    return _split_at(input, list(s), dim)


def _split_exact(input, s, dim, fname):
    if isinstance(s, numbers.Integral):
        n = input.shape[dim]
        if s == 0 or n % s:
            raise RuntimeError("%s: dimension %d of size %d is not divisible by %d sections"
                               % (fname, dim, n, s))
    return tensor_split(input, s, dim)


def hsplit(input, indices_or_sections):
    if input.ndim == 0:
        raise RuntimeError("hsplit: expected at least a 1-dimensional tensor")
    return _split_exact(input, indices_or_sections, 1 if input.ndim > 1 else 0, "hsplit")


def vsplit(input, indices_or_sections):
    if input.ndim < 2:
        raise RuntimeError("vsplit: expected at least a 2-dimensional tensor, got %d-D"
                           % input.ndim)
    return _split_exact(input, indices_or_sections, 0, "vsplit")


def dsplit(input, indices_or_sections):
    if input.ndim < 3:
        raise RuntimeError("dsplit: expected at least a 3-dimensional tensor, got %d-D"
                           % input.ndim)
    return _split_exact(input, indices_or_sections, 2, "dsplit")


def _each(tensors, one):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(one(t) for t in tensors[0])
    if len(tensors) == 1:
        return one(tensors[0])
    return tuple(one(t) for t in tensors)


def atleast_1d(*tensors):
    return _each(tensors, lambda t: t.reshape(1) if t.ndim == 0 else t)


def atleast_2d(*tensors):
    def one(t):
        return t.reshape(1, 1) if t.ndim == 0 else t.unsqueeze(0) if t.ndim == 1 else t
    return _each(tensors, one)


def atleast_3d(*tensors):
    def one(t):
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, -1, 1)
        return t.unsqueeze(-1) if t.ndim == 2 else t
    return _each(tensors, one)


def _cat(tensors, dim):
    return join.cat(tensors, dim)


def hstack(tensors):
    ts = [atleast_1d(t) for t in tensors]
    return _cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors):
    return _cat([atleast_2d(t) for t in tensors], 0)


row_stack = vstack


def dstack(tensors):
    return _cat([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors):
    return _cat([t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors], 1)


def fliplr(input):
    if input.ndim < 2:
        raise RuntimeError("fliplr: input must be at least 2-D, got %d-D" % input.ndim)
    return input.flip(1)


def flipud(input):
    if input.ndim < 1:
        raise RuntimeError("flipud: input must be at least 1-D")
    return input.flip(0)


def rot90(input, k=1, dims=(0, 1)):
    if len(dims) != 2:
        raise RuntimeError("rot90: expected 2 dims, got %d" % len(dims))
    if input.ndim < 2:
        raise RuntimeError("rot90: expected at least a 2-D tensor, got %d-D" % input.ndim)
    d0, d1 = (norm_dim(d, input.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError("rot90: the two dims must differ, got %r" % (dims,))
    k %= 4
    if k == 1:
        return input.flip(d1).transpose(d0, d1)
    if k == 2:
        return input.flip(d0).flip(d1)
    if k == 3:
        return input.flip(d0).transpose(d0, d1)
    return input.clone()


def broadcast_shapes(*shapes):
    try:
        return Size(np.broadcast_shapes(*[tuple(_dims(s)) for s in shapes]))
    except ValueError as e:
        raise RuntimeError("broadcast_shapes: shapes %s cannot be broadcast together (%s)"
                           % (list(shapes), e)) from None


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(t.expand(*shape) for t in tensors)


def take(input, index):
    flat = input.reshape(-1)
    idx = index._data if isinstance(index, TensorBase) else np.asarray(index)
    n = flat.shape[0]
    if idx.size and (idx.max() >= n or idx.min() < -n):
        raise IndexError("take: index out of range for a tensor of %d elements" % n)
    return flat[wrap(np.asarray(idx, np.int64))]


def _wrapped(indices, n):
    """Negative indices counted from the end, as torch's take_along_dim takes them."""
    i = indices._data
    return wrap(np.where(i < 0, i + n, i)) if i.size and i.min() < 0 else indices


def take_along_dim(input, indices, dim=None):
    if dim is None:
        flat = input.reshape(-1)
        return flat.gather(0, _wrapped(indices.reshape(-1), flat.shape[0]))
    d = norm_dim(dim, input.ndim, "take_along_dim")
    indices = _wrapped(indices, input.shape[d])
    if indices.ndim != input.ndim:
        raise RuntimeError("take_along_dim: input and indices must have the same number of "
                           "dims, got %d and %d" % (input.ndim, indices.ndim))
    shape_i, shape_x = list(indices.shape), list(input.shape)
    shape_i[d] = shape_x[d] = 1
    common = list(np.broadcast_shapes(tuple(shape_i), tuple(shape_x)))
    x_shape, i_shape = list(common), list(common)
    x_shape[d], i_shape[d] = input.shape[d], indices.shape[d]
    return input.expand(*x_shape).gather(d, indices.expand(*i_shape))


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    n = input.shape[-1] + abs(offset)
    out = wrap(np.zeros(tuple(input.shape[:-1]) + (n, n), input.dtype))
    i = np.arange(input.shape[-1])
    rows, cols = (i, i + offset) if offset >= 0 else (i - offset, i)
    out[(Ellipsis, wrap(rows), wrap(cols))] = input
    nd = out.ndim
    d1, d2 = norm_dim(dim1, nd, "diag_embed"), norm_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError("diag_embed: dim1 and dim2 must differ, got %d" % d1)
    if (d1, d2) != (nd - 2, nd - 1):
        out = movedim(out, (nd - 2, nd - 1), (d1, d2))
    return out


def diagflat(input, offset=0):
    return diag_embed(input.reshape(-1), offset)


def trace(input):
    if input.ndim != 2:
        raise RuntimeError("trace: expected a matrix, got %d-D" % input.ndim)
    n = min(input.shape)
    i = wrap(np.arange(n))
    return input[i, i].sum()


def block_diag(*tensors):
    def zeros(r, c, dtype=None):
        return wrap(np.zeros((r, c), dtype or np.float32))
    ts = [t.reshape(1, -1) if t.ndim <= 1 else t for t in tensors]
    if any(t.ndim != 2 for t in ts):
        raise RuntimeError("block_diag: input tensors must have 2 or fewer dimensions")
    dtype = functools.reduce(promote_types, [t.dtype for t in ts]) if ts else None
    ncols = sum(t.shape[1] for t in ts)
    rows, left = [], 0
    for t in ts:
        r, c = t.shape
        parts = [zeros(r, left, dtype=dtype), t.to(dtype), zeros(r, ncols - left - c, dtype=dtype)]
        rows.append(_cat(parts, 1))
        left += c
    return _cat(rows, 0) if rows else wrap(np.zeros((0, 0), np.float32))


def cartesian_prod(*tensors):
    if len(tensors) == 1:
        return tensors[0]
    shape = tuple(t.shape[0] for t in tensors)
    n = len(tensors)
    grids = [t.reshape(*[-1 if j == i else 1 for j in range(n)]).expand(*shape)
             for i, t in enumerate(tensors)]
    return join.stack([g.reshape(-1) for g in grids], 1)


def combinations(input, r=2, with_replacement=False):
    if input.ndim != 1:
        raise RuntimeError("combinations: expected a 1-D tensor, got %d-D" % input.ndim)
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    idx = np.array(list(pick(range(input.shape[0]), r)), np.int64).reshape(-1, r)
    if idx.shape[0] == 0:   # still on the graph, as torch's
        if r == 0:
            return wrap(np.empty(0, input.dtype))
        return input[wrap(np.zeros(0, np.int64))].reshape(0, 1).expand(0, r)
    return join.stack([input[wrap(idx[:, j])] for j in range(r)], 1)


def _indices(np_fn, row, col, offset, dtype, fname):
    r, c = np_fn(row, offset, col)
    return wrap(np.stack([r, c]).astype(np.dtype(dtype) if dtype is not None else np.int64))


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _indices(np.tril_indices, row, col, offset, dtype, "tril_indices")


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _indices(np.triu_indices, row, col, offset, dtype, "triu_indices")


class ShapeExtraMethods:
    """The Tensor methods of the functions above that torch has as methods."""

    __slots__ = ()

    movedim = movedim
    moveaxis = moveaxis
    select = select
    swapdims = swapdims
    ravel = ravel
    tile = tile
    tensor_split = tensor_split
    hsplit = hsplit
    vsplit = vsplit
    dsplit = dsplit
    fliplr = fliplr
    flipud = flipud
    rot90 = rot90
    take = take
    take_along_dim = take_along_dim
    diag_embed = diag_embed
    diagflat = diagflat
    trace = trace
