"""Index-producing and index-writing ops torch scripts use: nonzero, unique, multinomial,
scatter/scatter_, index_put_, narrow, diag, roll, diff, repeat_interleave.  `SelectMethods`
holds their Tensor methods; the differentiable ones are Functions here or compositions of
differentiable ops (slicing, cat, index_select)."""
import numbers

import numpy as np

from .. import random as R
from ..autograd import Function, inplace as IP
from ..shapes import norm_dim
from ..tensor_base import TensorBase, index_of, raw, scalar_of, wrap
from .shape import Cat
from ..dtypes import is_floating


class Scatter(Function):
    """out = a with out[index[i][j]][j] = src[i][j] (dim 0; likewise along other dims)."""

    def forward(self, a, src, dim=0, index=None):
        out = np.array(a, copy=True)
        idx = _scatter_index(index, dim)
        if np.ndim(src) == 0:
            out[idx] = src
        else:
            out[idx] = src[tuple(slice(0, n) for n in index.shape)]
        if self.requires_grad:
            self.idx, self.src_shape = idx, np.shape(src)
        return out

    def backward(self, g):
        ga = None
        if self.needs_input_grad[0]:
            ga = np.array(g, copy=True)
            ga[self.idx] = 0
        gs = None
        if len(self.needs_input_grad) > 1 and self.needs_input_grad[1]:
            gs = np.zeros(self.src_shape, g.dtype)
            part = g[self.idx]
            gs[tuple(slice(0, n) for n in part.shape)] = part
        return ga, gs


class IndexPutAdd(Function):
    """out = a with v added at a[index] (repeated positions adding up): index_put's accumulate
    mode as an op of the graph; d/da = 1, d/dv = the gradient gathered at index."""
    LINEAR = True

    def forward(self, a, v, index=None):
        out = np.array(a, copy=True)
        np.add.at(out, index, v)
        if self.requires_grad:
            self.index = index
        return out

    def backward(self, g):
        gv = None
        if self.needs_input_grad[1]:
            gv = np.asarray(g[self.index])
        return g, gv


class DiagEmbed(Function):
    """1-D -> 2-D: the vector on the k-th diagonal of a square matrix."""

    def forward(self, v, k=0):
        self.k = k
        return np.diag(v, k)

    def backward(self, g):
        return np.ascontiguousarray(np.diagonal(g, self.k))


class Roll(Function):
    def forward(self, a, shifts=0, dims=None):
        self.shifts, self.dims = shifts, dims
        return np.roll(a, shifts, dims)

    def backward(self, g):
        neg = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return np.roll(g, neg, self.dims)


def _scatter_index(index, dim):
    idx = list(np.indices(index.shape, sparse=True))
    idx[dim] = index
    return tuple(idx)


def _check_scatter(t, dim, index, src, fname):
    d = norm_dim(dim, t.ndim, fname)
    idx = raw(index)
    if not isinstance(idx, np.ndarray) or idx.dtype not in (np.int32, np.int64):
        raise RuntimeError("%s(): Expected dtype int32/int64 for index, got %s"
                           % (fname, getattr(idx, "dtype", type(idx).__name__)))
    if idx.ndim != t.ndim:
        raise RuntimeError("%s(): Index tensor must have the same number of dimensions as "
                           "self tensor (%d), got %d" % (fname, t.ndim, idx.ndim))
    for i, n in enumerate(idx.shape):
        if i != d and n > t.shape[i]:
            raise RuntimeError("%s(): index %s is larger than self %s apart from dimension %d"
                               % (fname, tuple(idx.shape), tuple(t.shape), d))
        if isinstance(src, TensorBase) and (src.ndim != t.ndim or n > src.shape[i]):
            raise RuntimeError("%s(): index %s is larger than src %s" % (fname, tuple(idx.shape),
                                                                        tuple(src.shape)))
    if idx.size and (idx.min() < 0 or idx.max() >= t.shape[d]):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise RuntimeError("%s(): index %d is out of bounds for dimension %d with size %d"
                           % (fname, bad, d, t.shape[d]))
    return d, idx


def _scatter_reduce_into(out, d, idx, src, reduce, fname):
    ufunc = {"add": np.add, "multiply": np.multiply}.get(reduce)
    if ufunc is None:
        raise RuntimeError("%s(): reduce must be 'add' or 'multiply', got %r" % (fname, reduce))
    s = src if np.ndim(src) == 0 else src[tuple(slice(0, n) for n in idx.shape)]
    ufunc.at(out, _scatter_index(idx, d), s)


