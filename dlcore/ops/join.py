"""cat/stack/where for the ops modules that compose them (dlcore.functions builds on the
Tensor class, which imports those modules; importing it back would make a cycle): operands
promoted to one dtype as torch's cat/stack/where do, then the Cat/Stack/Where Functions."""
import functools

import numpy as np

from ..dtypes import promote_types
from ..shapes import norm_dim
from ..tensor_base import raw
from .arith import Where
from .promote import binary_operands
from .shape import Cat, Stack


def _promoted(ts):
    dt = functools.reduce(promote_types, [t.dtype for t in ts])
    return [t if t.dtype == dt else t.to(dt) for t in ts]


def cat(tensors, dim=0):
    ts = list(tensors)
    nd = ts[0].ndim
    d = norm_dim(dim, nd, "cat")
    for i, t in enumerate(ts):
        if t.ndim != nd or any(t.shape[j] != ts[0].shape[j] for j in range(nd) if j != d):
            raise ValueError("cat: tensor %d has shape %s, which does not match %s outside "
                             "dim %d" % (i, tuple(t.shape), tuple(ts[0].shape), d))
    return Cat.apply(*_promoted(ts), dim=d)


def stack(tensors, dim=0):
    ts = list(tensors)
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise ValueError("stack: tensor %d has shape %s, expected %s"
                             % (i, tuple(t.shape), tuple(ts[0].shape)))
    return Stack.apply(*_promoted(ts), dim=norm_dim(dim, ts[0].ndim + 1, "stack"))


def where(condition, a, b):
    a, b = binary_operands(a, b)
    return Where.apply(np.asarray(raw(condition), bool), a, b)
