"""Quantized layers in torch.ao.nn.quantized's shape: `dynamic` holds the layers whose
activations are quantized at each call (dl.quantization.quantize_dynamic makes them)."""
from . import dynamic  # noqa: F401
