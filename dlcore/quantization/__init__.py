"""Quantization in torch.ao.quantization's shape.

    qmodel = dl.quantization.quantize_dynamic(model, {dl.nn.Linear}, dtype=dl.qint8)
    print(dl.quantization.compare(model, qmodel, example_input))   # per-layer error report

Dynamic quantization (quantize_dynamic) replaces each selected float layer with its dynamically
quantized counterpart in dl.nn.quantized.dynamic: int8 weights per output channel and u8
activations quantized at each call (dtype=dl.qint8), or bfloat16 weights and inputs with
float32 sums (dtype=dl.quantization.bfloat16).  compare() runs both models on one input and
reports, for each quantized layer, its output's SQNR and relative error against the float layer.

Not here yet: static post-training quantization (observers, calibration, conv+bn+relu fusion),
quantized LSTM/GRU/Conv2d, ONNX QuantizeLinear/DequantizeLinear import.
"""
from .qtypes import qint8, quint8, bfloat16, QType  # noqa: F401
from .dynamic import quantize_dynamic, QUANTIZABLE  # noqa: F401
from .report import compare, LayerError  # noqa: F401

__all__ = ["qint8", "quint8", "bfloat16", "quantize_dynamic", "compare", "LayerError"]
