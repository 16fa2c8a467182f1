"""conv_transpose1d and conv_transpose3d on the 2-D transposed convolution kernel.

1-D is the 2-D op on a one-row image.  3-D: input depth i with kernel depth tap t writes
output depth i * stride + t * dilation - padding, so each tap is one conv_transpose2d over
(H, W) with all input depth slices folded into the batch, whose result is spread over the
output depth at stride `stride` (zeros between) and shifted by t * dilation - padding; the kD
spread results are summed.  Every step is a differentiable op, so gradients come from autograd
and the 2-D kernel's backward.
"""
import numbers

from .conv import _check_common, _conv_inputs, _pair, conv_transpose2d
from .shape import Pad
from .half import via_float32
from .autocast import lower_precision

__all__ = ["conv_transpose1d", "conv_transpose3d"]


@lower_precision
@via_float32
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """F.conv_transpose1d: input (N, C_in, L), weight (C_in, C_out/groups, k)."""
    fname = "conv_transpose1d"
    x, unbatched = _conv_inputs(fname, input, weight, bias, 1, "(C_in, C_out/groups, k)")
    s = _pair(stride, "stride", fname, 1)[0]
    p = _pair(padding, "padding", fname, 1)[0]
    op = _pair(output_padding, "output_padding", fname, 1)[0]
    d = _pair(dilation, "dilation", fname, 1)[0]
    y = conv_transpose2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), (0, p), (0, op),
                         groups, (1, d))
    y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y


@lower_precision
@via_float32
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """F.conv_transpose3d: input (N, C_in, D, H, W), weight (C_in, C_out/groups, kD, kH, kW);
    output depth (D-1)*stride - 2*padding + dilation*(kD-1) + output_padding + 1 (so H, W)."""
    fname = "conv_transpose3d"
    _check_common(fname, input, weight, bias)
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    if x.ndim != 5:
        raise ValueError("conv_transpose3d: input must be 5-D (N, C, D, H, W) or 4-D without "
                         "the batch dim, got shape %s" % (tuple(input.shape),))
    if weight.ndim != 5:
        raise ValueError("conv_transpose3d: weight must be 5-D (C_in, C_out/groups, kD, kH, kW),"
                         " got shape %s" % (tuple(weight.shape),))
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError("conv_transpose3d: groups must be a positive int, got %r" % (groups,))
    s = _pair(stride, "stride", fname, 3)
    p = _pair(padding, "padding", fname, 3)
    op = _pair(output_padding, "output_padding", fname, 3)
    d = _pair(dilation, "dilation", fname, 3)
    if min(s) < 1 or min(d) < 1:
        raise ValueError("conv_transpose3d: stride %s and dilation %s must be positive" % (s, d))
    if min(p) < 0 or min(op) < 0:
        raise ValueError("conv_transpose3d: padding %s and output_padding %s must be "
                         "non-negative" % (p, op))
    if op[0] >= max(s[0], d[0]):
        raise ValueError("conv_transpose3d: output_padding %s must be smaller than stride %s "
                         "or dilation %s" % (op, s, d))
    N, C, D, H, W = x.shape
    Cin, Kg, kD = weight.shape[:3]
    if Cin != C:
        raise ValueError("conv_transpose3d: input of shape %s has %d channels, weight of shape "
                         "%s expects %d" % (tuple(input.shape), C, tuple(weight.shape), Cin))
    if C % groups:
        raise ValueError("conv_transpose3d: in_channels=%d must be divisible by groups=%d"
                         % (C, groups))
    K = Kg * groups
    if bias is not None and tuple(bias.shape) != (K,):
        raise ValueError("conv_transpose3d: bias must have shape (%d,), got %s"
                         % (K, tuple(bias.shape)))
    Do = (D - 1) * s[0] - 2 * p[0] + d[0] * (kD - 1) + op[0] + 1
    if Do < 1 or min(D, H, W) < 1 or min(Kg, kD) < 1:
        raise ValueError("conv_transpose3d: output depth %d is not positive for input of shape "
                         "%s, weight %s, stride %s, padding %s"
                         % (Do, tuple(input.shape), tuple(weight.shape), s, p))
    xs = x.permute(0, 2, 1, 3, 4).reshape(N * D, C, H, W)
    out = None
    for t in range(kD):
        y = conv_transpose2d(xs, weight[:, :, t], None, s[1:], p[1:], op[1:], groups, d[1:])
        Ho, Wo = y.shape[2], y.shape[3]
        y = y.reshape(N, D, 1, K, Ho, Wo)
        if s[0] > 1:  # zeros between the input depths: (N, D * stride, ...)
            y = Pad.apply(y, pads=((0, 0), (0, 0), (0, s[0] - 1), (0, 0), (0, 0), (0, 0)))
        y = y.reshape(N, D * s[0], K, Ho, Wo)
        before = t * d[0] - p[0]
        after = Do - before - D * s[0]
        y = Pad.apply(y, pads=((0, 0), (before, after), (0, 0), (0, 0), (0, 0)))
        out = y if out is None else out + y
    out = out.permute(0, 2, 1, 3, 4)
    if bias is not None:
        out = out + bias.reshape(1, K, 1, 1, 1)
    out = out.contiguous()
    return out.squeeze(0) if unbatched else out
