"""Top-level tensor functions (dl.cat, dl.stack, dl.where, dl.exp, ...)."""
import builtins as _builtins

import numpy as np

from .ops import arith, shape as S
from .ops.einsum import einsum  # noqa: F401
from .ops.matmul import matmul  # noqa: F401
from .shapes import norm_dim as _norm_dim
from .tensor import Tensor
from .tensor_base import operand as _operand


def _tensors(seq, fname):
    seq = list(seq)
    if not seq:
        raise ValueError("%s: expected a non-empty sequence of tensors" % fname)
    for i, t in enumerate(seq):
        if not isinstance(t, Tensor):
            raise TypeError("%s: element %d is a %s, expected a Tensor" % (fname, i,
                                                                           type(t).__name__))
    return seq


def cat(tensors, dim=0):
    ts = _tensors(tensors, "cat")
    # torch's legacy rule: 1-D empty tensors are skipped whatever the others' shape
    kept = [t for t in ts if not (t.ndim == 1 and t.shape[0] == 0)]
    if kept and len(kept) < len(ts):
        ts = kept
    nd = ts[0].ndim
    d = _norm_dim(dim, nd, "cat")
    for i, t in enumerate(ts):
        if t.ndim != nd or _builtins.any(t.shape[j] != ts[0].shape[j] for j in range(nd) if j != d):
            raise ValueError("cat: tensor %d has shape %s, which does not match %s outside "
                             "dim %d" % (i, tuple(t.shape), tuple(ts[0].shape), d))
    return S.Cat.apply(*ts, dim=d)


concat = concatenate = cat


def stack(tensors, dim=0):
    ts = _tensors(tensors, "stack")
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise ValueError("stack: tensor %d has shape %s, expected %s"
                             % (i, tuple(t.shape), tuple(ts[0].shape)))
    d = _norm_dim(dim, ts[0].ndim + 1, "stack")
    return S.Stack.apply(*ts, dim=d)


def where(condition, input=None, other=None):
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if input is None and other is None:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in np.nonzero(cond))
    if cond.dtype != np.bool_:
        raise TypeError("where: condition must be a bool tensor, got %s" % cond.dtype)
    like = input if isinstance(input, Tensor) else other
    if not isinstance(like, Tensor):
        return Tensor._wrap(np.where(cond, input, other))
    a = _operand(input, like)
    b = _operand(other, like)
    return arith.Where.apply(cond, a, b)


def _unary(name):
    def f(x, *args, **kwargs):
        if not isinstance(x, Tensor):
            raise TypeError("%s: expected a Tensor, got %s" % (name, type(x).__name__))
        return getattr(x, name)(*args, **kwargs)
    f.__name__ = name
    f.__doc__ = "dl.%s(x) is x.%s()" % (name, name)
    return f


for _n in ("exp log log1p sqrt rsqrt abs sin cos clamp clip neg sum mean var std max min "
           "amax amin argmax argmin prod reshape flatten squeeze unsqueeze transpose permute "
           "tril triu gather masked_fill relu sigmoid tanh softmax log_softmax logsumexp "
           "cumsum flip sort argsort topk split chunk unbind isnan isinf isfinite sign "
           "square norm floor ceil round all any t").split():
    globals()[_n] = _unary(_n)


def maximum(a, b):
    if not isinstance(b, Tensor):  # torch.maximum takes two tensors (clamp takes a number)
        raise TypeError("maximum: other must be a Tensor, got %s" % type(b).__name__)
    return a.maximum(b)


def minimum(a, b):
    if not isinstance(b, Tensor):
        raise TypeError("minimum: other must be a Tensor, got %s" % type(b).__name__)
    return a.minimum(b)


def add(a, b, alpha=1):
    return a.add(b, alpha=alpha)


def mul(a, b):
    return a * b


def sub(a, b, alpha=1):
    return a.sub(b, alpha=alpha)


def div(a, b, *, rounding_mode=None):
    return a.div(b, rounding_mode=rounding_mode)


def pow(a, b):  # noqa: A001
    return a ** b if isinstance(a, Tensor) else _operand(a, b) ** b


def mm(a, b):
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError("mm: both arguments must be 2-D, got %s and %s"
                         % (tuple(a.shape), tuple(b.shape)))
    return matmul(a, b)


def bmm(a, b):
    if a.ndim != 3 or b.ndim != 3:
        raise ValueError("bmm: both arguments must be 3-D, got %s and %s"
                         % (tuple(a.shape), tuple(b.shape)))
    if a.shape[0] != b.shape[0]:
        raise ValueError("bmm: batch sizes differ: %d and %d" % (a.shape[0], b.shape[0]))
    return matmul(a, b)


def dot(a, b):
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("dot: expected two Tensors, got %s and %s"
                        % (type(a).__name__, type(b).__name__))
    if a.ndim != 1 or b.ndim != 1 or a.shape[0] != b.shape[0]:
        raise ValueError("dot: expected two 1-D tensors of one length, got shapes %s and %s"
                         % (tuple(a.shape), tuple(b.shape)))
    if a.dtype != b.dtype:
        raise TypeError("dot: expected both vectors to have the same dtype, got %s and %s"
                        % (a.dtype, b.dtype))
    return (a * b).sum()


def outer(a, b):
    return a.unsqueeze(1) * b.unsqueeze(0)


def allclose(a, b, rtol=1e-5, atol=1e-8):
    return a.allclose(b, rtol, atol)


def equal(a, b):
    return a.equal(b)


def broadcast_to(x, shape):
    return x.expand(*shape)
