"""Convolution layers with PyTorch's parameter names, shapes and initialisation."""
import numbers

from ...ops.conv import conv1d, conv2d, conv_transpose2d, _pair
from ...ops.shape_fn import pad as F_pad
from ...ops.conv3d import conv3d
from ...ops.conv_transpose import conv_transpose1d, conv_transpose3d
from .. import init
from ._weights import make_weight_and_bias, reset_kaiming_uniform
from .module import Module

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _n = 2
    _transposed = False
    _conv = staticmethod(conv2d)     # the op forward() applies
    _lazy = False                    # Lazy* subclasses: in_channels 0 until the first call

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                 bias, padding_mode, output_padding=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        n = self._n
        for arg, v, low in (("in_channels", in_channels, 0 if self._lazy else 1),
                            ("out_channels", out_channels, 1)):
            if not isinstance(v, numbers.Integral) or v < low:
                raise ValueError("%s: %s must be a positive int, got %r" % (name, arg, v))
        if not isinstance(groups, numbers.Integral) or groups <= 0:
            raise ValueError("%s: groups must be a positive int, got %r" % (name, groups))
        if in_channels % groups:
            raise ValueError("%s: in_channels (%d) must be divisible by groups (%d)"
                             % (name, in_channels, groups))
        if out_channels % groups:
            raise ValueError("%s: out_channels (%d) must be divisible by groups (%d)"
                             % (name, out_channels, groups))
        if padding_mode not in _MODES:
            raise ValueError("%s: padding_mode must be one of %s, got %r"
                             % (name, _MODES, padding_mode))
        self.kernel_size = _pair(kernel_size, "kernel_size", name, n)
        self.stride = _pair(stride, "stride", name, n)
        self.dilation = _pair(dilation, "dilation", name, n)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError("%s: padding must be an int, a tuple, 'same' or 'valid', got %r"
                                 % (name, padding))
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("%s: padding='same' is not supported for strided convolutions"
                                 % name)
            if self._transposed:
                raise ValueError("%s: padding must be an int or a tuple, got %r" % (name, padding))
            self.padding = padding
        else:
            self.padding = _pair(padding, "padding", name, n)
            if min(self.padding) < 0:
                raise ValueError("%s: padding must be non-negative, got %s" % (name, self.padding))
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.dilation) < 1:
            raise ValueError("%s: kernel_size, stride and dilation must be positive, got %s, %s, %s"
                             % (name, self.kernel_size, self.stride, self.dilation))
        if self._transposed and padding_mode != "zeros":
            raise ValueError("%s: only 'zeros' padding_mode is supported" % name)
        self.output_padding = _pair(output_padding, "output_padding", name, n)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.groups, self.padding_mode, self.transposed = int(groups), padding_mode, self._transposed
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        make_weight_and_bias(self, shape, out_channels, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
        reset_kaiming_uniform(self.weight, self.bias, fan_in)

    def forward(self, x):
        padding = self.padding
        if self.padding_mode != "zeros":
            x, padding = self._explicit_pad(x), 0
        return self._conv(x, self.weight, self.bias, self.stride, padding, self.dilation,
                          self.groups)

    def _explicit_pad(self, x):
        """Non-zero padding modes pad the input first (F.pad), then convolve unpadded."""
        if self.padding == "valid":
            return x
        if self.padding == "same":
            pads = []
            for d, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
        else:
            pads = []
            for p in reversed(self.padding):
                pads += [p, p]
        return F_pad(x, pads, mode=self.padding_mode)

    def extra_repr(self):
        s = "%d, %d, kernel_size=%s, stride=%s" % (self.in_channels, self.out_channels,
                                                   self.kernel_size, self.stride)
        if self.padding != (0,) * self._n:
            s += ", padding=%s" % (self.padding if isinstance(self.padding, str)
                                   else str(self.padding))
        if self.dilation != (1,) * self._n:
            s += ", dilation=%s" % (self.dilation,)
        if self.output_padding != (0,) * self._n:
            s += ", output_padding=%s" % (self.output_padding,)
        if self.groups != 1:
            s += ", groups=%d" % self.groups
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += ", padding_mode=%s" % self.padding_mode
        return s


class _Conv(_ConvNd):
    """Conv1d/2d/3d: PyTorch's argument order and defaults (ConvTranspose2d has its own)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device=device, dtype=dtype)


class Conv2d(_Conv):
    """2-D convolution: weight (out_channels, in_channels/groups, kH, kW), bias (out_channels)."""


class Conv1d(_Conv):
    """1-D convolution: weight (out_channels, in_channels/groups, k), bias (out_channels)."""
    _n = 1
    _conv = staticmethod(conv1d)


class _ConvTransposeNd(_ConvNd):
    """Transposed convolution: weight (in_channels, out_channels/groups, *kernel_size)."""
    _transposed = True
    _conv = staticmethod(conv_transpose2d)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, device=device, dtype=dtype)

    def _output_padding(self, x, output_size):
        if output_size is None:
            return self.output_padding
        n = self._n
        size = tuple(int(v) for v in tuple(output_size)[-n:])
        if len(size) != n:
            raise ValueError("%s: output_size must have %d (or %d + 2) elements, got %r"
                             % (type(self).__name__, n, n, output_size))
        op = []
        for i in range(n):
            base = ((x.shape[-n + i] - 1) * self.stride[i] - 2 * self.padding[i]
                    + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            extra = size[i] - base
            if extra < 0 or extra >= max(self.stride[i], self.dilation[i]):
                raise ValueError("%s: requested output size %s is not reachable "
                                 "from input of shape %s (smallest %d, largest %d in dim %d)"
                                 % (type(self).__name__, size, tuple(x.shape), base,
                                    base + max(self.stride[i], self.dilation[i]) - 1, i))
            op.append(extra)
        return tuple(op)

    def forward(self, x, output_size=None):
        return self._conv(x, self.weight, self.bias, self.stride, self.padding,
                          self._output_padding(x, output_size), self.groups, self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution: weight (in_channels, out_channels/groups, kH, kW)."""


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution: weight (in_channels, out_channels/groups, k)."""
    _n = 1
    _conv = staticmethod(conv_transpose1d)


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution: weight (in_channels, out_channels/groups, kD, kH, kW)."""
    _n = 3
    _conv = staticmethod(conv_transpose3d)


class Conv3d(_Conv):
    """3-D convolution: weight (out_channels, in_channels/groups, kD, kH, kW), bias
    (out_channels); computed as a sum of 2-D convolutions over the kernel's depth taps."""
    _n = 3
    _conv = staticmethod(conv3d)
