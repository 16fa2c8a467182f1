"""Positional encodings: attention itself is blind to token order, so the position of each token
is added to its embedding, either as fixed sinusoids (Vaswani et al. 2017) or as a learned
table of max_len vectors (GPT-2's wpe)."""
import math

import numpy as np

from ...tensor import Tensor, _check_device, get_default_dtype
from .. import init
from ..parameter import Parameter
from .dropout import Dropout
from .module import Module

__all__ = ["SinusoidalPositionalEncoding", "LearnedPositionalEmbedding",
           "sinusoidal_table"]


def sinusoidal_table(max_len, d_model, dtype=None):
    """(max_len, d_model) array: pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(same)."""
    dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    inv = np.exp(-math.log(10000.0) * np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    pe = np.zeros((max_len, d_model), np.float64)
    pe[:, 0::2] = np.sin(pos * inv)
    pe[:, 1::2] = np.cos(pos * inv[:d_model // 2])
    return pe.astype(dt)


def _check_len(name, x, offset, max_len, batch_first):
    if not isinstance(x, Tensor):
        raise TypeError("%s: input must be a Tensor, got %s" % (name, type(x).__name__))
    if x.ndim not in (2, 3):
        raise ValueError("%s: input must be (batch, seq, d_model) / (seq, batch, d_model) or "
                         "(seq, d_model), got shape %s" % (name, tuple(x.shape)))
    T = x.shape[1] if (x.ndim == 3 and batch_first) else x.shape[0]
    if offset < 0 or offset + T > max_len:
        raise ValueError("%s: positions %d..%d exceed max_len=%d"
                         % (name, offset, offset + T - 1, max_len))
    return T


class SinusoidalPositionalEncoding(Module):
    """x + pe[offset:offset + seq] then dropout.  pe is a (non-persistent) buffer, so it is
    not in the state_dict: it is a fixed function of the position.

    batch_first=True takes (batch, seq, d_model); False takes (seq, batch, d_model); a 2-D
    input is (seq, d_model).  scale multiplies x first (the paper uses sqrt(d_model))."""

    def __init__(self, d_model, max_len=5000, dropout=0.0, batch_first=True, scale=1.0,
                 device=None, dtype=None):
        super().__init__()
        _check_device(device)
        if d_model <= 0 or max_len <= 0:
            raise ValueError("SinusoidalPositionalEncoding: d_model and max_len must be "
                             "positive, got %r and %r" % (d_model, max_len))
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.scale = float(scale)
        self.dropout = Dropout(dropout)
        self.register_buffer("pe", Tensor._wrap(sinusoidal_table(max_len, d_model, dtype)),
                             persistent=False)

    def forward(self, x, offset=0):
        T = _check_len("SinusoidalPositionalEncoding", x, offset, self.max_len,
                       self.batch_first)
        if x.shape[-1] != self.d_model:
            raise ValueError("SinusoidalPositionalEncoding: last dim must be d_model=%d, got %s"
                             % (self.d_model, tuple(x.shape)))
        pe = self.pe._data[offset:offset + T].astype(np.dtype(x.dtype), copy=False)
        if x.ndim == 3 and not self.batch_first:
            pe = pe[:, None, :]
        if self.scale != 1.0:
            x = x * self.scale
        return self.dropout(x + Tensor._wrap(pe))

    def extra_repr(self):
        return "d_model=%d, max_len=%d" % (self.d_model, self.max_len)


class LearnedPositionalEmbedding(Module):
    """A trained (max_len, d_model) table `weight`; forward(x, offset) returns
    x + weight[offset:offset + seq] (or, with add=False, just those rows).  Initialised
    N(0, std) with std=0.02 as in GPT-2."""

    def __init__(self, max_len, d_model, batch_first=True, std=0.02, device=None, dtype=None):
        super().__init__()
        _check_device(device)
        if d_model <= 0 or max_len <= 0:
            raise ValueError("LearnedPositionalEmbedding: max_len and d_model must be "
                             "positive, got %r and %r" % (max_len, d_model))
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.max_len, self.d_model, self.batch_first, self.std = max_len, d_model, \
            batch_first, std
        self.weight = Parameter(np.empty((max_len, d_model), dt))
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight, 0.0, self.std)

    def positions(self, T, offset=0):
        """The (T, d_model) rows for positions offset..offset+T-1 (differentiable)."""
        if offset < 0 or offset + T > self.max_len:
            raise ValueError("LearnedPositionalEmbedding: positions %d..%d exceed max_len=%d"
                             % (offset, offset + T - 1, self.max_len))
        return self.weight[offset:offset + T]

    def forward(self, x, offset=0):
        T = _check_len("LearnedPositionalEmbedding", x, offset, self.max_len, self.batch_first)
        if x.shape[-1] != self.d_model:
            raise ValueError("LearnedPositionalEmbedding: last dim must be d_model=%d, got %s"
                             % (self.d_model, tuple(x.shape)))
        p = self.positions(T, offset)
        if x.ndim == 3 and not self.batch_first:
            p = p.unsqueeze(1)
        return x + p

    def extra_repr(self):
        return "max_len=%d, d_model=%d" % (self.max_len, self.d_model)
