"""Per-layer error report of a quantized model against its float original.

compare(float_model, quantized_model, *inputs) runs both models on the same inputs (no grad)
and, for every quantized layer, measures its output against the float layer's:
- isolated: the quantized layer fed the float layer's own input, so the number is that layer's
  error alone (where precision is lost);
- in model: the quantized model's output of that layer, which carries the error of every
  quantized layer before it (how the loss grows through the network).
Each as SQNR in dB (10 log10 of signal power over error power; higher is better, int8 layers
typically give 30-45 dB) and as max |error| / max |float output|.  The model's final output gets
a row of its own.
"""
import math

import numpy as np

from ..autograd import no_grad
from ..nn import QuantizedLinear
from ..nn.quantized import dynamic as qdyn
from ..tensor import Tensor

__all__ = ["compare", "LayerError", "Report", "sqnr_db"]

_QUANTIZED = (qdyn.Linear, qdyn.LinearBF16, qdyn.LSTM, qdyn.GRU, QuantizedLinear)


def _kind(m):
    if isinstance(m, (qdyn.Linear, qdyn.LSTM, qdyn.GRU)):
        return "int8"
    if isinstance(m, qdyn.LinearBF16):
        return "bf16"
    return m.kind


def _arr(x):
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, (tuple, list)) and x:
        return _arr(x[0])
    return np.asarray(x)


def sqnr_db(ref, got):
    """10 log10(sum ref^2 / sum (ref - got)^2) in float64; inf when they are equal."""
    ref = np.asarray(ref, np.float64)
    err = np.sum((ref - np.asarray(got, np.float64)) ** 2)
    sig = np.sum(ref ** 2)
    if err == 0:
        return math.inf
    if sig == 0:
        return -math.inf
    return 10.0 * math.log10(sig / err)


def _max_rel(ref, got):
    ref = np.asarray(ref, np.float64)
    scale = np.max(np.abs(ref)) if ref.size else 0.0
    err = np.max(np.abs(ref - np.asarray(got, np.float64))) if ref.size else 0.0
    return err / scale if scale > 0 else (0.0 if err == 0 else math.inf)


class LayerError:
    """One row of the report."""

    __slots__ = ("name", "kind", "sqnr_db", "max_rel_error", "sqnr_db_in_model",
                 "max_rel_error_in_model")

    def __init__(self, name, kind, sqnr, max_rel, sqnr_in_model, max_rel_in_model):
        self.name, self.kind = name, kind
        self.sqnr_db, self.max_rel_error = sqnr, max_rel
        self.sqnr_db_in_model, self.max_rel_error_in_model = sqnr_in_model, max_rel_in_model

    def __repr__(self):
        return ("LayerError(%r, %s, sqnr_db=%.2f, max_rel_error=%.3g, sqnr_db_in_model=%.2f)"
                % (self.name, self.kind, self.sqnr_db, self.max_rel_error,
                   self.sqnr_db_in_model))


class Report(list):
    """A list of LayerError rows that prints as a table."""

    def __str__(self):
        w = max([len(r.name) for r in self] + [5])
        lines = ["%-*s  %-10s  %12s  %12s  %14s  %14s" % (
            w, "layer", "kind", "SQNR dB", "max rel err", "SQNR in model", "max rel in model")]
        for r in self:
            lines.append("%-*s  %-10s  %12.2f  %12.3g  %14.2f  %14.3g" % (
                w, r.name, r.kind, r.sqnr_db, r.max_rel_error, r.sqnr_db_in_model,
                r.max_rel_error_in_model))
        return "\n".join(lines)

    def worst(self):
        """The quantized layer with the lowest isolated SQNR."""
        rows = [r for r in self if r.name != "(output)"]
        return min(rows, key=lambda r: r.sqnr_db) if rows else None


def compare(float_model, quantized_model, *inputs, **kwargs):
    """Report of per-layer errors (see the module docstring); inputs are passed to both models."""
    qlayers = {name: m for name, m in quantized_model.named_modules()
               if isinstance(m, _QUANTIZED)}
    if not qlayers:
        raise ValueError("compare: quantized_model has no quantized layers")
    fmods = dict(float_model.named_modules())
    missing = [n for n in qlayers if n not in fmods]
    if missing:
        raise ValueError("compare: the float model has no layer named %s (are these the same "
                         "network?)" % ", ".join(repr(n) for n in missing))
    f_in, f_out, q_out = {}, {}, {}

    def keep(store_in, store_out, name):
        def hook(mod, args, out):
            if store_in is not None:
                store_in[name] = _arr(args[0]).copy()
            store_out[name] = _arr(out).copy()
        return hook

    handles = [fmods[n].register_forward_hook(keep(f_in, f_out, n)) for n in qlayers]
    handles += [m.register_forward_hook(keep(None, q_out, n)) for n, m in qlayers.items()]
    try:
        with no_grad():
            fy = _arr(float_model(*inputs, **kwargs))
            qy = _arr(quantized_model(*inputs, **kwargs))
    finally:
        for h in handles:
            h.remove()
    report = Report()
    with no_grad():
        for name, qm in qlayers.items():
            if name not in f_out or name not in q_out:
                continue          # a layer the forward pass never called
            iso = _arr(qm(Tensor._wrap(f_in[name])))
            kind = _kind(qm)
            report.append(LayerError(name, kind, sqnr_db(f_out[name], iso),
                                     _max_rel(f_out[name], iso),
                                     sqnr_db(f_out[name], q_out[name]),
                                     _max_rel(f_out[name], q_out[name])))
    s, r = sqnr_db(fy, qy), _max_rel(fy, qy)
    report.append(LayerError("(output)", "model", s, r, s, r))
    return report
