"""Module.summary(): a model's layers, their output shapes, parameter counts and MACs.

    print(model.summary((1, 3, 32, 32)))        # or dl.nn.summary.summary(model, ...)

One forward pass on zeros of the given shape (batch dimension included) runs with hooks on every
submodule, in eval mode and without recording gradients; the training flags are restored after.
Without an input shape only the parameter columns are filled.

Parameters: each row counts the parameters its module owns directly, or all of them when the
row's children are hidden by `depth`, so the rows add up to the total (a shared parameter is
counted once).  MACs (multiply-accumulates; one MAC is two FLOPs) are counted for the layers
whose arithmetic is a product of weights and inputs: Linear, Conv1d/Conv2d, ConvTranspose2d,
RNN/LSTM/GRU and their cells, MultiheadAttention (projections and the two attention products).
Normalisation, activations, pooling and embeddings count 0, as do functional calls a custom
forward() makes directly.
"""
import numpy as np

from ..autograd import no_grad
from ..dtypes import float32
from ..tensor import Tensor, zeros

__all__ = ["summary", "ModelSummary", "layer_macs"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _numel(shape):
    return int(np.prod(shape)) if shape is not None else 0


def _tensors(obj):
    """The tensors inside a module's output (a tensor, or tuples/lists/dicts of them)."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    return []


def _steps(module, x):
    """Time steps x batch rows an RNN layer processes for input x (a tensor or PackedSequence)."""
    data = getattr(x, "data", None)
    if data is not None and hasattr(x, "batch_sizes"):      # PackedSequence
        return int(data.shape[0])
    shape = tuple(x.shape)
    return _numel(shape[:-1]) if len(shape) >= 2 else 1


def _kinds(module):
    # layer kinds by class name along the MRO (a subclass of Linear counts as a Linear); this
    # module is imported by Module itself, so it cannot import the layer classes
    return {c.__name__ for c in type(module).__mro__}


def layer_macs(module, inputs, output):
    """Multiply-accumulates of one call of `module` (0 for layers this does not count)."""
    kinds = _kinds(module)
    outs = _tensors(output)
    ins = [i for i in inputs if i is not None]
    if "Linear" in kinds and outs:
        return _numel(outs[0].shape) * module.in_features
    if "_ConvNd" in kinds and outs and ins:
        k = _numel(module.kernel_size)
        if module.transposed:
            return _numel(ins[0].shape) * (module.out_channels // module.groups) * k
        return _numel(outs[0].shape) * (module.in_channels // module.groups) * k
    if "RNNBase" in kinds and ins:
        G, H = _GATES[module.mode], module.hidden_size
        P = module.proj_size or H
        D = 2 if module.bidirectional else 1
        steps = _steps(module, ins[0])
        total = 0
        for layer in range(module.num_layers):
            fan_in = module.input_size if layer == 0 else D * P
            total += D * steps * (G * H * (fan_in + P) + (H * P if module.proj_size else 0))
        return total
    if "RNNCellBase" in kinds and ins:
        G, H = _GATES[module.mode], module.hidden_size
        rows = _numel(tuple(ins[0].shape)[:-1]) or 1
        return rows * G * H * (module.input_size + H)
    if "MultiheadAttention" in kinds and len(ins) >= 3:
        q, k, v = ins[:3]
        E = module.embed_dim
        n_q, n_k = _numel(tuple(q.shape)[:-1]), _numel(tuple(k.shape)[:-1])
        seq_k = int(k.shape[0 if q.ndim == 2 or not module.batch_first else 1])
        # in-projections, then Q K^T and P V: each (rows of Q) x (keys) x E; out_proj is a
        # Linear child and counts itself
        return (n_q * E * E + n_k * module.kdim * E + n_k * module.vdim * E
                + 2 * n_q * seq_k * E)
    return 0


def _fmt_shape(output):
    shapes = [tuple(int(d) for d in t.shape) for t in _tensors(output)]
    if not shapes:
        return "-"
    return ", ".join("(%s)" % ", ".join(str(d) for d in s) if len(s) != 1 else "(%d,)" % s[0]
                     for s in shapes)


def _human(n):
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return "%.2f %s" % (n / div, unit)
    return str(int(n))


class ModelSummary:
    """What summary() found; str() is the table.  rows: dicts with name, type, depth, output
    (shape text), params, macs, calls."""

    def __init__(self, model_name, rows, total, trainable, param_bytes, macs, input_shapes):
        self.model_name = model_name
        self.rows = rows
        self.total_params = total
        self.trainable_params = trainable
        self.non_trainable_params = total - trainable
        self.param_bytes = param_bytes
        self.total_macs = macs
        self.input_shapes = input_shapes

    def __str__(self):
        ran = self.input_shapes is not None
        head = ["layer (type)", "output shape", "params"] + (["MACs"] if ran else [])
        cells = []
        for r in self.rows:
            label = "  " * (r["depth"] - 1) + "%s (%s)" % (r["name"].rsplit(".", 1)[-1],
                                                          r["type"])
            out = r["output"] if r["calls"] else "-"
            if r["calls"] > 1:
                out += " x%d calls" % r["calls"]
            line = [label, out if ran else "", "{:,}".format(r["params"])]
            if ran:
                line.append("{:,}".format(r["macs"]))
            cells.append(line)
        if not ran:
            head.pop(1)
            cells = [[c[0], c[2]] for c in cells]
        widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(head)]

        def fmt(c):
            return "  ".join(s.ljust(w) if i == 0 or (ran and i == 1) else s.rjust(w)
                             for i, (s, w) in enumerate(zip(c, widths))).rstrip()

        rule = "=" * max(len(fmt(head)), 40)
        lines = [self.model_name, rule, fmt(head), rule] + [fmt(c) for c in cells] + [rule]
        lines.append("total params: {:,} ({:.2f} MB)".format(self.total_params,
                                                            self.param_bytes / 1e6))
        lines.append("trainable params: {:,}".format(self.trainable_params))
        lines.append("non-trainable params: {:,}".format(self.non_trainable_params))
        if ran:
            lines.append("MACs for input %s: %s (%s)" % (
                ", ".join(str(s) for s in self.input_shapes), "{:,}".format(self.total_macs),
                _human(self.total_macs)))
        else:
            lines.append("(no input shape given: output shapes and MACs need a forward pass)")
        return "\n".join(lines)

    __repr__ = __str__


def _check_shape(shape, what="input_shape"):
    if not isinstance(shape, (tuple, list)) or not shape or \
            not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
                    for d in shape):
        raise ValueError("summary: %s must be a tuple of positive ints with the batch dimension "
                         "first, e.g. (1, 3, 32, 32); got %r" % (what, shape))
    return tuple(int(d) for d in shape)


def _make_inputs(input_shape, dtypes):
    if input_shape and isinstance(input_shape[0], (tuple, list)):
        shapes = [_check_shape(s, "input_shape[%d]" % i) for i, s in enumerate(input_shape)]
    else:
        shapes = [_check_shape(input_shape)]
    if dtypes is None:
        dtypes = [float32] * len(shapes)
    elif not isinstance(dtypes, (tuple, list)):
        dtypes = [dtypes] * len(shapes)
    if len(dtypes) != len(shapes):
        raise ValueError("summary: dtypes has %d entries for %d input shapes"
                         % (len(dtypes), len(shapes)))
    return [zeros(*s, dtype=d) for s, d in zip(shapes, dtypes)], shapes


def summary(model, input_shape=None, dtypes=None, input_data=None, depth=None):
    """Summarise `model` (a dl.nn.Module); see the module docstring.

    input_shape: the input's shape with the batch dimension, or a list of shapes for a forward
    taking several inputs; dtypes: their dtypes (default float32; e.g. dl.int64 for token ids);
    input_data: tensors to run instead (a tensor or a tuple); depth: deepest level of submodules
    shown (None: all)."""
    if not callable(getattr(model, "named_modules", None)):
        raise TypeError("summary: model must be a dl.nn.Module, got %s" % type(model).__name__)
    if depth is not None and (not isinstance(depth, int) or depth < 1):
        raise ValueError("summary: depth must be a positive int or None, got %r" % (depth,))
    if input_data is not None and input_shape is not None:
        raise ValueError("summary: give input_shape or input_data, not both")
    hooked = list(model.named_modules())
    # the root is hooked too (a lone Linear has MACs) but gets a row only when it is all there is
    named = [(n, mod) for n, mod in hooked if n] or [(type(model).__name__, model)]
    stats = {id(mod): {"calls": 0, "macs": 0, "output": "-"} for _, mod in hooked}
    inputs = shapes = None
    if input_data is not None:
        inputs = list(input_data) if isinstance(input_data, (tuple, list)) else [input_data]
        shapes = [tuple(int(d) for d in t.shape) for t in _tensors(inputs)]
    elif input_shape is not None:
        inputs, shapes = _make_inputs(input_shape, dtypes)
    macs_total = 0
    if inputs is not None:
        handles = []

        def hook(mod, args, output):
            nonlocal macs_total
            s = stats[id(mod)]
            s["calls"] += 1
            if s["calls"] == 1:
                s["output"] = _fmt_shape(output)
            mac = layer_macs(mod, args, output)
            s["macs"] += mac
            macs_total += mac

        for _, mod in hooked:
            handles.append(mod.register_forward_hook(hook))
        modes = [(mod, mod.training) for mod in model.modules()]
        try:
            model.eval()
            with no_grad():
                model(*inputs)
        finally:
            for h in handles:
                h.remove()
            for mod, was in modes:
                mod.training = was
    rows = []
    own = sum(p.numel() for p in model.parameters(recurse=False))
    if len(hooked) > 1 and (own or stats[id(model)]["macs"]):
        # the model's own parameters and arithmetic (e.g. MultiheadAttention's projections)
        rows.append({"name": "(own)", "type": type(model).__name__, "depth": 1,
                     "output": stats[id(model)]["output"], "params": int(own),
                     "macs": int(stats[id(model)]["macs"]), "calls": stats[id(model)]["calls"]})
    for name, mod in named:
        d = name.count(".") + 1 if mod is not model else 1
        if depth is not None and d > depth:
            continue
        leaf_shown = (depth is not None and d == depth) or mod is model
        params = sum(p.numel() for p in mod.parameters(recurse=leaf_shown))
        macs = stats[id(mod)]["macs"]
        if leaf_shown:
            macs = sum(stats[id(sub)]["macs"] for sub in mod.modules() if id(sub) in stats)
        rows.append({"name": name, "type": type(mod).__name__, "depth": d,
                     "output": stats[id(mod)]["output"], "params": int(params),
                     "macs": int(macs), "calls": stats[id(mod)]["calls"]})
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    nbytes = sum(p.numel() * np.dtype(p.dtype).itemsize for p in params)
    return ModelSummary(type(model).__name__, rows, int(total), int(trainable), int(nbytes),
                        int(macs_total), shapes)

