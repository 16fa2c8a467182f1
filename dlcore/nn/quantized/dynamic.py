"""Dynamically quantized layers: weights stored in low precision once, activations quantized at
every call (torch.ao.nn.quantized.dynamic's idea; see dlcore.ops.qmatmul for the arithmetic).

- Linear: int8 weights per output channel (symmetric), u8 activations per row or per tensor
  (codes 0..255, or 0..127 with reduce_range: the AVX2 7-bit tile, dlcore.ops.qmatmul), the
  int8 kernel with the bias in its epilogue.
- LinearBF16: weights rounded to bfloat16, inputs rounded to bfloat16 per call, float32 sums.

state_dict: Linear has `weight` (int8, (out, in)), `weight_scale` (float32, (out,)) and `bias`
(float32, (out,), when present); LinearBF16 has `weight` (uint16 bf16 bit patterns) and `bias`.
They save with dl.save (safetensors) and load back.  The kernel-ready packed copy is made on
first use and again whenever load_state_dict replaces those arrays (they are kept read-only, so
load_state_dict swaps in new arrays rather than writing into them).

Inference only: outputs do not require grad.
"""
import numpy as np

from ...ops.qmatmul import (Int8Weight, BF16Weight, int8_linear, bf16_linear,
                            quantize_weight_per_channel, to_bfloat16, GRANULARITIES)
from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["Linear", "LinearBF16", "stacked_weight", "stacked_linear"]


def _frozen(arr):
    arr = np.ascontiguousarray(arr)
    arr.flags.writeable = False
    return Tensor._wrap(arr)


