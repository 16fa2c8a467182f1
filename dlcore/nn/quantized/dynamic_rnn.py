"""Dynamically quantized LSTM and GRU (torch.ao.nn.quantized.dynamic.LSTM/GRU's role):
int8 weights per output row, activations and states quantized per row at each product, float32
gates (dlcore.ops.qrnn).  Inference only; no proj_size, no PackedSequence.

state_dict: the float layer's keys (weight_ih_l0, weight_hh_l0, bias_ih_l0, ..., `_reverse`
suffixes for the second direction) with the weights as int8 and one more float32 key per
weight, `<weight>_scale` (one scale per row).
"""
import numpy as np

from ...ops.qmatmul import Int8Weight, quantize_weight_per_channel
from ...ops.qrnn import qlstm_layer, qgru_layer
from ...tensor import Tensor
from ..modules.module import Module  # noqa: F401  (the base of _Dynamic)
from ..modules.rnn import rnn_repr
from .dynamic import _Dynamic, _frozen, _check_features

__all__ = ["LSTM", "GRU"]

_GATES = {"LSTM": 4, "GRU": 3}


class _QuantizedRNN(_Dynamic):
    mode = None

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 bidirectional=False):
        super().__init__()
        name = "quantized.dynamic." + self.mode
        _check_features(name, input_size, hidden_size)
        if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)) \
                or num_layers < 1:
            raise ValueError("%s: num_layers must be a positive int, got %r" % (name, num_layers))
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias = int(num_layers), bool(bias)
        self.batch_first, self.bidirectional = bool(batch_first), bool(bidirectional)
        G, H, D = _GATES[self.mode] * self.hidden_size, self.hidden_size, 2 if bidirectional else 1
        self._weight_names = []
        for layer in range(self.num_layers):
            n_in = self.input_size if layer == 0 else H * D
            for d in range(D):
                sfx = "_l%d%s" % (layer, "_reverse" if d else "")
                for kind, cols in (("ih", n_in), ("hh", H)):
                    w = "weight_%s%s" % (kind, sfx)
                    self.register_buffer(w, _frozen(np.zeros((G, cols), np.int8)))
                    self.register_buffer(w + "_scale", _frozen(np.ones(G, np.float32)))
                    self._weight_names.append(w)
                for kind in ("ih", "hh"):
                    self.register_buffer("bias_%s%s" % (kind, sfx),
                                         _frozen(np.zeros(G, np.float32)) if bias else None)

    @classmethod
    def from_float(cls, mod):
        name = "quantized.dynamic.%s.from_float" % cls.mode
        if getattr(mod, "mode", None) != cls.mode:
            raise TypeError("%s: expected a dl.nn.%s, got %s" % (name, cls.mode,
                                                                 type(mod).__name__))
        if getattr(mod, "proj_size", 0):
            raise ValueError("%s: proj_size is not supported" % name)
        new = cls(mod.input_size, mod.hidden_size, mod.num_layers, mod.bias, mod.batch_first,
                  mod.bidirectional)
        for w in new._weight_names:
            q, s = quantize_weight_per_channel(getattr(mod, w)._data)
            setattr(new, w, _frozen(q))
            setattr(new, w + "_scale", _frozen(s))
        if mod.bias:
            for k in list(new._buffers):
                if k.startswith("bias_"):
                    setattr(new, k, _frozen(getattr(mod, k)._data.astype(np.float32)))
        return new

    def _arrays(self):
        return tuple(self._buffers[k]._data for w in self._weight_names
                     for k in (w, w + "_scale"))

    def _pack(self):
        return {w: Int8Weight(self._buffers[w]._data, self._buffers[w + "_scale"]._data)
                for w in self._weight_names}

    def _b(self, key):
        b = self._buffers.get(key)
        return None if b is None else np.asarray(b._data, np.float32)

    def forward(self, input, hx=None):
        name = "quantized.dynamic." + self.mode
        lstm = self.mode == "LSTM"
        if not isinstance(input, (Tensor, np.ndarray)):
            raise TypeError("%s: input must be a Tensor of shape (T, B, input_size) (PackedSequence "
                            "is not supported), got %s" % (name, type(input).__name__))
        x = np.asarray(input._data if isinstance(input, Tensor) else input)
        if x.dtype.kind != "f":
            raise TypeError("%s: input must be floating, got %s" % (name, x.dtype))
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None]
        elif x.ndim != 3:
            raise ValueError("%s: input must be 2-D or 3-D, got shape %s" % (name, x.shape))
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        if x.shape[2] != self.input_size:
            raise ValueError("%s: input.size(-1) must be input_size=%d, got %d"
                             % (name, self.input_size, x.shape[2]))
        x = np.ascontiguousarray(x, np.float32)
        T, B = x.shape[:2]
        D, L, H = 2 if self.bidirectional else 1, self.num_layers, self.hidden_size
        h0 = c0 = None
        if hx is not None:
            parts = hx if lstm else (hx,)
            if lstm and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise TypeError("%s: hx must be a tuple (h_0, c_0)" % name)
            arrs = []
            for p in parts:
                a = np.asarray(p._data if isinstance(p, Tensor) else p, np.float32)
                a = a[:, None] if unbatched else a
                if a.shape != (L * D, B, H):
                    raise ValueError("%s: hidden state must have shape %s, got %s"
                                     % (name, (L * D, B, H), a.shape))
                arrs.append(a)
            h0 = arrs[0]
            c0 = arrs[1] if lstm else None
        packed = self._packed_weight()
        hns, cns = [], []
        for layer in range(L):
            outs = []
            for d in range(D):
                sfx = "_l%d%s" % (layer, "_reverse" if d else "")
                k = layer * D + d
                wih, whh = packed["weight_ih" + sfx], packed["weight_hh" + sfx]
                bih, bhh = self._b("bias_ih" + sfx), self._b("bias_hh" + sfx)
                if lstm:
                    b = None if bih is None else bih + bhh
                    out, hn, cn = qlstm_layer(x, wih, whh, b, None if h0 is None else h0[k],
                                              None if c0 is None else c0[k], reverse=bool(d))
                    cns.append(cn)
                else:
                    out, hn = qgru_layer(x, wih, whh, bih, bhh, None if h0 is None else h0[k],
                                         reverse=bool(d))
                outs.append(out)
                hns.append(hn)
            x = outs[0] if D == 1 else np.concatenate(outs, axis=2)
        hn = np.stack(hns)
        cn = np.stack(cns) if lstm else None
        if unbatched:
            x, hn = x[:, 0], hn[:, 0]
            cn = cn[:, 0] if lstm else None
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        out = Tensor._wrap(x)
        if lstm:
            return out, (Tensor._wrap(hn), Tensor._wrap(cn))
        return out, Tensor._wrap(hn)

    def extra_repr(self):
        # no proj_size (refused) and no dropout (inference only) in this repr
        return rnn_repr(self, "%d, %d, dtype=qint8" % (self.input_size, self.hidden_size))


class LSTM(_QuantizedRNN):
    mode = "LSTM"


class GRU(_QuantizedRNN):
    mode = "GRU"
