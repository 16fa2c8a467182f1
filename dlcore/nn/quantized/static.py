"""Statically quantized layers (torch.ao.nn.quantized's): u8 activations with a scale and zero
point fixed at conversion (calibrated by dl.quantization's observers), int8 weights per output
channel.  They take and return QTensors (dlcore.ops.qtensor); Quantize enters that world from
float and DeQuantize leaves it.  dl.quantization.convert makes them from a prepared float model.

state_dict: Conv2d / Linear hold `weight` (int8, the float layer's shape), `weight_scale`
(float32 (out,)), `bias` (float32, when present) and the output's `scale` (float32 (1,)) and
`zero_point` (int64 (1,)); Quantize and QFunctional hold `scale` and `zero_point`.  They save with
dl.save (safetensors) and load back; the kernel-ready packed weight is remade when
load_state_dict swaps in new arrays.  Inference only.

`reduce_range` (an attribute of the layers that choose an output scale, set by convert /
quantize_static from the observer, not part of the state_dict): that scale was chosen for codes
0..127, recorded on the output QTensor, so the next Conv2d / Linear takes the AVX2 7-bit GEMM
tile (dlcore.ops.qtensor; exact either way).
"""
import numpy as np

from ...ops.qtensor import QTensor, quantize_per_tensor
from ...ops.qmatmul import Int8Weight, quantize_weight_per_channel
from ...ops import qconv as Q
from ..modules.flatten import Flatten as FloatFlatten
from ..modules.module import Module
from .dynamic import _Dynamic, _frozen

__all__ = ["Quantize", "DeQuantize", "Conv2d", "ConvReLU2d", "Linear", "LinearReLU", "ReLU",
           "ReLU6", "Hardtanh", "MaxPool2d", "AdaptiveAvgPool2d", "Flatten", "QFunctional",
           "FloatFunctional"]


class _OutParams(_Dynamic):
    """The output scale / zero point buffers, and whether that scale is for 7-bit codes."""
    reduce_range = False

    def _init_out(self, scale=1.0, zero_point=0):
        self.register_buffer("scale", _frozen(np.array([scale], np.float32)))
        self.register_buffer("zero_point", _frozen(np.array([zero_point], np.int64)))

    def _out(self):
        return float(self.scale._data[0]), int(self.zero_point._data[0])


class _Int8Weighted(_OutParams):
    """Conv2d and Linear: per-channel int8 weights with their scales, float bias, output
    scale / zero point."""

    def _from_float_arrays(self, q, s, b, scale, zero_point):
        self.weight, self.weight_scale = _frozen(q), _frozen(s)
        if b is not None:
            self.bias = _frozen(b.astype(np.float32))
        self.scale = _frozen(np.array([scale], np.float32))
        self.zero_point = _frozen(np.array([zero_point], np.int64))
        return self

    def _arrays(self):
        return (self.weight._data, self.weight_scale._data)


class Quantize(_OutParams):
    """float Tensor -> QTensor with a fixed scale and zero point (what a QuantStub becomes)."""

    def __init__(self, scale=1.0, zero_point=0, dtype=None, reduce_range=False):
        super().__init__()
        self._init_out(scale, zero_point)
        self.reduce_range = bool(reduce_range)

    def forward(self, x):
        if isinstance(x, QTensor):
            return x
        s, z = self._out()
        return quantize_per_tensor(x, s, z, reduce_range=self.reduce_range)

    def extra_repr(self):
        return "scale=%g, zero_point=%d" % self._out()


class DeQuantize(Module):
    """QTensor -> float32 Tensor (what a DeQuantStub becomes); a float input passes through."""

    def forward(self, x):
        return x.dequantize() if isinstance(x, QTensor) else x


