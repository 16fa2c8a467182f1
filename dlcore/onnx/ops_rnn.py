"""ONNX LSTM, GRU and RNN onto dlcore's recurrent op (PyTorch's layout and gate order).

ONNX stacks each direction's weights as W (D, G*H, I), R (D, G*H, H), B (D, 2*G*H) with
gates in the order i o f c (LSTM) / z r h (GRU); PyTorch's are i f g o / r z n.  The rows are
regathered per direction (folded into new constants when the weights are initializers).
X (T, B, I) becomes the packed (T*B, I) rows with T steps of B; Y comes back as
(T, D, B, H) (layout 0) or (B, T, D, H) (layout 1).  A "reverse" direction runs forward over
the time-reversed sequence.  Forms the kernel does not have (GRU with linear_before_reset=0,
peepholes, clip, other activations, sequences shorter than T) run as NumPy steps
(numpy_rnn.py); input_forget=1 is not supported."""
import numpy as np

from .numpy_rnn import ACTIVATIONS
from .registry import converter

__all__ = []

_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
# position of each PyTorch gate block in ONNX's order
_TORCH_ORDER = {"LSTM": (0, 2, 3, 1), "GRU": (1, 0, 2), "RNN": (0,)}
_DEFAULT_ACTS = {"LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"],
                 "RNN": ["tanh"]}


def _reorder(b, v, op, H, axis):
    idx = np.concatenate([np.arange(g * H, (g + 1) * H) for g in _TORCH_ORDER[op]])
    if op == "RNN":
        return v
    return b.gather(v, b.const(idx.astype(np.int64)), axis)


def _take(b, v, d):
    """v[d] for a (D, ...) value."""
    starts, ends = [0] * v.ndim, list(v.shape)
    starts[0], ends[0] = d, d + 1
    return b.reshape(b.slice(v, starts, ends), v.shape[1:])


def _reverse_time(b, v, T):
    return b.gather(v, b.const(np.arange(T - 1, -1, -1, dtype=np.int64)), 0)


def _kernel_form(node, op, lens, T, P):
    """("tanh" | "relu") when dlcore's kernel runs this node as it is, None when it needs the
    NumPy form (numpy_rnn.py)."""
    acts = node.attr("activations", None)
    D = 2 if node.attr("direction", "forward") == "bidirectional" else 1
    nonlin = "tanh"
    if acts is not None:
        acts = [a.lower() for a in acts]
        if op == "RNN" and acts == ["relu"] * D:
            nonlin = "relu"
        elif acts != _DEFAULT_ACTS[op] * D:
            return None
    if node.attr("clip", None) is not None or node.attr("activation_alpha", None) or \
            node.attr("activation_beta", None):
        return None
    if op == "GRU" and not node.attr("linear_before_reset", 0):
        return None   # dlcore's GRU cell is PyTorch's: the reset gate after the recurrent matmul
    if P is not None and (not P.is_const or np.any(P.data != 0)):
        return None
    if lens is not None and (not lens.is_const or np.any(np.asarray(lens.data) != T)):
        return None
    return nonlin


def _numpy_form(b, node, op, x, W, R, Bias, lens, h0, c0, P, direction, D, H):
    acts = node.attr("activations", None) or _DEFAULT_ACTS[op] * D
    for a in acts:
        if a.lower() not in ACTIVATIONS:
            raise node.unsupported("activation %r" % a)
    dirs = ("forward", "reverse") if direction == "bidirectional" else (direction,)
    T, B, _ = x.shape
    types = [((T, D, B, H), x.dtype), ((D, B, H), x.dtype)]
    if op == "LSTM":
        types.append(((D, B, H), x.dtype))
    return b.numpy("OnnxRNN", [x, W, R, Bias, lens, h0, c0, P], types, cell=op, directions=dirs,
                   acts=tuple(acts), alphas=tuple(node.attr("activation_alpha", ()) or ()),
                   betas=tuple(node.attr("activation_beta", ()) or ()),
                   clip=node.attr("clip", None), lbr=int(node.attr("linear_before_reset", 0)))


