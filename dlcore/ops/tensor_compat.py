"""Tensor methods ordinary torch scripts call that are compositions of existing ops: unfold
(sliding windows), index_copy, masked_scatter, scatter_reduce, sum_to_size, split_with_sizes,
unique_consecutive, fill_diagonal_, quantile, the method forms of where/broadcast_to, the
in-place shape changes (squeeze_, unsqueeze_, t_, transpose_, swapaxes_, swapdims_), the
legacy new(), byte()/char() and the storage facts (data_ptr, nbytes, itemsize)."""
import numpy as np

from ..autograd import inplace as IP
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..dtypes import int8, uint8, is_floating
from ..shapes import Size, norm_dim, size_args
from ..tensor_base import TensorBase, wrap
from .inplace_math import _in_place
from .join import stack, where
from .math_extra import _along
from .select import _check_scatter, _scatter_index

__all__ = ["index_copy", "masked_scatter", "scatter_reduce", "unique_consecutive", "quantile",
           "nanquantile"]

_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _raw(x):
    return x._data if isinstance(x, TensorBase) else np.asarray(x)


def index_copy(input, dim, index, source):
    """A copy of input whose slices index[i] along dim are source's slice i."""
    if input.ndim == 0:
        return index_copy(input.reshape(1), 0 if dim in (0, -1) else dim, index,
                          source.reshape(-1)).reshape(())
    d = norm_dim(dim, input.ndim, "index_copy")
    idx = _raw(index)
    if idx.dtype != np.int64 or idx.ndim > 1:
        raise IndexError("index_copy(): index must be a 0-D or 1-D int64 tensor, got %s %d-D"
                         % (idx.dtype, idx.ndim))
    idx = idx.reshape(-1)
    if source.ndim != input.ndim or source.shape[d] != idx.shape[0] or any(
            source.shape[a] != input.shape[a] for a in range(input.ndim) if a != d):
        raise RuntimeError("index_copy(): source %s does not fit self %s with %d indices along "
                           "dim %d" % (tuple(source.shape), tuple(input.shape), idx.shape[0], d))
    if source.dtype != input.dtype:
        raise RuntimeError("index_copy(): self and source expected to have the same dtype, "
                           "but got %s and %s" % (input.dtype, source.dtype))
    full = np.broadcast_to(_along(d, idx.shape[0], source.ndim, idx), source.shape)
    return input.scatter(d, wrap(np.ascontiguousarray(full)), source)


def masked_scatter(input, mask, source):
    """input with the positions where mask is True filled, in row-major order, from source."""
    m = _raw(mask)
    if m.dtype != np.bool_:
        raise RuntimeError("masked_scatter_: expected BoolTensor for mask, got %s" % m.dtype)
    shape = np.broadcast_shapes(tuple(input.shape), m.shape)
    if tuple(input.shape) != shape:
        input = input.expand(*shape)
    m = np.broadcast_to(m, shape)
    pos = np.flatnonzero(m)
    if pos.size > source.numel():
        raise RuntimeError("masked_scatter: the mask has %d True entries but source only %d "
                           "elements" % (pos.size, source.numel()))
    if source.dtype != input.dtype:
        raise RuntimeError("masked_scatter: expected self and source to have the same dtype, "
                           "got %s and %s" % (input.dtype, source.dtype))
    flat = input.reshape(-1)
    vals = source.reshape(-1)[:pos.size]
    return flat.scatter(0, wrap(pos.astype(np.int64)), vals).reshape(input.shape)


