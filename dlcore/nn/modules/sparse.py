"""Embedding: a lookup table of num_embeddings vectors (PyTorch's nn.Embedding), and
EmbeddingBag: sums, means or maxima of bags of its rows."""
import numpy as np

from ...ops.sparse import embedding
from ...ops.embedding_bag import embedding_bag
from ...tensor import Tensor, _check_device, get_default_dtype
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["Embedding", "EmbeddingBag"]


class Embedding(Module):
    """weight (num_embeddings, embedding_dim) ~ N(0, 1); the padding_idx row is zero and gets
    no gradient."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        super().__init__()
        for name, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError("Embedding: %s must be a non-negative int, got %r" % (name, v))
        _check_device(device)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
                raise TypeError("Embedding: padding_idx must be an int or None, got %r"
                                % (padding_idx,))
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError("Embedding: padding_idx must be within num_embeddings (%d), "
                                 "got %d" % (self.num_embeddings, padding_idx))
            padding_idx = padding_idx % self.num_embeddings
        if sparse:
            raise ValueError("Embedding: sparse gradients are not supported (dlcore's gradient "
                             "is dense); pass sparse=False")
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, False
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        if _weight is None:
            self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dt),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            arr = _weight._data if isinstance(_weight, Tensor) else np.asarray(_weight)
            if arr.shape != (self.num_embeddings, self.embedding_dim):
                raise ValueError("Embedding: _weight must have shape (%d, %d), got %s"
                                 % (self.num_embeddings, self.embedding_dim, arr.shape))
            self.weight = Parameter(np.array(arr), requires_grad=not _freeze)

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def forward(self, input):
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        arr = embeddings._data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if arr.ndim != 2:
            raise ValueError("Embedding.from_pretrained: embeddings must be 2-D, got shape %s"
                             % (arr.shape,))
        return cls(arr.shape[0], arr.shape[1], padding_idx, max_norm, norm_type,
                   scale_grad_by_freq, sparse, _weight=arr, _freeze=freeze, dtype=arr.dtype)

    def extra_repr(self):
        s = "%d, %d" % (self.num_embeddings, self.embedding_dim)
        if self.padding_idx is not None:
            s += ", padding_idx=%d" % self.padding_idx
        if self.max_norm is not None:
            s += ", max_norm=%s" % self.max_norm
        return s


class EmbeddingBag(Embedding):
    """Embedding whose forward reduces bags of lookups (F.embedding_bag): input (B, N) of
    fixed-length bags, or 1-D with `offsets` giving where each bag starts."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, device=None, dtype=None):
        if mode not in ("sum", "mean", "max"):
            raise ValueError("EmbeddingBag: mode has to be one of sum, mean or max, got %r"
                             % (mode,))
        super().__init__(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
                         scale_grad_by_freq, sparse, _weight, device=device, dtype=dtype)
        self.mode, self.include_last_offset = mode, include_last_offset

    def forward(self, input, offsets=None, per_sample_weights=None):
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                             self.scale_grad_by_freq, self.mode, self.sparse,
                             per_sample_weights, self.include_last_offset, self.padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, mode="mean", sparse=False,
                        include_last_offset=False, padding_idx=None):
        arr = embeddings._data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if arr.ndim != 2:
            raise ValueError("EmbeddingBag.from_pretrained: embeddings must be 2-D, got shape "
                             "%s" % (arr.shape,))
        bag = cls(arr.shape[0], arr.shape[1], max_norm, norm_type, scale_grad_by_freq, mode,
                  sparse, arr, include_last_offset, padding_idx, dtype=arr.dtype)
        bag.weight.requires_grad = not freeze
        return bag

    def extra_repr(self):
        s = "%r, %r" % (self.num_embeddings, self.embedding_dim)
        if self.max_norm is not None:
            s += ", max_norm=%r" % (self.max_norm,)
        if self.norm_type != 2:
            s += ", norm_type=%r" % (self.norm_type,)
        if self.scale_grad_by_freq is not False:
            s += ", scale_grad_by_freq=%r" % (self.scale_grad_by_freq,)
        s += ", mode=%r" % (self.mode,)
        if self.padding_idx is not None:
            s += ", padding_idx=%r" % (self.padding_idx,)
        return s
