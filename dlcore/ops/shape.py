"""Shape and indexing ops: views in forward, the matching scatter in backward."""
import numpy as np

from ..autograd import Function


class Reshape(Function):
    def forward(self, a, shape=()):
        self.in_shape = a.shape
        return a.reshape(shape)

    def backward(self, g):
        return g.reshape(self.in_shape)


class Permute(Function):
    def forward(self, a, dims=()):
        self.dims = dims
        return a.transpose(dims)

    def backward(self, g):
        return g.transpose(np.argsort(self.dims))


class Expand(Function):
    def forward(self, a, shape=()):
        return np.broadcast_to(a, shape)

    def backward(self, g):
        return g  # the engine sums broadcast axes back to the input's shape


class Repeat(Function):
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
    def forward(self, a):
        return np.array(a, copy=True, order="C")

    def backward(self, g):
        return g


class Cast(Function):
    def forward(self, a, dtype=None):
        self.in_dtype = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        if self.in_dtype.kind != "f":
            return None
        return g.astype(self.in_dtype)


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer))
               for i in items)


class GetItem(Function):
    def forward(self, a, index=None):
        try:
            out = a[index]
        except IndexError as e:
            raise IndexError("index %r is out of range for a tensor of shape %s: %s"
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
    def forward(self, *arrays, dim=0):
        self.dim = dim
        self.sizes = [a.shape[dim] for a in arrays]
        return np.concatenate(arrays, axis=dim)

    def backward(self, g):
        cuts = np.cumsum(self.sizes)[:-1]
        return tuple(np.split(g, cuts, axis=self.dim))


class Stack(Function):
    def forward(self, *arrays, dim=0):
        self.dim = dim
        return np.stack(arrays, axis=dim)

    def backward(self, g):
        return tuple(np.moveaxis(g, self.dim, 0))


class Gather(Function):
    def forward(self, a, dim=0, index=None):
        try:
            out = np.take_along_axis(a, index, axis=dim)
        except (IndexError, ValueError) as e:
            raise IndexError("gather: index of shape %s does not fit input of shape %s along "
                             "dim %d: %s" % (index.shape, a.shape, dim, e)) from None
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
    def forward(self, a, mask=None, value=0.0):
        self.mask = mask
        return np.where(mask, np.asarray(value, dtype=a.dtype), a)

    def backward(self, g):
        return np.where(self.mask, np.zeros((), g.dtype), g)


class Tri(Function):
    def forward(self, a, k=0, upper=False):
        if a.ndim < 2:
            raise ValueError("tril/triu: input must have at least 2 dims, got %d" % a.ndim)
        self.k, self.upper = k, upper
        return np.triu(a, k) if upper else np.tril(a, k)

    def backward(self, g):
        return np.triu(g, self.k) if self.upper else np.tril(g, self.k)


class Flip(Function):
    def forward(self, a, dims=()):
        self.dims = dims
        return np.flip(a, dims)

    def backward(self, g):
        return np.flip(g, self.dims)


class Pad(Function):
    """Constant padding; `pads` is ((before, after), ...) per axis, negative values crop."""

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
