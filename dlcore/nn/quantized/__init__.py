"""Quantized layers in torch.ao.nn.quantized's shape: `dynamic` holds the layers whose
activations are quantized at each call (dl.quantization.quantize_dynamic makes them)."""
from . import dynamic  # noqa: F401
from .dynamic_rnn import LSTM as _LSTM, GRU as _GRU

# torch.ao.nn.quantized.dynamic has LSTM and GRU beside Linear: the same names here
dynamic.LSTM, dynamic.GRU = _LSTM, _GRU
