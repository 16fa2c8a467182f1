"""nn.utils: gradient clipping, parameter/vector conversion, and (nn.utils.rnn) packed sequences."""
import math

import numpy as np

from ...autograd import sealed
from ...functions import cat
from ...ops.reduce import sum_of_squares
from ...tensor import Tensor
from .. import init as _init
from . import rnn  # noqa: F401  (nn.utils.rnn: packed sequences)
from . import parametrize, parametrizations, prune  # noqa: F401
from .weight_norm import weight_norm, remove_weight_norm  # noqa: F401
from .spectral_norm import spectral_norm, remove_spectral_norm  # noqa: F401


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so their joint norm is at most max_norm; returns the norm."""
    params = _grads(parameters)
    norm_type = float(norm_type)
    if not params:
        return Tensor(np.asarray(0.0, dtype=np.float32))
    dtype = params[0].grad._data.dtype
    if norm_type == math.inf:
        total = max(float(np.abs(p.grad._data).max(initial=0)) for p in params)
    else:
        acc = 0.0
        for p in params:
            g = p.grad._data
            if norm_type == 2 and g.dtype in (np.float32, np.float64):
                acc += sum_of_squares(g)  # one pass, summed in double, no float64 copy
                continue
            g = g.reshape(-1).astype(np.float64, copy=False)
            acc += float(np.sum(np.abs(g) ** norm_type)) if norm_type != 2 else float(g @ g)
        total = acc ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError("clip_grad_norm_: the total norm of order %s is non-finite" % norm_type)
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1:
        for p in params:
            p.grad._data *= dtype.type(coef)
    return Tensor(np.asarray(total, dtype=dtype))


def clip_grad_value_(parameters, clip_value):
    for p in _grads(parameters):
        np.clip(p.grad._data, -clip_value, clip_value, out=p.grad._data)


def parameters_to_vector(parameters):
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    i = 0
    for p in parameters:
        n = p.numel()
        sealed.writable(p._data)
        p._data[...] = vec._data[i:i + n].reshape(p.shape)
        i += n


def skip_init(module_cls, *args, **kwargs):
    """module_cls(*args, **kwargs) with its parameters left uninitialised (PyTorch's
    nn.utils.skip_init): the nn.init functions its constructor calls draw nothing and write
    nothing, so the values are whatever the allocation held.  For a caller that overwrites
    every parameter next (loading a checkpoint): it saves the random draws, and the global
    random stream is not advanced by them."""
    prev = _init._skipping()
    _init._state.skip = True
    try:
        return module_cls(*args, **kwargs)
    finally:
        _init._state.skip = prev