class Conv2d(_Int8Weighted):
    """Quantized 2-D convolution; `padding` an int, a pair or (top, left, bottom, right)."""
    _relu = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True):
        super().__init__()
        kh, kw = Q.pair(kernel_size)
        if in_channels % groups or out_channels % groups:
            raise ValueError("quantized.Conv2d: groups=%d must divide in_channels=%d and "
                             "out_channels=%d" % (groups, in_channels, out_channels))
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride = (kh, kw), Q.pair(stride)
        self.padding = Q._padding("quantized.Conv2d", padding)
        self.dilation, self.groups = Q.pair(dilation), int(groups)
        shape = (out_channels, in_channels // groups, kh, kw)
        self.register_buffer("weight", _frozen(np.zeros(shape, np.int8)))
        self.register_buffer("weight_scale", _frozen(np.ones(out_channels, np.float32)))
        self.register_buffer("bias", _frozen(np.zeros(out_channels, np.float32))
                             if bias else None)
        self._init_out()

    @classmethod
    def from_float(cls, mod, scale, zero_point, padding=None):
        """The quantized copy of a float conv (BN already folded into it) whose output range
        was calibrated to (scale, zero_point)."""
        w = mod.weight._data
        b = None if mod.bias is None else mod.bias._data
        pad = mod.padding if padding is None else padding
        if isinstance(pad, str):
            raise ValueError("quantized.Conv2d.from_float: padding=%r is not supported; give "
                             "explicit padding" % (pad,))
        new = cls(w.shape[1] * mod.groups, w.shape[0], w.shape[2:], mod.stride, pad,
                  mod.dilation, mod.groups, bias=b is not None)
        q, s = quantize_weight_per_channel(w.reshape(w.shape[0], -1))
        return new._from_float_arrays(q.reshape(w.shape), s, b, scale, zero_point)

    def _pack(self):
        return Q.Int8ConvWeight(self.weight._data, self.weight_scale._data, self.groups)

    def forward(self, x):
        s, z = self._out()
        return Q.qconv2d(x, self._packed_weight(), self._bias(), self.stride, self.padding,
                         self.dilation, s, z, relu=self._relu, reduce_range=self.reduce_range)

    def extra_repr(self):
        return ("%d, %d, kernel_size=%s, stride=%s, padding=%s, groups=%d, scale=%g, "
                "zero_point=%d" % ((self.in_channels, self.out_channels, self.kernel_size,
                                    self.stride, self.padding, self.groups) + self._out()))


class ConvReLU2d(Conv2d):
    """Conv2d with relu fused (torch.ao.nn.intrinsic.quantized.ConvReLU2d)."""
    _relu = True


class Linear(_Int8Weighted):
    """Quantized Linear: QTensor in, QTensor out (requantized in the GEMM's epilogue)."""
    _relu = False

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.register_buffer("weight", _frozen(np.zeros((out_features, in_features), np.int8)))
        self.register_buffer("weight_scale", _frozen(np.ones(out_features, np.float32)))
        self.register_buffer("bias", _frozen(np.zeros(out_features, np.float32))
                             if bias else None)
        self._init_out()

    @classmethod
    def from_float(cls, mod, scale, zero_point):
        w = mod.weight._data
        b = None if mod.bias is None else mod.bias._data
        new = cls(w.shape[1], w.shape[0], bias=b is not None)
        q, s = quantize_weight_per_channel(w)
        return new._from_float_arrays(q, s, b, scale, zero_point)

    def _pack(self):
        return Int8Weight(self.weight._data, self.weight_scale._data)

    def forward(self, x):
        s, z = self._out()
        return Q.qlinear(x, self._packed_weight(), self._bias(), s, z, relu=self._relu,
                         reduce_range=self.reduce_range)

    def extra_repr(self):
        return "in_features=%d, out_features=%d, scale=%g, zero_point=%d" % (
            (self.in_features, self.out_features) + self._out())


class LinearReLU(Linear):
    _relu = True


class ReLU(Module):
    def forward(self, x):
        return Q.qrelu(x)


class Hardtanh(Module):
    def __init__(self, min_val=-1.0, max_val=1.0):
        super().__init__()
        self.min_val, self.max_val = float(min_val), float(max_val)

    def forward(self, x):
        return Q.qclamp(x, self.min_val, self.max_val)


class ReLU6(Hardtanh):
    def __init__(self):
        super().__init__(0.0, 6.0)


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode

    @classmethod
    def from_float(cls, mod):
        return cls(mod.kernel_size, mod.stride, mod.padding, mod.dilation, mod.ceil_mode)

    def forward(self, x):
        return Q.qmax_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                             self.ceil_mode)


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return Q.qadaptive_avg_pool2d(x, self.output_size)


class Flatten(FloatFlatten):
    """The float layer's flatten, on quantized tensors (it moves codes, nothing to requantize)."""


class FloatFunctional(Module):
    """Float add / add_relu a quantizable model calls instead of `+` so that prepare can watch
    the sum's range (torch's FloatFunctional); convert turns it into QFunctional."""

    def __init__(self):
        super().__init__()
        self.activation_post_process = None

    def _observe(self, y):
        obs = self.activation_post_process
        return y if obs is None else obs(y)

    def forward(self, x):
        raise RuntimeError("FloatFunctional: call .add(a, b) or .add_relu(a, b), not forward")

    def add(self, a, b):
        return self._observe(a + b)

    def add_relu(self, a, b):
        return self._observe((a + b).relu())


class QFunctional(_OutParams):
    """Quantized add / add_relu with a fixed output scale and zero point."""

    def __init__(self, scale=1.0, zero_point=0):
        super().__init__()
        self._init_out(scale, zero_point)

    def forward(self, x):
        raise RuntimeError("QFunctional: call .add(a, b) or .add_relu(a, b), not forward")

    def add(self, a, b):
        return Q.qadd(a, b, *self._out(), reduce_range=self.reduce_range)

    def add_relu(self, a, b):
        return Q.qadd(a, b, *self._out(), relu=True, reduce_range=self.reduce_range)

    def extra_repr(self):
        return "scale=%g, zero_point=%d" % self._out()
