"""lp_pool1d/2d/3d and local_response_norm, composed from differentiable ops (torch's
definitions, so its edge behaviour too: lp_pool's sign * relu(|.|) of the averaged powers)."""
from ..tensor_base import TensorBase
from .activation import relu
from .pool import avg_pool2d
from .pool_nd import avg_pool1d, avg_pool3d
from .shape import Pad
from .conv import _pair

__all__ = ["lp_pool1d", "lp_pool2d", "lp_pool3d", "local_response_norm"]


def _lp(fname, pool, n, input, norm_type, kernel_size, stride, ceil_mode):
    if not isinstance(input, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(input).__name__))
    k = _pair(kernel_size, "kernel_size", fname, n)
    area = 1
    for v in k:
        area *= v
    kw = dict(padding=0, ceil_mode=ceil_mode)
    out = pool(input.pow(norm_type), k if n > 1 else k[0],
               stride if stride is not None else None, **kw)
    return (out.sign() * relu(out.abs())).mul(area).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1/p); p = inf is max pooling in torch (not here)."""
    return _lp("lp_pool1d", avg_pool1d, 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp("lp_pool2d", avg_pool2d, 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp("lp_pool3d", avg_pool3d, 3, input, norm_type, kernel_size, stride, ceil_mode)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha * mean of x^2 over `size` neighbouring channels)^beta; the window of
    channel c is c - size//2 .. c + (size-1)//2, zero-padded at the ends (dim 1)."""
    if not isinstance(input, TensorBase):
        raise TypeError("local_response_norm: input must be a Tensor, got %s"
                        % type(input).__name__)
    if input.ndim < 3:
        raise ValueError("local_response_norm: Expected 3D or higher dimensionality input "
                         "(got %d dimensions)" % input.ndim)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError("local_response_norm: size must be a positive int, got %r" % (size,))
    if input.numel() == 0:
        return input
    C = input.shape[1]
    sq = input * input
    pads = ((0, 0), (size // 2, (size - 1) // 2)) + ((0, 0),) * (input.ndim - 2)
    sq = Pad.apply(sq, pads=pads)
    total = None
    for i in range(size):
        part = sq[:, i:i + C]
        total = part if total is None else total + part
    div = (total * (alpha / size) + k).pow(beta)
    return input / div
