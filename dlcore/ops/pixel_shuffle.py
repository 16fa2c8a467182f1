"""pixel_shuffle / pixel_unshuffle / channel_shuffle: pure data movement (reshape, permute,
reshape), so the gradient is the inverse movement, supplied by autograd."""
import numbers

from ..tensor_base import TensorBase

__all__ = ["pixel_shuffle", "pixel_unshuffle", "channel_shuffle"]


def _check(input, factor, fname, name):
    if not isinstance(input, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(input).__name__))
    if input.ndim < 3:
        raise ValueError("%s: input must have at least 3 dims (*, C, H, W), got shape %s"
                         % (fname, tuple(input.shape)))
    if isinstance(factor, bool) or not isinstance(factor, numbers.Integral) or factor < 1:
        raise ValueError("%s: %s must be a positive int, got %r" % (fname, name, factor))
    return int(factor)


def pixel_shuffle(input, upscale_factor):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r)."""
    r = _check(input, upscale_factor, "pixel_shuffle", "upscale_factor")
    *lead, C, H, W = input.shape
    if C % (r * r):
        raise ValueError("pixel_shuffle: the channel count (%d) must be divisible by "
                         "upscale_factor^2 (%d)" % (C, r * r))
    n = len(lead)
    x = input.reshape(*lead, C // (r * r), r, r, H, W)
    b = tuple(range(n))
    x = x.permute(*b, n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, C // (r * r), H * r, W * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W)."""
    r = _check(input, downscale_factor, "pixel_unshuffle", "downscale_factor")
    *lead, C, H, W = input.shape
    if H % r or W % r:
        raise ValueError("pixel_unshuffle: height (%d) and width (%d) must be divisible by "
                         "downscale_factor (%d)" % (H, W, r))
    n = len(lead)
    x = input.reshape(*lead, C, H // r, r, W // r, r)
    b = tuple(range(n))
    x = x.permute(*b, n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, C * r * r, H // r, W // r)


def channel_shuffle(input, groups):
    """(N, g * k, *) -> the same shape with channels reordered as (k, g)."""
    g = _check(input, groups, "channel_shuffle", "groups")
    N, C = input.shape[0], input.shape[1]
    if C % g:
        raise ValueError("channel_shuffle: the channel count (%d) must be divisible by groups "
                         "(%d)" % (C, g))
    rest = tuple(input.shape[2:])
    x = input.reshape(N, g, C // g, *rest).transpose(1, 2)
    return x.reshape(N, C, *rest)
