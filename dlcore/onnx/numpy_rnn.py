"""ONNX's LSTM, GRU and RNN in NumPy, by the operator's definition, for the forms dlcore's
recurrent kernel (PyTorch's cells) does not run: GRU with linear_before_reset=0, LSTM
peepholes, clip, other activations, sequences shorter than the batch's longest.  A Python
step of the plan; the common forms never come here (ops_rnn.py).

Inputs are ONNX's: X (T, B, I) (time-major; the converter transposes layout 1), W, R, B,
sequence_lens, initial_h (D, B, H), initial_c, P; gates i o f c / z r h.  Steps past a
sequence's length leave its state alone and write zeros to Y."""
import numpy as np

__all__ = ["onnx_rnn", "ACTIVATIONS"]


def _act(name, alpha, beta):
    n = name.lower()
    if n == "sigmoid":
        return lambda x: 1.0 / (1.0 + np.exp(-x))
    if n == "tanh":
        return np.tanh
    if n == "relu":
        return lambda x: np.maximum(x, 0)
    if n == "leakyrelu":
        return lambda x: np.where(x >= 0, x, (0.01 if alpha is None else alpha) * x)
    if n == "thresholdedrelu":
        return lambda x: np.where(x > (1.0 if alpha is None else alpha), x, 0)
    if n == "scaledtanh":
        return lambda x: (1.0 if alpha is None else alpha) * np.tanh(
            (1.0 if beta is None else beta) * x)
    if n == "hardsigmoid":
        return lambda x: np.clip((0.2 if alpha is None else alpha) * x +
                                 (0.5 if beta is None else beta), 0, 1)
    if n == "elu":
        return lambda x: np.where(x >= 0, x, (1.0 if alpha is None else alpha) * np.expm1(x))
    if n == "softsign":
        return lambda x: x / (1 + np.abs(x))
    if n == "softplus":
        return lambda x: np.logaddexp(0, x)
    if n == "affine":
        return lambda x: (1.0 if alpha is None else alpha) * x + (0.0 if beta is None else beta)
    raise ValueError("activation %r is not one ONNX defines" % name)


ACTIVATIONS = ("sigmoid", "tanh", "relu", "leakyrelu", "thresholdedrelu", "scaledtanh",
               "hardsigmoid", "elu", "softsign", "softplus", "affine")


def _cell(op, H, acts, clip, lbr, P):
    f, g = acts[0], acts[1] if len(acts) > 1 else None
    h_act = acts[2] if len(acts) > 2 else None

    def cl(v):
        return v if clip is None else np.clip(v, -clip, clip)

    def lstm(xw, h, c, R, Rb):
        gates = xw + h @ R.T + Rb
        i, o, fg, cc = (gates[:, k * H:(k + 1) * H] for k in range(4))
        if P is not None:
            i = i + P[0:H] * c
            fg = fg + P[2 * H:3 * H] * c
        i, fg, cc = f(cl(i)), f(cl(fg)), g(cl(cc))
        c2 = fg * c + i * cc
        if P is not None:
            o = o + P[H:2 * H] * c2
        o = f(cl(o))
        return o * h_act(c2), c2

    def gru(xw, h, c, R, Rb):
        rz = h @ R[:2 * H].T + Rb[:2 * H]
        z = f(cl(xw[:, :H] + rz[:, :H]))
        r = f(cl(xw[:, H:2 * H] + rz[:, H:2 * H]))
        if lbr:
            hh = g(cl(xw[:, 2 * H:] + r * (h @ R[2 * H:].T + Rb[2 * H:])))
        else:
            hh = g(cl(xw[:, 2 * H:] + (r * h) @ R[2 * H:].T + Rb[2 * H:]))
        return (1 - z) * hh + z * h, c

    def rnn(xw, h, c, R, Rb):
        return f(cl(xw + h @ R.T + Rb)), c
    return {"LSTM": lstm, "GRU": gru, "RNN": rnn}[op]


def onnx_rnn(X, W, R, B=None, lens=None, h0=None, c0=None, P=None, cell="LSTM",
             directions=("forward",), acts=(), alphas=(), betas=(), clip=None, lbr=0):
    """(Y (T, D, B, H), Y_h (D, B, H)[, Y_c]) in float64, cast back to X's dtype."""
    T, Bn, _ = X.shape
    D = len(directions)
    H = R.shape[-1]
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[cell]
    per = {"LSTM": 3, "GRU": 2, "RNN": 1}[cell]
    dt = X.dtype
    x = X.astype(np.float64)
    lens = np.full(Bn, T, np.int64) if lens is None else np.asarray(lens, np.int64)
    Y = np.zeros((T, D, Bn, H))
    Yh = np.zeros((D, Bn, H))
    Yc = np.zeros((D, Bn, H))
    for d, direction in enumerate(directions):
        fns = [_act(acts[d * per + k], alphas[d * per + k] if alphas else None,
                    betas[d * per + k] if betas else None) for k in range(per)]
        Wb = B[d, :G * H].astype(np.float64) if B is not None else np.zeros(G * H)
        Rb = B[d, G * H:].astype(np.float64) if B is not None else np.zeros(G * H)
        step_fn = _cell(cell, H, fns, clip, lbr, None if P is None else P[d].astype(np.float64))
        h = np.zeros((Bn, H)) if h0 is None else h0[d].astype(np.float64)
        c = np.zeros((Bn, H)) if c0 is None else c0[d].astype(np.float64)
        Wd, Rd = W[d].astype(np.float64), R[d].astype(np.float64)
        for step in range(T):
            live = step < lens
            # a reversed sequence starts at its own last step
            t = np.where(lens - 1 - step >= 0, lens - 1 - step, 0) if direction == "reverse" \
                else np.full(Bn, step)
            xt = x[t, np.arange(Bn)]
            h2, c2 = step_fn(xt @ Wd.T + Wb, h, c, Rd, Rb)
            h = np.where(live[:, None], h2, h)
            c = np.where(live[:, None], c2, c)
            Y[t[live], d, np.arange(Bn)[live]] = h[live]
        Yh[d], Yc[d] = h, c
    out = (Y.astype(dt), Yh.astype(dt))
    return out + (Yc.astype(dt),) if cell == "LSTM" else out
