"""quantize_dynamic: swap a model's float layers for dynamically quantized ones
(torch.ao.quantization.quantize_dynamic's signature and meaning)."""
import copy
import warnings

import numpy as np

from .. import nn
from ..nn.quantized import dynamic as qdyn
from .qtypes import qint8, bfloat16, BLOCK_KINDS

__all__ = ["quantize_dynamic", "QUANTIZABLE"]

# float layer type -> {dtype: converter}; matched by exact type, as torch's mapping is, so a
# subclass with its own forward is never replaced behind its back
QUANTIZABLE = {
    nn.Linear: {qint8: qdyn.Linear.from_float, bfloat16: qdyn.LinearBF16.from_float},
    nn.LSTM: {qint8: qdyn.LSTM.from_float},
    nn.GRU: {qint8: qdyn.GRU.from_float},
}
# layers torch quantizes dynamically that dlcore cannot yet: asked for, they stay float with a
# warning rather than silently
_NOT_YET = (nn.LSTM, nn.GRU, nn.RNN, nn.LSTMCell, nn.GRUCell, nn.RNNCell)


def _spec_matches(spec, dtype):
    """(types, names) selected by qconfig_spec: a set/list/tuple of layer types and/or
    submodule names, or a dict whose keys are those (its values are not used); None: every
    type quantizable to dtype."""
    if spec is None:
        if dtype in BLOCK_KINDS:
            return {nn.Linear}, set()
        return {t for t, convs in QUANTIZABLE.items() if dtype in convs}, set()
    if isinstance(spec, (type, str)) or not hasattr(spec, "__iter__"):
        raise TypeError("quantize_dynamic: qconfig_spec must be a set of layer types or "
                        "submodule names (or a dict keyed by them), got %r" % (spec,))
    types, names = set(), set()
    for key in spec:
        if isinstance(key, type):
            types.add(key)
        elif isinstance(key, str):
            names.add(key)
        else:
            raise TypeError("quantize_dynamic: qconfig_spec entries must be layer types or "
                            "submodule names, got %r" % (key,))
    return types, names


def quantize_dynamic(model, qconfig_spec=None, dtype=qint8, mapping=None, inplace=False,
                     granularity="per_row", reduce_range=False):
    """Return `model` with each selected layer replaced by its dynamically quantized version.

    qconfig_spec: layer types and/or submodule names ("encoder.0.fc") to quantize; a name
      selects that module and everything under it.  Default: every type that has a quantized
      version for dtype ({Linear, LSTM, GRU} for qint8, {Linear} otherwise).
    dtype: dl.qint8 (int8 weights per output channel, u8 activations per call) or
      dl.quantization.bfloat16 (bf16 weights and inputs, float32 sums).
    mapping: optional {float type: converter(module) -> module} overriding QUANTIZABLE.
    inplace: modify `model` itself instead of a deep copy.
    granularity: 'per_row' (a scale and zero point per input row, the default) or 'per_tensor'
      (one per call, as torch does) for int8 activations.
    reduce_range: int8 activations quantized to 0..127 instead of 0..255 (torch's
      linear_dynamic(..., reduce_range=True) on x86): one bit less activation precision for
      the AVX2 7-bit GEMM tile (vpmaddubsw, about twice the multiply rate of the full-range
      tile) on CPUs without VNNI; with VNNI or AMX it only costs precision.  Default False:
      the same results on every CPU (docs/quantization.md has the measured cost and gain).
    """
    if not isinstance(model, nn.Module):
        raise TypeError("quantize_dynamic: model must be a dl.nn.Module, got %s"
                        % type(model).__name__)
    if dtype is not qint8 and dtype is not bfloat16 and dtype not in BLOCK_KINDS:
        raise ValueError("quantize_dynamic: dtype must be dl.qint8 or dl.quantization.bfloat16, "
                         "q8_0, q4_0 or q4_1, got %r" % (dtype,))
    if granularity not in ("per_row", "per_tensor"):
        raise ValueError("quantize_dynamic: granularity must be 'per_row' or 'per_tensor', "
                         "got %r" % (granularity,))
    if not isinstance(reduce_range, (bool, np.bool_)):
        raise TypeError("quantize_dynamic: reduce_range must be True or False, got %r"
                        % (reduce_range,))
    types, names = _spec_matches(qconfig_spec, dtype)
    if not inplace:
        model = copy.deepcopy(model)

    def converter(mod):
        if mapping is not None and type(mod) in mapping:
            return mapping[type(mod)]
        if dtype in BLOCK_KINDS:
            return _block_converter(mod, BLOCK_KINDS[dtype])
        conv = QUANTIZABLE.get(type(mod), {}).get(dtype)
        if conv is not None and getattr(mod, "proj_size", 0):
            return "proj_size is not supported by the quantized %s" % type(mod).__name__
        # == (not `is`): each attribute access makes a new bound method object, so `is`
        # never matched and granularity was silently dropped
        if conv == qdyn.Linear.from_float:
            return lambda m: qdyn.Linear.from_float(m, granularity=granularity,
                                                    reduce_range=bool(reduce_range))
        return conv

    skipped = []

    def swap(mod, path, selected):
        selected = selected or path in names
        for name, child in list(mod._modules.items()):
            if child is None:
                continue
            cpath = path + "." + name if path else name
            csel = selected or cpath in names
            if csel or type(child) in types:
                conv = converter(child)
                if isinstance(conv, str):
                    skipped.append("%s (%s: %s)" % (cpath, type(child).__name__, conv))
                    continue
                if conv is not None:
                    new = conv(child)
                    new.train(child.training)
                    mod._modules[name] = new
                    continue
                if isinstance(child, _NOT_YET) and (type(child) in types or csel):
                    skipped.append("%s (%s: no dynamically quantized %s yet)"
                                   % (cpath, type(child).__name__, type(child).__name__))
            swap(child, cpath, csel)

    conv = converter(model) if (type(model) in types or "" in names) else None
    if isinstance(conv, str):
        skipped.append("the model (%s: %s)" % (type(model).__name__, conv))
    elif conv is not None:
        model = conv(model)
    else:
        swap(model, "", "" in names)
    if skipped:
        warnings.warn("quantize_dynamic: left in float: %s" % "; ".join(skipped), stacklevel=2)
    return model


def _block_converter(mod, kind):
    """nn.QuantizedLinear.from_float for a Linear whose rows split into 32-weight blocks; a
    reason string (the layer stays float) where they do not."""
    if type(mod) is not nn.Linear:
        return None
    if mod.in_features % 32:
        return "in_features %d is not a multiple of 32, which %s blocks need" % (
            mod.in_features, kind)
    return lambda m: nn.QuantizedLinear.from_float(m, kind=kind)
