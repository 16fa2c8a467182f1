"""conv3d on the 2-D convolution kernel: a sum over the kernel's depth taps of conv2d on the
depth slices each tap reads.

Output depth o reads input depths o * stride + t * dilation (t = 0 .. kD - 1), so for each tap
t the slices it reads are one strided slice of the (padded) input; they are folded into the
batch dim, convolved with the tap's (C_out, C_in/groups, kH, kW) weight, and the kD results
summed.  Every step is a differentiable op, so the gradients come from autograd and the 2-D
kernel's backward.
"""
import numbers

from .conv import _check_common, _pair, conv2d
from .shape import Pad
from .half import via_float32
from .autocast import lower_precision

__all__ = ["conv3d"]


def _same_pads(k, d):
    total = d * (k - 1)
    return total // 2, total - total // 2


@lower_precision
@via_float32
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """F.conv3d: input (N, C_in, D, H, W), weight (C_out, C_in/groups, kD, kH, kW)."""
    fname = "conv3d"
    _check_common(fname, input, weight, bias)
    unbatched = input.ndim == 4
    if unbatched:
        input = input.unsqueeze(0)
    if input.ndim != 5:
        raise ValueError("conv3d: input must be 5-D (N, C, D, H, W) or 4-D without the batch "
                         "dim, got shape %s" % (tuple(input.shape),))
    if weight.ndim != 5:
        raise ValueError("conv3d: weight must be 5-D (C_out, C_in/groups, kD, kH, kW), got "
                         "shape %s" % (tuple(weight.shape),))
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError("conv3d: groups must be a positive int, got %r" % (groups,))
    N, C, D, H, W = input.shape
    O, Cg, kD, kH, kW = weight.shape
    if C != Cg * groups:
        raise ValueError("conv3d: input has %d channels but weight expects %d (C_in/groups=%d "
                         "x groups=%d)" % (C, Cg * groups, Cg, groups))
    if O % groups:
        raise ValueError("conv3d: out channels (%d) must be divisible by groups (%d)"
                         % (O, groups))
    if bias is not None and tuple(bias.shape) != (O,):
        raise ValueError("conv3d: bias must have shape (%d,), got %s" % (O, tuple(bias.shape)))
    s = _pair(stride, "stride", fname, 3)
    d = _pair(dilation, "dilation", fname, 3)
    if min(s) < 1 or min(d) < 1:
        raise ValueError("conv3d: stride %s and dilation %s must be positive" % (s, d))
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * 3
        elif padding == "same":
            if s != (1, 1, 1):
                raise ValueError("conv3d: padding='same' is not supported for strided "
                                 "convolutions (stride %s)" % (s,))
            pads = tuple(_same_pads(k, dd) for k, dd in zip((kD, kH, kW), d))
        else:
            raise ValueError("conv3d: padding must be 'valid', 'same', an int or a tuple of 3 "
                             "ints, got %r" % (padding,))
    else:
        p = _pair(padding, "padding", fname, 3)
        if min(p) < 0:
            raise ValueError("conv3d: padding must be non-negative, got %s" % (p,))
        pads = tuple((q, q) for q in p)
    x = input
    if any(a or b for a, b in pads):
        x = Pad.apply(x, pads=((0, 0), (0, 0)) + pads, value=0.0)
    Dp, Hp, Wp = x.shape[2:]
    eff = [dd * (k - 1) + 1 for dd, k in zip(d, (kD, kH, kW))]
    if Dp < eff[0] or Hp < eff[1] or Wp < eff[2]:
        raise ValueError("conv3d: the (padded) input of spatial size %s is smaller than the "
                         "dilated kernel %s" % ((Dp, Hp, Wp), tuple(eff)))
    Do = (Dp - eff[0]) // s[0] + 1
    out = None
    for t in range(kD):
        start = t * d[0]
        xs = x[:, :, start:start + s[0] * (Do - 1) + 1:s[0]]
        xs = xs.permute(0, 2, 1, 3, 4).reshape(N * Do, C, Hp, Wp)
        y = conv2d(xs, weight[:, :, t], None, s[1:], 0, d[1:], groups)
        out = y if out is None else out + y
    Ho, Wo = out.shape[2], out.shape[3]
    out = out.reshape(N, Do, O, Ho, Wo).permute(0, 2, 1, 3, 4)
    if bias is not None:
        out = out + bias.reshape(1, O, 1, 1, 1)
    out = out.contiguous()
    return out.squeeze(0) if unbatched else out

