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

Static post-training quantization: eager mode (QuantStub/DeQuantStub, fuse_modules, qconfig
with observers, prepare -> calibrate -> convert; static.py) or whole-model from the traced
graph with no change to the model (quantize_static; graph.py).  The int8 layers are in
dl.nn.quantized, their activations QTensors (u8 with scale and zero point, channels-last).
"""
from .qtypes import qint8, quint8, bfloat16, q8_0, q4_0, q4_1, QType  # noqa: F401
from .dynamic import quantize_dynamic, QUANTIZABLE  # noqa: F401
from .report import compare, LayerError  # noqa: F401
from .observer import (MinMaxObserver, MovingAverageMinMaxObserver, HistogramObserver,  # noqa: F401
                       PerChannelMinMaxObserver, PlaceholderObserver)
from .qconfig import QConfig, get_default_qconfig, default_qconfig  # noqa: F401
from .fuse import fuse_modules, fold_bn  # noqa: F401
from .static import QuantStub, DeQuantStub, QuantWrapper, prepare, convert, quantize  # noqa: F401
from .graph import quantize_static, QuantizedGraphModule  # noqa: F401
from ..ops.qtensor import QTensor, quantize_per_tensor  # noqa: F401

__all__ = ["qint8", "quint8", "bfloat16", "q8_0", "q4_0", "q4_1", "quantize_dynamic", "compare",
           "LayerError", "MinMaxObserver", "MovingAverageMinMaxObserver", "HistogramObserver",
           "PerChannelMinMaxObserver", "QConfig", "get_default_qconfig", "default_qconfig",
           "fuse_modules", "QuantStub", "DeQuantStub", "QuantWrapper", "prepare", "convert",
           "quantize", "quantize_static", "QuantizedGraphModule", "QTensor",
           "quantize_per_tensor"]
