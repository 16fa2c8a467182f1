"""Layers whose weights stay in ggml's block formats (Q4_0, Q4_1, Q8_0; see dlcore.ops.quantized):
QuantizedLinear and QuantizedEmbedding.

The blocks are a buffer `weight` (uint8, one row of blocks per output feature or embedding) with
a second buffer `weight_type` holding the format's GGML type id (Q4_0=2, Q4_1=3, Q8_0=8), so
that a saved state_dict (dl.save / dl.load) says how to read its bytes.  The blocks are frozen:
they get no gradient; a QuantizedLinear's float bias is an ordinary Parameter.
"""
import numpy as np

from ...ops.quantized import (QUANT_KINDS, row_bytes, quantized_linear, quantized_embedding,
                              dequantize, quantize)
from ...tensor import Tensor, _check_device
from ..parameter import Parameter
from .module import Module

__all__ = ["QuantizedLinear", "QuantizedEmbedding"]

GGML_TYPE = {"Q4_0": 2, "Q4_1": 3, "Q8_0": 8}
_KIND_OF_TYPE = {v: k for k, v in GGML_TYPE.items()}


def _check_sizes(name, **sizes):
    for arg, v in sizes.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError("%s: %s must be a non-negative int, got %r" % (name, arg, v))


class _BlockWeight(Module):
    """The weight buffers and conversions shared by the two layers."""

    def _init_blocks(self, name, rows, cols, kind):
        if kind not in QUANT_KINDS:
            raise ValueError("%s: kind must be one of %s, got %r"
                             % (name, ", ".join(QUANT_KINDS), kind))
        if cols % 32:
            raise ValueError("%s: the row length must be a multiple of 32 for block formats, "
                             "got %d" % (name, cols))
        # zero blocks: every weight 0 until from_float, from_blocks or load_state_dict fills them
        self.register_buffer("weight", Tensor._wrap(
            np.zeros((rows, row_bytes(cols, kind)), np.uint8)))
        self.register_buffer("weight_type", Tensor._wrap(np.array(GGML_TYPE[kind], np.int64)))

    @property
    def kind(self):
        """The block format of `weight`: 'Q4_0', 'Q4_1' or 'Q8_0'."""
        t = int(self._buffers["weight_type"]._data)
        if t not in _KIND_OF_TYPE:
            raise ValueError("%s: weight_type %d is not a supported GGML type id (%s)"
                             % (type(self).__name__, t, ", ".join(
                                 "%s=%d" % kv for kv in GGML_TYPE.items())))
        return _KIND_OF_TYPE[t]

    def _set_blocks(self, blocks):
        name = type(self).__name__
        arr = blocks._data if isinstance(blocks, Tensor) else np.asarray(blocks)
        want = tuple(self.weight._data.shape)
        if arr.dtype != np.uint8 or arr.shape != want:
            raise ValueError("%s: blocks must be uint8 of shape %s (%s rows), got %s of shape %s"
                             % (name, want, self.kind, arr.dtype, arr.shape))
        # kept as given (e.g. a read-only view of a memory-mapped model file): no copy
        self.weight = Tensor._wrap(np.ascontiguousarray(arr))

    def dequantize(self):
        """The weight as a float32 Tensor (rows, row length)."""
        return dequantize(self.weight, self.kind)


