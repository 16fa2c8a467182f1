"""Quantization in torch.ao.quantization's shape.

    qmodel = dl.quantization.quantize_dynamic(model, {dl.nn.Linear}, dtype=dl.qint8)
    print(dl.quantization.compare(model, qmodel, example_input))   # per-layer error report

Dynamic quantization (quantize_dynamic) replaces each selected float layer with its dynamically
quantized counterpart in dl.nn.quantized.dynamic: int8 weights per output channel and u8
activations quantized at each call (dtype=dl.qint8: Linear, LSTM, GRU), or bfloat16 weights and inputs with
float32 sums (dtype=dl.quantization.bfloat16), or ggml-style weight blocks with float32
activations (dtype=dl.quantization.q8_0 / q4_0 / q4_1: nn.QuantizedLinear, the LLM path's
layer; in_features must be a multiple of 32).  compare() runs both models on one input and
reports, for each quantized layer, its output's SQNR and relative error against the float layer.

Not here yet: static post-training quantization (observers, calibration, conv+bn+relu fusion),
quantized Conv2d, ONNX QuantizeLinear/DequantizeLinear import.
"""
from .qtypes import qint8, quint8, bfloat16, q8_0, q4_0, q4_1, QType  # noqa: F401
from .dynamic import quantize_dynamic, QUANTIZABLE  # noqa: F401
from .report import compare, LayerError  # noqa: F401

__all__ = ["qint8", "quint8", "bfloat16", "q8_0", "q4_0", "q4_1", "quantize_dynamic", "compare",
           "LayerError"]
