"""Recurrent layers RNN, LSTM, GRU and their single-step cells, with PyTorch's parameters.

Parameter names, shapes, gate order (LSTM i, f, g, o; GRU r, z, n) and init are PyTorch's, so a
torch state_dict converted to NumPy loads unchanged.  Each layer runs on the fused C time loop
(dlcore.ops.rnn); inputs are a padded tensor or a PackedSequence (variable lengths).
"""
import math

import numpy as np

from ...functions import cat
from ...ops.dropout import dropout as _dropout
from ...ops.rnn import _GATES, check_cell_args, check_rnn_args, rnn_layer
from ...tensor import _check_device, get_default_dtype
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_FLOAT = (np.dtype(np.float32), np.dtype(np.float64))


def _check_int(name, v, low, owner):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise ValueError("%s: %s must be an int >= %d, got %r" % (owner, name, low, v))
    return int(v)


def rnn_repr(m, head):
    """`head` and the options of recurrent layer m that differ from their defaults, in torch's
    order (shared by the float and the dynamically quantized layers)."""
    s = head
    if getattr(m, "proj_size", 0):
        s += ", proj_size=%d" % m.proj_size
    if m.num_layers != 1:
        s += ", num_layers=%d" % m.num_layers
    if not m.bias:
        s += ", bias=False"
    if m.batch_first:
        s += ", batch_first=True"
    if getattr(m, "dropout", 0):
        s += ", dropout=%s" % m.dropout
    if m.bidirectional:
        s += ", bidirectional=True"
    return s


