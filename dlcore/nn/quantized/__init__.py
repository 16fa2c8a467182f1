"""Quantized layers in torch.ao.nn.quantized's shape: `dynamic` holds the layers whose
activations are quantized at each call (dl.quantization.quantize_dynamic makes them)."""
from . import dynamic  # noqa: F401
from .dynamic_rnn import LSTM as _LSTM, GRU as _GRU

# torch.ao.nn.quantized.dynamic has LSTM and GRU beside Linear: the same names here
dynamic.LSTM, dynamic.GRU = _LSTM, _GRU
# the statically quantized layers (torch.ao.nn.quantized's names)
from .static import (Quantize, DeQuantize, Conv2d, ConvReLU2d, Linear, LinearReLU,  # noqa: F401,E402
                     ReLU, ReLU6, Hardtanh, MaxPool2d, AdaptiveAvgPool2d, Flatten, QFunctional,
                     FloatFunctional)
