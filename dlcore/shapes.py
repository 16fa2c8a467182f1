"""Shapes and dims as plain Python values: Size, SortResult, and the checks that turn a dim or
shape argument into normalized ints with PyTorch's error messages.

A leaf module: it imports nothing from dlcore, so every layer can use it.
"""
import numbers

import numpy as np


class Size(tuple):
    """A shape, as PyTorch's torch.Size (a tuple that prints as one)."""

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return "dl.Size(%s)" % list(self)


class SortResult(tuple):
    """(values, indices) with named fields, like torch.return_types."""

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


def norm_dim(dim, ndim, fname):
    """`dim` as an index in [0, ndim) (a 0-d tensor accepts 0 and -1)."""
    if not isinstance(dim, (numbers.Integral, np.integer)):
        raise TypeError("%s: dim must be an int, got %r" % (fname, dim))
    lo = -max(ndim, 1)
    hi = max(ndim, 1) - 1
    if not lo <= dim <= hi:
        raise IndexError("%s: dim %d is out of range for a tensor with %d dims (expected "
                         "[%d, %d])" % (fname, dim, ndim, lo, hi))
    return int(dim) % max(ndim, 1)


def norm_axes(dim, ndim, fname):
    """A reduction's `dim` (None, an int or a sequence) as a tuple of axes, None for all."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        ax = tuple(norm_dim(d, ndim, fname) for d in dim)
        if len(set(ax)) != len(ax):
            raise ValueError("%s: dim %s repeats an axis" % (fname, tuple(dim)))
        return ax if ndim else None
    if ndim == 0:
        norm_dim(dim, ndim, fname)
        return None
    return (norm_dim(dim, ndim, fname),)


def expand_reduced(g, shape, axis, keepdim):
    """A reduction's gradient `g` with the reduced axes put back, broadcast to the input's
    `shape` (axis: a tuple of axes, or None for all)."""
    if axis is None:
        return np.broadcast_to(np.reshape(g, (1,) * len(shape)), shape)
    if not keepdim:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, shape)


def var_correction(unbiased, correction):
    """The divisor's offset of var/std from PyTorch's two spellings (default 1)."""
    if correction is not None:
        return correction
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


def resolve_shape(shape, size, fname):
    """`shape` with its one -1 filled in so that it holds `size` elements."""
    if shape.count(-1) > 1:
        raise ValueError("%s: only one dimension can be -1, got %s" % (fname, shape))
    if any(s < -1 for s in shape):
        raise ValueError("%s: invalid shape %s" % (fname, shape))
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if -1 in shape:
        if known == 0 or size % known:
            raise ValueError("%s: shape %s is invalid for input of size %d" % (fname, shape, size))
        shape = tuple(size // known if s == -1 else s for s in shape)
    elif known != size:
        raise ValueError("%s: shape %s is invalid for input of size %d" % (fname, shape, size))
    return shape


def size_args(size, fname):
    """A creation function's sizes, given as ints or one sequence, as a tuple of ints >= 0."""
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (numbers.Integral, np.integer)) or s < 0:
            raise ValueError("%s: sizes must be non-negative ints, got %s" % (fname, size))
    return tuple(int(s) for s in size)


def steps_count(steps, fname):
    """linspace/logspace's `steps` as an int: torch takes an int or a 0-d integer tensor and
    refuses a float or a bool (TypeError, where NumPy would truncate or count True as 1)."""
    data = getattr(steps, "_data", None)          # a dlcore Tensor (a leaf module: no import)
    if data is not None and data.ndim == 0 and data.dtype.kind in "iu":
        steps = int(data)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError("%s(): argument 'steps' must be int, not %s"
                        % (fname, type(steps).__name__))
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    return int(steps)
