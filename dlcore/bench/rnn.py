"""`dlcore bench rnn`: LSTM and GRU layers (seq 100, batch 32, input 128, hidden 256, one layer),
forward and forward+backward, against a GEMM-based NumPy reference and torch in the same run.

Before timing, dlcore's output (and for fwd+bwd the input, weight and bias gradients) is
checked against the NumPy reference: max |error| <= RTOL x max |reference|, each tensor.
Ratios are their time / dlcore's (> 1 means dlcore is faster); each figure is a median over
rounds.  At one thread the three sides are timed in interleaved rounds (one call of each per
round) so that load from other processes on a shared machine hits them alike; at two each side
runs its own block after a pause, since an idle thread pool keeps spinning for a while after its
call and would slow the next side (see dlcore.bench.sides_ms).
"""
import numpy as np

from . import (Workload, get_torch, interleaved_timer, ms_table, output_check, row,
               timed_cases)

__all__ = ["run", "format_table", "cases", "workload", "np_lstm", "np_gru"]

SEQ, BATCH, INPUT, HIDDEN = 100, 32, 128, 256
SIDES = ("dlcore", "numpy", "torch")
RTOL = 1e-4


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_lstm(x, w_ih, w_hh, b_ih, b_hh, grad=None):
    """Reference LSTM layer (PyTorch's gates i, f, g, o) by NumPy GEMMs; with `grad` (the
    output's gradient) also BPTT, returning (out, dx, dw_ih, dw_hh, db)."""
    T, B, _ = x.shape
    H = w_hh.shape[1]
    xg = (x.reshape(T * B, -1) @ w_ih.T + (b_ih + b_hh)).reshape(T, B, 4 * H)
    h = np.zeros((B, H), x.dtype)
    c = np.zeros((B, H), x.dtype)
    out = np.empty((T, B, H), x.dtype)
    keep = []
    for t in range(T):
        g = xg[t] + h @ w_hh.T
        i, f, gg, o = _sig(g[:, :H]), _sig(g[:, H:2 * H]), np.tanh(g[:, 2 * H:3 * H]), \
            _sig(g[:, 3 * H:])
        cp, hp = c, h
        c = f * c + i * gg
        tc = np.tanh(c)
        h = o * tc
        out[t] = h
        if grad is not None:
            keep.append((i, f, gg, o, tc, cp, hp))
    if grad is None:
        return out
    dG = np.empty((T, B, 4 * H), x.dtype)
    dh = np.zeros((B, H), x.dtype)
    dc = np.zeros((B, H), x.dtype)
    hps = np.empty((T, B, H), x.dtype)
    for t in range(T - 1, -1, -1):
        i, f, gg, o, tc, cp, hp = keep[t]
        dh = dh + grad[t]
        dc = dc + dh * o * (1 - tc * tc)
        dG[t] = np.concatenate([dc * gg * i * (1 - i), dc * cp * f * (1 - f),
                                dc * i * (1 - gg * gg), dh * tc * o * (1 - o)], axis=1)
        dc = dc * f
        dh = dG[t] @ w_hh
        hps[t] = hp
    dG2 = dG.reshape(T * B, 4 * H)
    dx = (dG2 @ w_ih).reshape(x.shape)
    return out, dx, dG2.T @ x.reshape(T * B, -1), dG2.T @ hps.reshape(T * B, H), dG2.sum(0)