class SelectMethods:
    """nonzero unique multinomial scatter scatter_ index_put_ index_put narrow diag roll diff
    repeat_interleave."""

    __slots__ = ()

    def nonzero(self, *, as_tuple=False):
        nz = np.nonzero(self._data) if self._data.ndim else np.nonzero(self._data.reshape(1))
        if as_tuple:
            return tuple(wrap(i.astype(np.int64)) for i in nz)
        if self._data.ndim == 0:
            return wrap(np.zeros((len(nz[0]), 0), np.int64))
        return wrap(np.stack(nz, axis=1).astype(np.int64).reshape(-1, self._data.ndim))

    def argwhere(self):
        return self.nonzero()

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """The distinct values (always sorted, as torch's CPU kernel returns them)."""
        a = self._data
        axis = None if dim is None else norm_dim(dim, a.ndim, "unique")
        vals, inv, counts = np.unique(a, return_inverse=True, return_counts=True, axis=axis)
        out = [wrap(vals)]
        if return_inverse:
            inv = inv.reshape(a.shape if axis is None else (a.shape[axis],))
            out.append(wrap(inv.astype(np.int64)))
        if return_counts:
            out.append(wrap(counts.astype(np.int64)))
        return out[0] if len(out) == 1 else tuple(out)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        """Row-wise draws of category indices with probability proportional to the weights."""
        p = self._data
        if p.ndim not in (1, 2):
            raise RuntimeError("multinomial: prob_dist must be 1 or 2 dim, got %d" % p.ndim)
        if not is_floating(p.dtype):
            raise RuntimeError("multinomial only supports floating-point dtypes for input, "
                               "got %s" % p.dtype)
        if not isinstance(num_samples, numbers.Integral) or num_samples <= 0:
            raise RuntimeError("multinomial: cannot sample n_sample <= 0 samples, got %r"
                               % (num_samples,))
        rows = p.reshape(-1, p.shape[-1]).astype(np.float64)
        if not np.isfinite(rows).all() or (rows < 0).any():
            raise RuntimeError("multinomial: probability tensor contains either inf, nan or "
                               "element < 0")
        if not replacement and num_samples > rows.shape[1]:
            raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) "
                               "samples without replacement")
        rng = R.rng(generator)
        out = np.empty((rows.shape[0], num_samples), np.int64)
        for i, w in enumerate(rows):
            total = w.sum()
            if total <= 0:
                raise RuntimeError("multinomial: invalid multinomial distribution "
                                   "(sum of probabilities <= 0)")
            if replacement:
                out[i] = rng.choice(len(w), size=num_samples, replace=True, p=w / total)
                continue
            # without replacement: Gumbel-top-k (the same law as drawing one at a time); once
            # the non-zero categories run out, torch goes on with the zero ones in random order
            with np.errstate(divide="ignore"):
                keys = np.log(w) - np.log(-np.log(rng.random(len(w))))
            out[i] = np.lexsort((rng.random(len(w)), -keys))[:num_samples]
        return wrap(out if p.ndim == 2 else out[0])

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        """A copy of self with src's values (or `value`) written at `index` along `dim`."""
        if src is None and value is None:
            raise TypeError("scatter: give src (a tensor) or value (a number)")
        if self.ndim == 0:  # torch: a 0-d tensor scatters as a 1-element vector
            one = [t.reshape(1) if isinstance(t, TensorBase) and t.ndim == 0 else t
                   for t in (index, src)]
            if dim not in (0, -1):
                raise IndexError("scatter(): dim %r out of range for a 0-d tensor" % (dim,))
            return self.reshape(1).scatter(0, one[0], one[1], value,
                                           reduce=reduce).reshape(())
        s = src if src is not None else value
        d, idx = _check_scatter(self, dim, index, s, "scatter")
        if reduce is not None:
            out = np.array(self._data, copy=True)
            _scatter_reduce_into(out, d, idx, raw(s), reduce, "scatter")
            return wrap(out)
        if isinstance(s, TensorBase):
            if s.dtype != self.dtype:
                raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype "
                                   "(%s and %s)" % (self.dtype, s.dtype))
            return Scatter.apply(self, s, dim=d, index=idx)
        return Scatter.apply(self, np.asarray(scalar_of(s, "scatter"), self._data.dtype),
                             dim=d, index=idx)

    def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
        self._check_inplace("scatter_")
        if src is None and value is None:
            raise TypeError("scatter_: give src (a tensor) or value (a number)")
        s = src if src is not None else value
        d, idx = _check_scatter(self, dim, index, s, "scatter_")
        v = raw(s) if isinstance(s, TensorBase) else scalar_of(s, "scatter_")
        if reduce is not None:
            _scatter_reduce_into(self._data, d, idx, v, reduce, "scatter_")
        elif np.ndim(v) == 0:
            self._data[_scatter_index(idx, d)] = v
        else:
            self._data[_scatter_index(idx, d)] = v[tuple(slice(0, n) for n in idx.shape)]
        return self

    def index_put_(self, indices, values, accumulate=False):
        """self[indices] = values (or += with accumulate=True, repeated indices adding up)."""
        if not isinstance(indices, (tuple, list)):
            raise TypeError("index_put_: indices must be a tuple of tensors, got %s"
                            % type(indices).__name__)
        key = index_of(tuple(indices))
        if not accumulate:
            self[key] = values
            return self
        if IP.recording(self, (values,)):
            v = values if not isinstance(values, TensorBase) or values.dtype == self.dtype \
                else values.to(self.dtype)
            if not isinstance(v, TensorBase):
                v = wrap(np.asarray(v, dtype=self._data.dtype))
            IP.run_recorded(self, "index_put_", lambda old: IndexPutAdd.apply(old, v, index=key))
            return self
        v = raw(values)
        IP.run_direct(self, "index_put_", lambda a: np.add.at(a, key, v))
        return self

    def index_put(self, indices, values, accumulate=False):
        return self.clone().index_put_(indices, values, accumulate)

    def narrow(self, dim, start, length):
        """The view self[..., start:start+length, ...] along `dim` (shares storage)."""
        d = norm_dim(dim, self.ndim, "narrow")
        n = self._data.shape[d]
        if isinstance(start, TensorBase) and (start.ndim != 0 or start.dtype.kind not in "iu"):
            raise RuntimeError("narrow(): start must be an 0-dim integral Tensor, got %s of "
                               "shape %s" % (start.dtype, tuple(start.shape)))
        if isinstance(start, bool):
            raise TypeError("narrow(): start must be an int, not bool")
        start = int(scalar_of(start, "narrow"))
        if not -n <= start <= n:
            raise IndexError("narrow: start (%d) out of range for dimension %d of size %d"
                             % (start, d, n))
        start %= n if n else 1
        if length < 0 or start + length > n:
            raise RuntimeError("narrow: start (%d) + length (%d) exceeds dimension size (%d)"
                               % (start, length, n))
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def diag(self, diagonal=0):
        """1-D: a square matrix with the vector on the `diagonal`-th diagonal; 2-D: that
        diagonal of the matrix as a vector."""
        if self.ndim == 1:
            return DiagEmbed.apply(self, k=int(diagonal))
        if self.ndim != 2:
            raise RuntimeError("diag(): Supports 1D or 2D tensors. Got %dD" % self.ndim)
        r, c = self._data.shape
        k = int(diagonal)
        rows = np.arange(max(0, -k), min(r, c - k)) if c - k > 0 else np.arange(0)
        return self[(rows, rows + k)]

    def roll(self, shifts, dims=None):
        if dims is None:
            if not isinstance(shifts, numbers.Integral):
                raise RuntimeError("roll: without dims, shifts must be one int")
            return Roll.apply(self, shifts=int(shifts), dims=None)
        sh = (shifts,) if isinstance(shifts, numbers.Integral) else tuple(shifts)
        dm = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
        if len(sh) != len(dm):
            raise RuntimeError("roll: shifts and dimensions must align, got %d shifts and %d "
                               "dims" % (len(sh), len(dm)))
        dm = tuple(norm_dim(x, self.ndim, "roll") for x in dm)
        return Roll.apply(self, shifts=tuple(int(s) for s in sh), dims=dm)

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        """The n-th forward difference along `dim` (bool tensors: elementwise xor, as torch)."""
        d = norm_dim(dim, self.ndim, "diff")
        if not isinstance(n, numbers.Integral) or isinstance(n, bool):
            raise TypeError("diff(): argument 'n' must be int, not %s" % type(n).__name__)
        if n < 0:
            raise RuntimeError("diff(): order must be non-negative but got %d" % n)
        if n == 0:  # torch: the 0-th difference is a copy of the input, prepend/append unused
            return self.clone()
        parts = [p for p in (prepend, self, append) if p is not None]
        x = self if len(parts) == 1 else _cat_parts(parts, d)
        for _ in range(n):
            m = x.shape[d]
            if m == 0:
                break
            hi, lo = x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)
            x = hi ^ lo if x.dtype == np.bool_ else hi - lo
        return x

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Each element (or slice along `dim`) repeated `repeats` times in place."""
        x = self.reshape(-1) if dim is None else self
        d = 0 if dim is None else norm_dim(dim, self.ndim, "repeat_interleave")
        r = raw(repeats)
        if np.ndim(r) and np.size(r) not in (1, x.shape[d]):
            raise RuntimeError("repeat_interleave: repeats must have the same size as input "
                               "along dim (%d), got %d" % (x.shape[d], np.size(r)))
        if np.any(np.asarray(r) < 0):
            raise RuntimeError("repeat_interleave: repeats can not be negative")
        idx = np.repeat(np.arange(x.shape[d]), np.asarray(r).reshape(-1)
                        if np.ndim(r) else int(r))
        return x.index_select(d, wrap(idx.astype(np.int64)))


def _cat_parts(parts, d):
    """torch.diff's prepend/append joined to the input along d (numbers broadcast)."""
    like = next(p for p in parts if isinstance(p, TensorBase))
    ts = []
    for p in parts:
        if not isinstance(p, TensorBase):
            shape = list(like.shape)
            shape[d] = 1
            p = wrap(np.full(shape, p, like.dtype))
        ts.append(p)
    return Cat.apply(*ts, dim=d)