class ScatterReduce(Function):
    def forward(self, a, src, dim, index, reduce, include_self):
        key = _scatter_index(index, dim)
        s = src[tuple(slice(0, n) for n in index.shape)]
        out = np.array(a, copy=True)
        hit = np.zeros(a.shape, bool)
        hit[key] = True
        count = np.zeros(a.shape, np.int64)
        np.add.at(count, key, 1)
        if not include_self:
            ident = {"sum": 0, "mean": 0, "prod": 1}.get(reduce)
            if ident is not None:
                out[hit] = ident
            else:
                info = np.finfo(a.dtype) if is_floating(a.dtype) else np.iinfo(a.dtype)
                out[hit] = info.min if reduce == "amax" else info.max
        ufunc = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
                 "amin": np.minimum}[reduce]
        ufunc.at(out, key, s)
        if reduce == "mean":
            n = count + (1 if include_self else 0)
            div = np.where(hit, np.maximum(n, 1), 1)
            out = (out / div).astype(a.dtype) if is_floating(a.dtype) else out // div
        if self.requires_grad:
            self.a, self.s, self.out, self.key = a, s, out, key
            self.dim, self.index, self.reduce, self.include_self = dim, index, reduce, include_self
            self.hit, self.count, self.src_shape = hit, count, src.shape
        return out

    def backward(self, g):
        r, key, hit = self.reduce, self.key, self.hit
        ga = np.array(g, copy=True)
        if not self.include_self:
            ga[hit] = 0
        if r == "sum":
            gs = g[key]
        elif r == "mean":
            n = self.count + (1 if self.include_self else 0)
            gn = g / np.maximum(n, 1)
            gs = gn[key]
            if self.include_self:
                ga = np.where(hit, gn, g)
        elif r == "prod":
            # d out / d x = product of the other members: out / x, recomputed where x == 0
            others = self._others_product(key)
            gs = g[key] * others
            if self.include_self:
                ga = np.where(hit, g * self._self_others(), g)
        else:  # amax / amin: the gradient shared evenly by the members equal to the result
            winners = np.zeros(self.a.shape, np.int64)
            is_win_s = self.s == self.out[key]
            np.add.at(winners, key, is_win_s.astype(np.int64))
            if self.include_self:
                is_win_a = hit & (self.a == self.out)
                winners += is_win_a
            share = g / np.maximum(winners, 1)
            gs = np.where(is_win_s, share[key], 0)
            if self.include_self:
                ga = np.where(hit, np.where(is_win_a, share, 0), g)
        full = np.zeros(self.src_shape, g.dtype)
        full[tuple(slice(0, n) for n in self.index.shape)] = gs
        return ga.astype(g.dtype), full

    def _others_product(self, key):
        # d out / d x for a scattered x: its group's product without x (out / x where x != 0;
        # for a 0, the other members multiplied out explicitly)
        s, out = self.s, self.out
        with np.errstate(divide="ignore", invalid="ignore"):
            res = np.where(s != 0, out[key] / np.where(s != 0, s, 1), 0).astype(s.dtype)
        zeros = np.flatnonzero(s.reshape(-1) == 0)
        if zeros.size:
            target = np.ravel_multi_index(np.broadcast_arrays(*key), self.a.shape).reshape(-1)
            flat_s = s.reshape(-1)
            flat_res = res.reshape(-1)
            for z in zeros:
                members = np.flatnonzero(target == target[z])
                prod = np.prod(flat_s[members[members != z]])
                if self.include_self:
                    prod = prod * self.a.reshape(-1)[target[z]]
                flat_res[z] = prod
            res = flat_res.reshape(s.shape)
        return res

    def _self_others(self):
        # d out / d self where self joined the product: the product of the scattered members
        prod = np.ones(self.a.shape, self.a.dtype)
        np.multiply.at(prod, self.key, self.s)
        return prod


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """torch.scatter_reduce: src's elements reduced into a copy of input at index along dim
    with 'sum', 'prod', 'mean', 'amax' or 'amin'."""
    reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)   # torch's aliases
    if reduce not in _REDUCES:
        raise RuntimeError("scatter_reduce(): reduce argument must be one of %s, got %r"
                           % (", ".join(_REDUCES), reduce))
    if not isinstance(src, TensorBase):
        raise TypeError("scatter_reduce(): src must be a Tensor, got %s" % type(src).__name__)
    if src.dtype != input.dtype:
        raise RuntimeError("scatter_reduce(): Expected self.dtype to be equal to src.dtype")
    if input.ndim == 0:   # torch: a 0-d tensor scatters as a 1-element vector
        if dim not in (0, -1):
            raise IndexError("scatter_reduce(): dim %r out of range for a 0-d tensor" % (dim,))
        one = [t.reshape(1) if isinstance(t, TensorBase) and t.ndim == 0 else t
               for t in (index, src)]
        return scatter_reduce(input.reshape(1), 0, one[0], one[1], reduce,
                              include_self=include_self).reshape(())
    d, idx = _check_scatter(input, dim, index, src, "scatter_reduce")
    return ScatterReduce.apply(input, src, dim=d, index=idx, reduce=reduce,
                               include_self=bool(include_self))


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive elements (flattened, or slices along dim)."""
    a = input._data
    if dim is None:
        a = a.reshape(-1)
        axis = 0
    else:
        axis = norm_dim(dim, input.ndim, "unique_consecutive")
    n = a.shape[axis]
    if n == 0:
        starts = np.zeros(0, np.int64)
    else:
        moved = np.moveaxis(a, axis, 0).reshape(n, -1)
        change = np.any(moved[1:] != moved[:-1], axis=1)
        starts = np.concatenate([[0], np.flatnonzero(change) + 1]).astype(np.int64)
    values = np.take(a, starts, axis=axis)
    out = [wrap(values)]
    if return_inverse:
        inv = (np.cumsum(np.isin(np.arange(n), starts)) - 1).astype(np.int64)
        out.append(wrap(inv.reshape(input.shape) if dim is None else inv))
    if return_counts:
        out.append(wrap(np.diff(np.append(starts, n)).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def _quantile(input, q, dim, keepdim, interpolation, fname, ignore_nan):
    if not is_floating(input.dtype):
        raise RuntimeError("%s() input tensor must be either float or double dtype" % fname)
    modes = ("linear", "lower", "higher", "midpoint", "nearest")
    if interpolation not in modes:
        raise ValueError("%s() interpolation must be one of %s. Got '%s'"
                         % (fname, ", ".join(modes), interpolation))
    qs = _raw(q).astype(np.float64)
    if qs.ndim > 1:
        raise RuntimeError("%s() q must be a scalar or 1D tensor" % fname)
    if ((qs < 0) | (qs > 1)).any() or np.isnan(qs).any():
        raise RuntimeError("%s() q values must be in the range [0, 1]" % fname)
    if input.ndim == 0:
        if dim is not None and dim not in (0, -1):
            raise IndexError("%s(): dim %r out of range for a 0-d tensor" % (fname, dim))
        r = _quantile(input.reshape(1), q, 0, keepdim, interpolation, fname, ignore_nan)
        return r.reshape(()) if np.ndim(_raw(q)) == 0 else r.reshape(-1)
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else norm_dim(dim, input.ndim, fname)
    if x.shape[d] == 0:
        raise IndexError("%s() input tensor must be non-empty" % fname)
    srt = x.sort(dim=d)[0]   # NaN sorts last, as torch's
    nan = np.isnan(x._data)
    valid = (x.shape[d] - nan.sum(axis=d, keepdims=True)) if ignore_nan else \
        np.full(np.sum(nan, axis=d, keepdims=True).shape, x.shape[d])
    results = []
    q_flat = q.reshape(-1) if isinstance(q, TensorBase) and q.requires_grad else None
    for qi, qv in enumerate(qs.reshape(-1)):
        pos = qv * (np.maximum(valid, 1) - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(valid, 1) - 1)
        frac = (pos - lo).astype(x._data.dtype)
        if interpolation == "lower":
            hi, frac = lo, np.zeros_like(frac)
        elif interpolation == "higher":
            lo, frac = np.ceil(pos).astype(np.int64), np.zeros_like(frac)
            hi = lo
        elif interpolation == "nearest":
            lo = np.round(pos).astype(np.int64)   # round half to even, as torch
            hi, frac = lo, np.zeros_like(frac)
        elif interpolation == "midpoint":
            hi = np.ceil(pos).astype(np.int64)
            frac = np.where(hi > lo, 0.5, 0.0).astype(x._data.dtype)
        a = srt.gather(d, wrap(lo))
        b = srt.gather(d, wrap(hi))
        if q_flat is not None and interpolation == "linear":
            # the weight as a function of q, so q gets its gradient as in torch
            span = wrap((np.maximum(valid, 1) - 1).astype(x._data.dtype))
            w = q_flat[qi].to(x.dtype) * span - wrap(lo.astype(x._data.dtype))
        else:
            w = wrap(frac)
        r = a + (b - a) * w
        if not ignore_nan:
            anynan = nan.any(axis=d, keepdims=True)
            if anynan.any():
                r = r.masked_fill(wrap(anynan), float("nan"))
        elif (valid == 0).any():
            r = r.masked_fill(wrap(valid == 0), float("nan"))
        if not keepdim:
            r = r.squeeze(d)
        elif dim is None:
            r = r.reshape((1,) * input.ndim)
        results.append(r)
    if qs.ndim == 0:
        return results[0]
    return stack(results, 0)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile(input, q, dim, keepdim, interpolation, "quantile", False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile(input, q, dim, keepdim, interpolation, "nanquantile", True)


def _reshaped_in_place(name, method):
    """Tensor.<name>: the view Tensor.<method> gives, made this tensor's own shape."""

    def run(self, *args, **kwargs):
        if self.requires_grad and is_grad_enabled():
            IP.check_leaf(self, name)
            # the recorded view reads a stand-in holding self's place in the graph: nodes keep
            # their parents, and self (whose shape changes) must not be one of them
            old = wrap(self._data, True)
            old._ctx, old._idx = self._ctx, self._idx
            res = getattr(old, method)(*args, **kwargs)
            self._data, self._ctx, self._idx = res._data, res._ctx, res._idx
        else:
            self._data = getattr(wrap(self._data), method)(*args, **kwargs)._data
        return self

    run.__name__ = name
    return run


