"""`dlcore bench rnn`: LSTM and GRU layers (seq 100, batch 32, input 128, hidden 256, one layer),
forward and forward+backward, against a GEMM-based NumPy reference and torch in the same run.

Ratios are their time / dlcore's (> 1 means dlcore is faster); each figure is a median over
rounds.  At one thread the three sides are timed in interleaved rounds (one call of each per
round) so that load from other processes on a shared machine hits them alike; at two each side
runs its own block after a pause, since an idle thread pool keeps spinning for a while after its
call and would slow the next side (see dlcore.bench.sides_ms).
"""
import numpy as np

from . import sides_ms

__all__ = ["run", "format_table", "np_lstm", "np_gru"]

SEQ, BATCH, INPUT, HIDDEN = 100, 32, 128, 256


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


def run(threads=(1, 2), quick=False):
    import dlcore as dl
    from dlcore import _C
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        threadpool_limits = None
    T, B, I, H = (20, 8, 32, 64) if quick else (SEQ, BATCH, INPUT, HIDDEN)
    rounds = 2 if quick else 7
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    gout = rng.standard_normal((T, B, H)).astype(np.float32)
    rows = []
    prev = _C.get_num_threads()
    prev_torch = torch.get_num_threads() if torch is not None else None
    try:
        for kind, ref in (("LSTM", np_lstm), ("GRU", np_gru)):
            dl.manual_seed(0)
            m = getattr(dl.nn, kind)(I, H)
            w = [p.numpy() for p in m.parameters()]
            tm = None
            if torch is not None:
                tm = getattr(torch.nn, kind)(I, H)
                with torch.no_grad():
                    for tp, a in zip(tm.parameters(), w):
                        tp.copy_(torch.from_numpy(a))
                xt, gt = torch.from_numpy(x), torch.from_numpy(gout)
            xd, gd = dl.tensor(x), dl.tensor(gout)
            for nt in threads:
                _C.set_num_threads(nt)
                if torch is not None:
                    torch.set_num_threads(nt)
                limit = threadpool_limits(nt) if threadpool_limits else None
                try:
                    for bwd in (False, True):
                        if bwd:
                            def dl_fn():
                                xx = dl.tensor(x, requires_grad=True)
                                m.zero_grad()
                                m(xx)[0].backward(gd)

                            def np_fn():
                                ref(x, *w, grad=gout)

                            def torch_fn():
                                xx = xt.clone().requires_grad_()
                                tm.zero_grad()
                                tm(xx)[0].backward(gt)
                        else:
                            def dl_fn():
                                with dl.no_grad():
                                    m(xd)

                            def np_fn():
                                ref(x, *w)

                            def torch_fn():
                                with torch.no_grad():
                                    tm(xt)
                        d_ms, n_ms, t_ms = sides_ms(
                            [dl_fn, np_fn, torch_fn if torch is not None else None], rounds,
                            interleave=nt == 1)
                        rows.append({
                            "case": "%s %s seq%d b%d in%d h%d" % (kind, "fwd+bwd" if bwd else "fwd",
                                                                T, B, I, H),
                            "threads": nt, "dlcore_ms": d_ms, "numpy_ms": n_ms, "torch_ms": t_ms,
                            "ratio_numpy": n_ms / d_ms,
                            "ratio_torch": t_ms / d_ms if t_ms is not None else None,
                        })
                finally:
                    if limit is not None:
                        limit.unregister()
    finally:
        _C.set_num_threads(prev)
        if torch is not None:
            torch.set_num_threads(prev_torch)
    return rows


def format_table(rows):
    head = "%-34s %3s %10s %10s %10s %8s %8s" % ("case", "thr", "dlcore ms", "numpy ms",
                                                 "torch ms", "x numpy", "x torch")
    lines = [head, "-" * len(head)]
    for r in rows:
        t = "%10.2f" % r["torch_ms"] if r["torch_ms"] is not None else "%10s" % "-"
        rt = "%8.2f" % r["ratio_torch"] if r["ratio_torch"] is not None else "%8s" % "-"
        lines.append("%-34s %3d %10.2f %10.2f %s %8.2f %s" % (
            r["case"], r["threads"], r["dlcore_ms"], r["numpy_ms"], t, r["ratio_numpy"], rt))
    lines.append("ratios: their time / dlcore's time (> 1: dlcore is faster)")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    print(format_table(run(quick="--quick" in sys.argv)))