class RNNBase(Module):
    """The shared machinery of RNN, LSTM and GRU; `mode` is RNN_TANH, RNN_RELU, LSTM or GRU."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, device=None,
                 dtype=None):
        super().__init__()
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError("%s: unknown mode %r" % (name, mode))
        self.mode = mode
        self.input_size = _check_int("input_size", input_size, 0, name)
        self.hidden_size = _check_int("hidden_size", hidden_size, 1, name)
        self.num_layers = _check_int("num_layers", num_layers, 1, name)
        self.proj_size = _check_int("proj_size", proj_size, 0, name)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout <= 1:
            raise ValueError("%s: dropout must be a number in [0, 1], got %r" % (name, dropout))
        if self.proj_size and mode != "LSTM":
            raise ValueError("%s: proj_size is only supported by LSTM" % name)
        if self.proj_size >= self.hidden_size:
            raise ValueError("%s: proj_size (%d) must be smaller than hidden_size (%d)"
                             % (name, self.proj_size, self.hidden_size))
        _check_device(device)
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        if dt not in _FLOAT:
            raise TypeError("%s: dtype must be float32 or float64, got %s" % (name, dt))
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        D = 2 if bidirectional else 1
        G = _GATES[mode] * self.hidden_size
        real_hidden = self.proj_size or self.hidden_size
        self._flat_weights_names = []
        for layer in range(self.num_layers):
            for direction in range(D):
                layer_in = self.input_size if layer == 0 else real_hidden * D
                sfx = "_l%d%s" % (layer, "_reverse" if direction else "")
                shapes = [("weight_ih" + sfx, (G, layer_in)), ("weight_hh" + sfx, (G, real_hidden))]
                if self.bias:
                    shapes += [("bias_ih" + sfx, (G,)), ("bias_hh" + sfx, (G,))]
                if self.proj_size:
                    shapes.append(("weight_hr" + sfx, (self.proj_size, self.hidden_size)))
                for pname, shp in shapes:
                    setattr(self, pname, Parameter(np.empty(shp, dtype=dt)))
                    self._flat_weights_names.append(pname)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        per = 2 + 2 * self.bias + bool(self.proj_size)
        w = self._flat_weights
        return [w[i:i + per] for i in range(0, len(w), per)]

    def flatten_parameters(self):
        """Nothing to do on the CPU (kept for PyTorch code that calls it)."""

    def forward(self, input, hx=None):
        lstm = self.mode == "LSTM"
        D = 2 if self.bidirectional else 1
        L = self.num_layers
        P = self.proj_size or self.hidden_size
        packed = isinstance(input, PackedSequence)
        sorted_indices = unsorted_indices = None
        if packed:
            sorted_indices, unsorted_indices = input.sorted_indices, input.unsorted_indices
        data, batch_sizes, T, B, unbatched, h0, c0 = check_rnn_args(
            type(self).__name__, self.mode, input.data if packed else input, hx,
            self.input_size, self.hidden_size, self.proj_size, L, D, self.batch_first,
            self.weight_ih_l0.dtype, input.batch_sizes if packed else None)
        if h0 is not None and sorted_indices is not None:
            h0 = h0[:, sorted_indices._data]
            c0 = c0[:, sorted_indices._data] if lstm else None

        weights = self._flat_weights
        per = len(weights) // (L * D)
        x = data
        hns, cns = [], []
        for layer in range(L):
            w = weights[layer * D * per:(layer + 1) * D * per]
            h0_l = None if h0 is None else h0[layer * D:(layer + 1) * D]
            c0_l = None if c0 is None else c0[layer * D:(layer + 1) * D]
            x, hn, cn = rnn_layer(self.mode, x, h0_l, c0_l, w, batch_sizes, D, self.bias,
                                  bool(self.proj_size))
            hns.append(hn)
            cns.append(cn)
            if self.dropout and self.training and layer < L - 1:
                x = _dropout(x, self.dropout, True)
        hn = hns[0] if L == 1 else cat(hns, 0)
        cn = (cns[0] if L == 1 else cat(cns, 0)) if lstm else None

        if packed:
            output = PackedSequence(x, input.batch_sizes, sorted_indices, unsorted_indices)
            if unsorted_indices is not None:
                hn = hn[:, unsorted_indices._data]
                cn = cn[:, unsorted_indices._data] if lstm else None
        else:
            output = x.reshape(T, B, D * P)
            if unbatched:
                output = output.squeeze(1)
                hn = hn.squeeze(1)
                cn = cn.squeeze(1) if lstm else None
            elif self.batch_first:
                output = output.transpose(0, 1)
        return (output, (hn, cn)) if lstm else (output, hn)

    def extra_repr(self):
        return rnn_repr(self, "%d, %d" % (self.input_size, self.hidden_size))


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None,
                 proj_size=0):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError("RNN: nonlinearity must be 'tanh' or 'relu', got %r"
                             % (nonlinearity,))
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self):
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(RNNBase):
    """Long short-term memory; returns (output, (h_n, c_n)).  proj_size > 0 projects h_t."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit (PyTorch's formulation, r applied to W_hn h + b_hn)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, proj_size=0):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class RNNCellBase(Module):
    """One step: weight_ih (G, input), weight_hh (G, hidden), bias_ih, bias_hh (G)."""

    def __init__(self, mode, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        self.mode = mode
        self.input_size = _check_int("input_size", input_size, 0, name)
        self.hidden_size = _check_int("hidden_size", hidden_size, 1, name)
        self.bias = bool(bias)
        _check_device(device)
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        if dt not in _FLOAT:
            raise TypeError("%s: dtype must be float32 or float64, got %s" % (name, dt))
        G = _GATES[mode] * self.hidden_size
        self.weight_ih = Parameter(np.empty((G, self.input_size), dtype=dt))
        self.weight_hh = Parameter(np.empty((G, self.hidden_size), dtype=dt))
        if self.bias:
            self.bias_ih = Parameter(np.empty((G,), dtype=dt))
            self.bias_hh = Parameter(np.empty((G,), dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def _step(self, input, hx):
        """Runs one step; returns (h', c' or None)."""
        x, h0, c0, unbatched = check_cell_args(type(self).__name__, self.mode, input, hx,
                                               self.input_size, self.hidden_size,
                                               self.weight_ih.dtype)
        lstm = self.mode == "LSTM"
        B = x.shape[0]
        w = [self.weight_ih, self.weight_hh]
        if self.bias:
            w += [self.bias_ih, self.bias_hh]
        out, _, cn = rnn_layer(self.mode, x, h0, c0, w, np.array([B], dtype=np.int64), 1,
                               self.bias, False)
        c = cn[0] if lstm else None
        if unbatched:
            out = out.squeeze(0)
            c = c.squeeze(0) if lstm else None
        return out, c

    def extra_repr(self):
        s = "%d, %d" % (self.input_size, self.hidden_size)
        if not self.bias:
            s += ", bias=False"
        return s


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError("RNNCell: nonlinearity must be 'tanh' or 'relu', got %r"
                             % (nonlinearity,))
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._step(input, hx)[0]


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        return self._step(input, hx)


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        return self._step(input, hx)[0]
