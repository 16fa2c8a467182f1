"""Top-level tensor functions (dl.cat, dl.stack, dl.where, dl.exp, ...)."""
import builtins as _builtins

import numpy as np

from . import dtypes as _dtypes
from .ops import arith, promote as _promote, shape as S
from .ops.einsum import einsum  # noqa: F401
from .ops.matmul import matmul  # noqa: F401
from .ops.random_fill import bernoulli, normal, poisson, randint_like  # noqa: F401
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


def _promoted(ts):
    """The tensors cast to their common dtype (torch's promotion: int with float is float)."""
    dt = ts[0].dtype
    for t in ts[1:]:
        if t.dtype != dt:
            dt = _dtypes.promote_types(dt, t.dtype)
    return [t if t.dtype == dt else S.Cast.apply(t, dtype=dt) for t in ts]


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
    return S.Cat.apply(*_promoted(ts), dim=d)


concat = concatenate = cat


def stack(tensors, dim=0):
    ts = _tensors(tensors, "stack")
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise ValueError("stack: tensor %d has shape %s, expected %s"
                             % (i, tuple(t.shape), tuple(ts[0].shape)))
    d = _norm_dim(dim, ts[0].ndim + 1, "stack")
    return S.Stack.apply(*_promoted(ts), dim=d)


def where(condition, input=None, other=None):
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if input is None and other is None:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in np.nonzero(cond))
    if cond.dtype != np.bool_:
        raise TypeError("where: condition must be a bool tensor, got %s" % cond.dtype)
    if isinstance(input, Tensor):
        a, b = _promote.binary_operands(input, other)
    elif isinstance(other, Tensor):
        b, a = _promote.binary_operands(other, input)
    else:  # two numbers: torch's dtype for them (a float gives the default float dtype)
        dt = _dtypes.scalar_result_dtype(_dtypes.scalar_result_dtype(_dtypes.bool_, input), other)
        return Tensor._wrap(np.where(cond, dt.type(input), dt.type(other)))
    return arith.Where.apply(cond, a, b)


def result_type(tensor1, tensor2):
    """torch.result_type: the dtype an arithmetic op on the two (tensors or numbers) gives."""
    if isinstance(tensor1, Tensor):
        return _promote.binary_operands(tensor1, tensor2)[0].dtype
    if isinstance(tensor2, Tensor):
        return _promote.binary_operands(tensor2, tensor1)[0].dtype
    return _dtypes.scalar_result_dtype(_dtypes.scalar_result_dtype(_dtypes.bool_, tensor1),
                                       tensor2)


def is_floating_point(input):
    return input.is_floating_point()


def _method_as_function(name, doc):
    """dl.name(t, ...) running t.name(...), after checking that t is a Tensor."""
    def f(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError("%s: expected a Tensor, got %s" % (name, type(input).__name__))
        return getattr(input, name)(*args, **kwargs)
    f.__name__ = name
    f.__doc__ = doc % (name, name)
    return f


for _n in ("exp log log1p sqrt rsqrt abs sin cos clamp clip neg sum mean var std max min "
           "amax amin argmax argmin prod reshape flatten squeeze unsqueeze transpose permute "
           "tril triu gather masked_fill relu sigmoid tanh softmax log_softmax logsumexp "
           "cumsum flip sort argsort topk split chunk unbind isnan isinf isfinite sign "
           "square norm floor ceil round all any t cumprod nonzero unique multinomial narrow diag "
           "roll diff scatter index_put mm mv dot addmm argwhere asin acos atan tan sinh cosh "
           "asinh acosh atanh arcsin arccos arctan arcsinh arccosh arctanh expm1 exp2 log2 log10 "
           "atan2 arctan2 fmod remainder hypot logaddexp lerp addcmul addcdiv clamp_min clamp_max "
           "nan_to_num logical_and logical_or logical_xor logical_not subtract multiply divide "
           "true_divide floor_divide negative reciprocal eq ne lt le gt ge greater greater_equal "
           "less less_equal not_equal absolute isclose count_nonzero masked_select index_select "
           "outer ger bincount").split():
    globals()[_n] = _method_as_function(_n, "dl.%s(x) is x.%s()")


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
    if isinstance(a, Tensor):
        return a ** b
    if not isinstance(b, Tensor):  # torch.pow needs a tensor base or a tensor exponent
        raise TypeError("pow: expected a Tensor as input or exponent, got %s and %s"
                        % (type(a).__name__, type(b).__name__))
    return b.__rpow__(a)


def mm(a, b):
    if getattr(a, "is_sparse", False) or getattr(b, "is_sparse", False):
        return a @ b  # sparse @ dense or dense @ sparse: dense, as torch.mm gives
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError("mm: both arguments must be 2-D, got %s and %s"
                         % (tuple(a.shape), tuple(b.shape)))
    return matmul(a, b)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """torch.repeat_interleave(input, repeats, dim); with one tensor of counts, the indices
    0..n-1 each repeated that many times."""
    if repeats is None:
        counts = input
        return Tensor._wrap(np.repeat(np.arange(len(counts), dtype=np.int64),
                                      np.asarray(counts._data, np.int64)))
    return input.repeat_interleave(repeats, dim, output_size=output_size)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors (differentiable: each grid is an expanded view)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError("meshgrid: indexing must be 'ij' or 'xy', got %r" % (indexing,))
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor) or t.ndim > 1:
            raise RuntimeError("meshgrid: expects 0-D or 1-D tensors, got %s at %d"
                               % (getattr(t, "shape", type(t).__name__), i))
        if t.dtype != tensors[0].dtype:
            raise RuntimeError("meshgrid: expects all tensors to have the same dtype, got %s "
                               "and %s" % (tensors[0].dtype, t.dtype))
    ts = [t.reshape(-1) for t in tensors]
    shape = tuple(t.shape[0] for t in ts)
    n = len(ts)
    grids = [t.reshape(*[-1 if j == i else 1 for j in range(n)]).expand(*shape)
             for i, t in enumerate(ts)]
    if indexing == "xy" and n >= 2:  # Cartesian: the first two axes swapped
        grids = [g.transpose(0, 1) for g in grids]
    return tuple(grids)


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