def _recurrent(b, node, op):
    x = node.need_input(0, "X")
    W, R = node.need_input(1, "W"), node.need_input(2, "R")
    Bias = node.input(3)
    lens = node.input(4)
    h0 = node.input(5)
    c0 = node.input(6) if op == "LSTM" else None
    P = node.input(7) if op == "LSTM" else None
    if op == "LSTM" and node.attr("input_forget", 0):
        raise node.unsupported("input_forget=1 is not supported")
    direction = node.attr("direction", "forward")
    if direction not in ("forward", "reverse", "bidirectional"):
        raise node.error("direction %r is not forward, reverse or bidirectional" % direction)
    D = 2 if direction == "bidirectional" else 1
    layout = int(node.attr("layout", 0))
    G = _GATES[op]
    if x.ndim != 3:
        raise node.error("X must be 3-D, got shape %s" % (x.shape,))
    if layout:
        x = b.transpose(x, (1, 0, 2))
    T, B, I = x.shape
    H = int(node.attr("hidden_size", R.shape[-1]))
    if W.shape != (D, G * H, I) or R.shape != (D, G * H, H):
        raise node.error("W %s and R %s must be (%d, %d, %d) and (%d, %d, %d)"
                         % (W.shape, R.shape, D, G * H, I, D, G * H, H))
    if Bias is not None and Bias.shape != (D, 2 * G * H):
        raise node.error("B must be (%d, %d), got %s" % (D, 2 * G * H, Bias.shape))
    if P is not None and P.shape != (D, 3 * H):
        raise node.error("P must be (%d, %d), got %s" % (D, 3 * H, P.shape))
    for v, n in ((h0, "initial_h"), (c0, "initial_c")):
        want = (B, D, H) if layout else (D, B, H)
        if v is not None and tuple(v.shape) != want:
            raise node.error("%s must be %s, got %s" % (n, want, v.shape))
    if layout:
        h0 = None if h0 is None else b.transpose(h0, (1, 0, 2))
        c0 = None if c0 is None else b.transpose(c0, (1, 0, 2))
    if T == 0:
        raise node.unsupported("an empty sequence")
    nonlin = _kernel_form(node, op, lens, T, P)
    if nonlin is None:
        res = _numpy_form(b, node, op, x, W, R, Bias, lens, h0, c0, P, direction, D, H)
        if layout:
            res = [b.transpose(res[0], (2, 0, 1, 3))] + [b.transpose(v, (1, 0, 2))
                                                          for v in res[1:]]
        return res
    weights = []
    for d in range(D):
        weights.append(_reorder(b, _take(b, W, d), op, H, 0))
        weights.append(_reorder(b, _take(b, R, d), op, H, 0))
        if Bias is not None:
            bd = _take(b, Bias, d)
            weights.append(_reorder(b, b.slice(bd, [0], [G * H]), op, H, 0))
            weights.append(_reorder(b, b.slice(bd, [G * H], [2 * G * H]), op, H, 0))
    weights = [b.cast(w, x.dtype) for w in weights]
    rev = direction == "reverse"
    xs = _reverse_time(b, x, T) if rev else x
    rows = b.reshape(xs, (T * B, I))
    attrs = {"batch_sizes": np.full(T, B, np.int64), "num_directions": D,
             "has_bias": int(Bias is not None), "has_proj": 0}
    if op == "RNN":
        attrs["nonlinearity"] = nonlin
    types = [((T * B, D * H), x.dtype), ((D, B, H), x.dtype)]
    if op == "LSTM":
        types.append(((D, B, H), x.dtype))
    outs = b.emit(op, [rows, h0, c0] + weights, attrs, types)
    y = b.reshape(outs[0], (T, B, D, H))
    if rev:
        y = _reverse_time(b, y, T)
    y = b.transpose(y, (1, 0, 2, 3) if layout else (0, 2, 1, 3))
    res = [y, outs[1]] + ([outs[2]] if op == "LSTM" else [])
    if layout:
        res = [res[0]] + [b.transpose(v, (1, 0, 2)) for v in res[1:]]
    return res


@converter("LSTM", since=7)
def lstm(b, node):
    return _recurrent(b, node, "LSTM")


@converter("GRU", since=7)
def gru(b, node):
    return _recurrent(b, node, "GRU")


@converter("RNN", since=7)
def rnn(b, node):
    return _recurrent(b, node, "RNN")