class QuantizedLinear(_BlockWeight):
    """y = x @ W.T + bias with W (out_features, in_features) held as `kind` blocks and
    multiplied by the fused dequantising kernel; in_features must be a multiple of 32.
    Differentiable in x and bias (the blocks are frozen).  float32 activations."""

    def __init__(self, in_features, out_features, bias=True, kind="Q8_0", device=None):
        super().__init__()
        _check_sizes("QuantizedLinear", in_features=in_features, out_features=out_features)
        _check_device(device)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self._init_blocks("QuantizedLinear", self.out_features, self.in_features, kind)
        if bias:
            self.bias = Parameter(np.zeros((self.out_features,), np.float32))
        else:
            self.register_parameter("bias", None)

    @classmethod
    def from_blocks(cls, blocks, kind, in_features, bias=None):
        """A layer over existing blocks (uint8 (out_features, row_bytes(in_features, kind)));
        the array is used as is, not copied.  bias: optional float32 (out_features,)."""
        arr = blocks._data if isinstance(blocks, Tensor) else np.asarray(blocks)
        if arr.ndim != 2:
            raise ValueError("QuantizedLinear.from_blocks: blocks must be 2-D (out_features, "
                             "bytes per row), got shape %s" % (arr.shape,))
        m = cls(in_features, arr.shape[0], bias=bias is not None, kind=kind)
        m._set_blocks(arr)
        if bias is not None:
            m._copy_bias(bias)
        return m

    @classmethod
    def from_float(cls, linear, kind="Q8_0"):
        """Quantise a float layer (anything with weight (out, in) and bias (out,) or None, e.g.
        nn.Linear) to `kind` blocks; the bias stays float32."""
        w = getattr(linear, "weight", None)
        if not isinstance(w, Tensor) or w.ndim != 2:
            raise TypeError("QuantizedLinear.from_float: expected a layer with a 2-D weight "
                            "(e.g. nn.Linear), got %s" % type(linear).__name__)
        b = getattr(linear, "bias", None)
        m = cls(w.shape[1], w.shape[0], bias=b is not None, kind=kind)
        m._set_blocks(quantize(w, kind))
        if b is not None:
            m._copy_bias(b)
        return m

    def _copy_bias(self, b):
        arr = b._data if isinstance(b, Tensor) else np.asarray(b)
        if arr.shape != (self.out_features,):
            raise ValueError("QuantizedLinear: bias must have shape (%d,), got %s"
                             % (self.out_features, arr.shape))
        self.bias = Parameter(np.array(arr, dtype=np.float32))

    def forward(self, input):
        # the stores read directly: Module.__getattr__'s fallback costs more than the check
        # of a decode step's small matrix product
        return quantized_linear(input, self._buffers["weight"], self.kind,
                                self._parameters["bias"])

    def extra_repr(self):
        return "in_features=%d, out_features=%d, kind=%s, bias=%s" % (
            self.in_features, self.out_features, self.kind, self.bias is not None)


class QuantizedEmbedding(_BlockWeight):
    """A lookup table of num_embeddings vectors held as `kind` blocks, dequantised row by row
    when looked up (embedding_dim must be a multiple of 32); the table gets no gradient."""

    def __init__(self, num_embeddings, embedding_dim, kind="Q8_0", device=None):
        super().__init__()
        _check_sizes("QuantizedEmbedding", num_embeddings=num_embeddings,
                     embedding_dim=embedding_dim)
        _check_device(device)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self._init_blocks("QuantizedEmbedding", self.num_embeddings, self.embedding_dim, kind)

    @classmethod
    def from_blocks(cls, blocks, kind, embedding_dim):
        """A table over existing blocks (uint8 (num_embeddings, row_bytes(embedding_dim,
        kind))), used as is."""
        arr = blocks._data if isinstance(blocks, Tensor) else np.asarray(blocks)
        if arr.ndim != 2:
            raise ValueError("QuantizedEmbedding.from_blocks: blocks must be 2-D "
                             "(num_embeddings, bytes per row), got shape %s" % (arr.shape,))
        m = cls(arr.shape[0], embedding_dim, kind=kind)
        m._set_blocks(arr)
        return m

    @classmethod
    def from_float(cls, embedding, kind="Q8_0"):
        """Quantise a float table (nn.Embedding or anything with a 2-D weight)."""
        w = getattr(embedding, "weight", None)
        if not isinstance(w, Tensor) or w.ndim != 2:
            raise TypeError("QuantizedEmbedding.from_float: expected a layer with a 2-D weight "
                            "(e.g. nn.Embedding), got %s" % type(embedding).__name__)
        m = cls(w.shape[0], w.shape[1], kind=kind)
        m._set_blocks(quantize(w, kind))
        return m

    def forward(self, input):
        return quantized_embedding(input, self.weight, self.kind)

    def extra_repr(self):
        return "%d, %d, kind=%s" % (self.num_embeddings, self.embedding_dim, self.kind)