def _check_features(name, in_features, out_features):
    for arg, v in (("in_features", in_features), ("out_features", out_features)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError("%s: %s must be a non-negative int, got %r" % (name, arg, v))


def _float_linear_of(name, mod):
    w = getattr(mod, "weight", None)
    if w is None or getattr(w, "ndim", 0) != 2:
        raise TypeError("%s.from_float: expected a dl.nn.Linear, got %s"
                        % (name, type(mod).__name__))
    b = getattr(mod, "bias", None)
    return w._data, (None if b is None else b._data)


class _Dynamic(Module):
    """The packed-weight cache shared by the dynamic layers."""

    def _arrays(self):
        raise NotImplementedError

    def _pack(self):
        raise NotImplementedError

    def _packed_weight(self):
        arrays = self._arrays()
        cache = self.__dict__.get("_cache")
        # the cache holds the arrays it was made from, so their identity is a safe key
        if cache is None or len(cache[0]) != len(arrays) or any(
                a is not b for a, b in zip(cache[0], arrays)):
            for a in arrays:
                if a.flags.writeable:          # load_state_dict made a fresh copy: freeze it
                    a.flags.writeable = False
            cache = (arrays, self._pack())
            self.__dict__["_cache"] = cache
        return cache[1]

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_cache", None)
        return state

    def _bias(self):
        b = self._buffers.get("bias")
        return None if b is None else b._data


class Linear(_Dynamic):
    """y = x @ dequant(weight).T + bias with x quantized to u8 per call (int8 kernel)."""

    def __init__(self, in_features, out_features, bias=True, granularity="per_row",
                 reduce_range=False):
        super().__init__()
        _check_features("quantized.dynamic.Linear", in_features, out_features)
        if granularity not in GRANULARITIES:
            raise ValueError("quantized.dynamic.Linear: granularity must be 'per_row' or "
                             "'per_tensor', got %r" % (granularity,))
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.granularity = granularity
        # the activations' range, 0..127 when set (an option of the call, as torch's
        # linear_dynamic(..., reduce_range); not part of the state_dict)
        self.reduce_range = bool(reduce_range)
        self.register_buffer("weight", _frozen(np.zeros((out_features, in_features), np.int8)))
        self.register_buffer("weight_scale", _frozen(np.ones(out_features, np.float32)))
        if bias:
            self.register_buffer("bias", _frozen(np.zeros(out_features, np.float32)))
        else:
            self.register_buffer("bias", None)

    @classmethod
    def from_float(cls, mod, granularity="per_row", reduce_range=False):
        """The quantized copy of a float dl.nn.Linear (its weight per output channel)."""
        w, b = _float_linear_of("quantized.dynamic.Linear", mod)
        new = cls(w.shape[1], w.shape[0], bias=b is not None, granularity=granularity,
                  reduce_range=reduce_range)
        q, scale = quantize_weight_per_channel(w)
        new.weight = _frozen(q)
        new.weight_scale = _frozen(scale)
        if b is not None:
            new.bias = _frozen(b.astype(np.float32))
        return new

    def _arrays(self):
        return (self.weight._data, self.weight_scale._data)

    def _pack(self):
        return Int8Weight(self.weight._data, self.weight_scale._data)

    def dequantized_weight(self):
        return self._packed_weight().dequantize()

    def forward(self, x):
        return int8_linear(x, self._packed_weight(), self._bias(), granularity=self.granularity,
                           reduce_range=self.reduce_range)

    def forward_with_activation(self, x, activation):
        """activation(self(x)) in one kernel pass; activation None, 'relu' or 'gelu'."""
        return int8_linear(x, self._packed_weight(), self._bias(), activation=activation,
                           granularity=self.granularity, reduce_range=self.reduce_range)

    def extra_repr(self):
        return ("in_features=%d, out_features=%d, dtype=qint8, granularity=%s, reduce_range=%s, "
                "bias=%s" % (self.in_features, self.out_features, self.granularity,
                             self.reduce_range, self.bias is not None))


class LinearBF16(_Dynamic):
    """y = bf16(x) @ bf16(weight).T + bias, float32 sums (the bf16 kernel)."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        _check_features("quantized.dynamic.LinearBF16", in_features, out_features)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.register_buffer("weight", _frozen(np.zeros((out_features, in_features), np.uint16)))
        if bias:
            self.register_buffer("bias", _frozen(np.zeros(out_features, np.float32)))
        else:
            self.register_buffer("bias", None)

    @classmethod
    def from_float(cls, mod):
        w, b = _float_linear_of("quantized.dynamic.LinearBF16", mod)
        new = cls(w.shape[1], w.shape[0], bias=b is not None)
        new.weight = _frozen(to_bfloat16(w))
        if b is not None:
            new.bias = _frozen(b.astype(np.float32))
        return new

    def _arrays(self):
        return (self.weight._data,)

    def _pack(self):
        return BF16Weight(self.weight._data)

    def dequantized_weight(self):
        return (self.weight._data.astype(np.uint32) << 16).view(np.float32)

    def forward(self, x):
        return bf16_linear(x, self._packed_weight(), self._bias())

    def forward_with_activation(self, x, activation):
        """activation(self(x)) in one kernel pass; activation None, 'relu' or 'gelu'."""
        return bf16_linear(x, self._packed_weight(), self._bias(), activation=activation)

    def extra_repr(self):
        return "in_features=%d, out_features=%d, dtype=bfloat16, bias=%s" % (
            self.in_features, self.out_features, self.bias is not None)


def stacked_weight(owner, layers):
    """(Int8Weight, float32 bias or None) of int8 dynamic Linears that read the same input,
    their rows stacked (cached on `owner`, made again when a layer's arrays change); None when
    they cannot share a call: not all quantized.dynamic.Linear, or different in_features,
    granularity or reduce_range."""
    if not layers or any(type(m) is not Linear for m in layers):
        return None
    first = layers[0]
    if any(m.in_features != first.in_features or m.granularity != first.granularity
           or m.reduce_range != first.reduce_range for m in layers):
        return None
    parts = tuple(m._packed_weight() for m in layers)
    biases = tuple(m._bias() for m in layers)
    key = parts + biases
    cache = owner.__dict__.get("_stacked_int8")
    if cache is None or len(cache[0]) != len(key) or any(
            a is not b for a, b in zip(cache[0], key)):
        w = Int8Weight(np.concatenate([p.q for p in parts]),
                       np.concatenate([p.scale for p in parts]))
        b = None
        if any(v is not None for v in biases):
            b = np.concatenate([np.zeros(m.out_features, np.float32) if v is None else v
                                for m, v in zip(layers, biases)])
        cache = (key, w, b)
        owner.__dict__["_stacked_int8"] = cache
    return cache[1], cache[2]


def stacked_linear(owner, layers, x):
    """The outputs of int8 dynamic Linears that read the same input x, side by side in one
    tensor (..., sum of their out_features), from one kernel call: x is quantized once and
    the layers' weights are stacked into one packed weight (stacked_weight).  Each column
    block equals that layer's own output bit for bit: the same activation codes (per row, or
    per tensor, over x alone), the same per-channel integer sums and epilogue.  None when the
    layers cannot share a call."""
    wb = stacked_weight(owner, layers)
    if wb is None:
        return None
    return int8_linear(x, wb[0], wb[1], granularity=layers[0].granularity,
                       reduce_range=layers[0].reduce_range)