class CompatMethods:
    __slots__ = ()

    def unfold(self, dimension, size, step):
        """Every slice of `size` elements along `dimension`, `step` apart, as a new last dim."""
        d = norm_dim(dimension, max(self.ndim, 1), "unfold")
        n_along = self.shape[d] if self.ndim else 1
        if size < 0 or size > n_along:
            raise RuntimeError("maximum size for tensor at dimension %d is %d but size is %d"
                               % (d, n_along, size))
        if step <= 0:
            raise RuntimeError("step is %d but must be > 0" % step)
        if self.ndim == 0:
            return self.reshape(1)
        n = (n_along - size) // step + 1
        idx = (np.arange(n)[:, None] * step + np.arange(size)[None, :]).reshape(-1)
        picked = self.index_select(d, wrap(idx.astype(np.int64)))
        shape = list(self.shape[:d]) + [n, size] + list(self.shape[d + 1:])
        return picked.reshape(shape).movedim(d + 1, -1)

    def index_copy(self, dim, index, source):
        return index_copy(self, dim, index, source)

    def masked_scatter(self, mask, source):
        return masked_scatter(self, mask, source)

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        return scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
        return unique_consecutive(self, return_inverse, return_counts, dim)

    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return quantile(self, q, dim, keepdim, interpolation=interpolation)

    def nanquantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return nanquantile(self, q, dim, keepdim, interpolation=interpolation)

    def where(self, condition, y):
        return where(condition, self, y)

    def broadcast_to(self, size):
        return self.expand(*size)

    def sum_to_size(self, *size):
        if len(size) == 1 and isinstance(size[0], (tuple, list)):
            size = tuple(size[0])
        size = tuple(int(s) for s in size)
        if not _expandable(size, tuple(self.shape)):
            raise RuntimeError("size {%s} is not expandable to size {%s}."
                               % (", ".join(map(str, size)), ", ".join(map(str, self.shape))))
        lead = self.ndim - len(size)
        out = self.sum(tuple(range(lead))) if lead else self
        dims = tuple(i for i, s in enumerate(size) if s == 1 and out.shape[i] != 1)
        return out.sum(dims, keepdim=True) if dims else out

    def split_with_sizes(self, split_sizes, dim=0):
        d = norm_dim(dim, self.ndim, "split_with_sizes")
        sizes = [int(s) for s in split_sizes]
        if sum(sizes) != self.shape[d] or any(s < 0 for s in sizes):
            raise RuntimeError("split_with_sizes expects split_sizes to sum exactly to %d (input "
                               "tensor's size at dimension %d), but got split_sizes=%s"
                               % (self.shape[d], d, sizes))
        return self.split(sizes, d)

    def _filled_diagonal(self, fill_value, wrap_around=False):
        if self.ndim < 2:
            raise RuntimeError("dimensions must larger than 1")
        if self.ndim > 2 and len(set(self.shape)) != 1:
            raise RuntimeError("all dimensions of input must be of equal length")
        mask = np.zeros(self.shape, bool)
        np.fill_diagonal(mask, True, wrap=bool(wrap_around) and self.ndim == 2)
        return self.masked_fill(wrap(mask), fill_value)

    def fill_diagonal_(self, fill_value, wrap=False):
        return _fill_diagonal_in_place(self, fill_value, wrap)

    def resize_(self, *sizes, memory_format=None):
        """torch's resize_: the same storage order, the first elements kept; a larger size adds
        zeros (torch leaves them uninitialized).  Refused on a tensor that requires grad."""
        shape = size_args(sizes, "resize_")
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError("cannot resize variables that require grad")
        old = self._data
        if old.shape == shape:
            return self
        n = int(np.prod(shape))
        flat = np.zeros(n, old.dtype)
        k = min(n, old.size)
        flat[:k] = old.reshape(-1)[:k]
        IP.check_leaf(self, "resize_")
        IP.version.bump(old)
        self._data = flat.reshape(shape)
        IP.version.bump(self._data)
        return self

    def resize_as_(self, other, memory_format=None):
        return self.resize_(*other.shape)

    def new(self, *args):
        """Legacy constructor in self's dtype: new(2, 3) or new(Size) uninitialized, new(data) a
        copy of a sequence, array or tensor, new() empty."""
        if not args:
            return wrap(np.zeros((0,), self._data.dtype))
        if len(args) == 1 and not isinstance(args[0], Size) and isinstance(
                args[0], (list, tuple, np.ndarray, TensorBase)):
            return wrap(np.array(_raw(args[0]), dtype=self._data.dtype))
        return wrap(np.empty(size_args(args, "new"), self._data.dtype))

    @property
    def mH(self):
        """The conjugate transpose of the last two dims (dlcore is real: mT)."""
        if self.ndim < 2:
            raise RuntimeError("tensor.mH is only supported on matrices or batches of matrices. "
                               "Got %d-D tensor." % self.ndim)
        return self.transpose(-2, -1)

    @property
    def H(self):
        if self.ndim not in (0, 2):
            raise RuntimeError("tensor.H is only supported on matrices (2-D tensors). Got %d-D "
                               "tensor." % self.ndim)
        return self if self.ndim == 0 else self.transpose(0, 1)

    def adjoint(self):
        return self.mH

    def byte(self):
        return self.to(uint8)

    def char(self):
        return self.to(int8)

    def data_ptr(self):
        return int(self._data.__array_interface__["data"][0])

    @property
    def nbytes(self):
        return int(self._data.nbytes)

    @property
    def itemsize(self):
        return int(self._data.itemsize)


def _expandable(size, shape):
    if len(size) > len(shape):
        return False
    for s, t in zip(reversed(size), reversed(shape)):
        if s != t and s != 1:
            return False
    return True


_fill_diagonal_in_place = _in_place("fill_diagonal_", "_filled_diagonal")

for _name, _method in (("squeeze_", "squeeze"), ("unsqueeze_", "unsqueeze"), ("t_", "t"),
                       ("transpose_", "transpose"), ("swapaxes_", "swapaxes"),
                       ("swapdims_", "swapdims")):
    setattr(CompatMethods, _name, _reshaped_in_place(_name, _method))
for _name in ("index_copy", "masked_scatter", "scatter_reduce", "index_add", "index_fill"):
    setattr(CompatMethods, _name + "_", _in_place(_name + "_", _name))