def np_gru(x, w_ih, w_hh, b_ih, b_hh, grad=None):
    """Reference GRU layer (PyTorch's r, z, n); with `grad` also BPTT."""
    T, B, _ = x.shape
    H = w_hh.shape[1]
    xg = (x.reshape(T * B, -1) @ w_ih.T + b_ih).reshape(T, B, 3 * H)
    h = np.zeros((B, H), x.dtype)
    out = np.empty((T, B, H), x.dtype)
    keep = []
    for t in range(T):
        hg = h @ w_hh.T + b_hh
        r = _sig(xg[t, :, :H] + hg[:, :H])
        z = _sig(xg[t, :, H:2 * H] + hg[:, H:2 * H])
        n = np.tanh(xg[t, :, 2 * H:] + r * hg[:, 2 * H:])
        hp = h
        h = (1 - z) * n + z * h
        out[t] = h
        if grad is not None:
            keep.append((r, z, n, hg[:, 2 * H:], hp))
    if grad is None:
        return out
    dX = np.empty((T, B, 3 * H), x.dtype)
    dHg = np.empty((T, B, 3 * H), x.dtype)
    hps = np.empty((T, B, H), x.dtype)
    dh = np.zeros((B, H), x.dtype)
    for t in range(T - 1, -1, -1):
        r, z, n, hn, hp = keep[t]
        dh = dh + grad[t]
        dn = dh * (1 - z) * (1 - n * n)
        dr = dn * hn * r * (1 - r)
        dz = dh * (hp - n) * z * (1 - z)
        dX[t] = np.concatenate([dr, dz, dn], axis=1)
        dHg[t] = np.concatenate([dr, dz, dn * r], axis=1)
        dh = dh * z + dHg[t] @ w_hh
        hps[t] = hp
    dX2, dH2 = dX.reshape(T * B, -1), dHg.reshape(T * B, -1)
    dx = (dX2 @ w_ih).reshape(x.shape)
    return out, dx, dX2.T @ x.reshape(T * B, -1), dH2.T @ hps.reshape(T * B, H), dX2.sum(0)


def cases(quick=False):
    """Dicts: case (the row label), kind ('LSTM' or 'GRU'), bwd, T, B, I, H."""
    T, B, I, H = (20, 8, 32, 64) if quick else (SEQ, BATCH, INPUT, HIDDEN)
    return [dict(case="%s %s seq%d b%d in%d h%d" % (kind, "fwd+bwd" if bwd else "fwd",
                                                    T, B, I, H),
                 kind=kind, bwd=bwd, T=T, B=B, I=I, H=H)
            for kind in ("LSTM", "GRU") for bwd in (False, True)]


def workload(c, torch=None):
    """One layer of case `c` on each side, torch's a copy of dlcore's weights."""
    import dlcore as dl
    kind, bwd, T, B, I, H = c["kind"], c["bwd"], c["T"], c["B"], c["I"], c["H"]
    ref = {"LSTM": np_lstm, "GRU": np_gru}[kind]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    gout = rng.standard_normal((T, B, H)).astype(np.float32)
    dl.manual_seed(0)
    m = getattr(dl.nn, kind)(I, H)
    w = [p.numpy() for p in m.parameters()]     # w_ih, w_hh, b_ih, b_hh
    xd, gd = dl.tensor(x), dl.tensor(gout)
    box = {}

    def dl_fn():
        if bwd:
            xx = box["x"] = dl.tensor(x, requires_grad=True)
            m.zero_grad()
            out = box["out"] = m(xx)[0]
            out.backward(gd)
        else:
            with dl.no_grad():
                return m(xd)[0]

    def np_fn():
        return ref(x, *w, grad=gout) if bwd else ref(x, *w)

    torch_fn = None
    if torch is not None:
        tm = getattr(torch.nn, kind)(I, H)
        with torch.no_grad():
            for tp, a in zip(tm.parameters(), w):
                tp.copy_(torch.from_numpy(a))
        xt, gt = torch.from_numpy(x), torch.from_numpy(gout)

        def torch_fn():
            if bwd:
                xx = xt.clone().requires_grad_()
                tm.zero_grad()
                tm(xx)[0].backward(gt)
            else:
                with torch.no_grad():
                    tm(xt)

    def got():
        params = list(m.parameters())
        return box["out"], box["x"].grad, params[0].grad, params[1].grad, params[2].grad
    check = output_check("rnn " + c["case"], bwd, dl_fn, got, np_fn,
                         ("output", "input grad", "weight_ih grad", "weight_hh grad",
                          "bias_ih grad"), RTOL)
    return Workload(c["case"], {"dlcore": dl_fn, "numpy": np_fn, "torch": torch_fn}, check)


def run(threads=(1, 2), quick=False):
    timer = interleaved_timer(2 if quick else 7)
    return [row(c["case"], n, ms["dlcore"], ms["numpy"], ms.get("torch"))
            for c, n, ms in timed_cases(cases(quick), workload, threads, timer, get_torch())]


def format_table(rows):
    return "\n".join(ms_table(rows, 34, ("x numpy", "x torch")) +
                     ["ratios: their time / dlcore's time (> 1: dlcore is faster)"])


if __name__ == "__main__":
    import sys
    print(format_table(run(quick="--quick" in sys.argv)))
