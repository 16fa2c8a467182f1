"""Per-op overhead: Linear forward/backward and a whole MLP training step at batch 1 and 64,
and single ops on one-element tensors (dlcore.bench._eager_overhead: microseconds per op).

The MLP is 784-256-128-10 with ReLU, cross-entropy and plain SGD, the same model on every side:
dlcore, a hand-written NumPy forward/backward/update, and torch (nn.Linear, F.cross_entropy,
optim.SGD).  At batch 1 the step is dominated by per-call overhead, at batch 64 by the GEMMs.
Before timing, dlcore is checked against the NumPy side: the Linear's output and gradients, and
the MLP's weights after one step from the same start, within RTOL x max |reference|.
Timing (Linear and MLP rows): at one thread the sides take turns call by call, each call timed
in CPU time of the process; with more threads the median wall time of each side's own block.
"""
import numpy as np

from . import (assert_close, format_table, get_torch, row, sides_ms, threads as thread_scope,
               time_ms)
from . import _eager_overhead as eager_overhead

SIZES = (784, 256, 128, 10)
RTOL = 1e-4


def _dl_step(batch, rng):
    import dlcore as dl
    from dlcore import nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    opt = dl.optim.SGD(model.parameters(), lr=0.01)
    xa = rng.standard_normal((batch, 784)).astype(np.float32)
    ya = rng.integers(0, 10, batch)
    x, y = dl.tensor(xa), dl.tensor(ya)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return step, model, xa, ya


def _np_step(batch, rng, start=None):
    """The NumPy step; start = (weights, biases, x, y) to begin where a dlcore model is."""
    if start is None:
        ws = [(rng.standard_normal((o, i)) * 0.05).astype(np.float32)
              for i, o in zip(SIZES[:-1], SIZES[1:])]
        bs = [np.zeros(o, np.float32) for o in SIZES[1:]]
        x = rng.standard_normal((batch, 784)).astype(np.float32)
        y = rng.integers(0, 10, batch)
    else:
        ws, bs, x, y = ([a.copy() for a in start[0]], [a.copy() for a in start[1]], start[2],
                        start[3])

    def step():
        acts = [x]
        h = x
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = h @ w.T + b
            if i < len(ws) - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        z = h - h.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        p[np.arange(batch), y] -= 1
        g = p / batch
        for i in range(len(ws) - 1, -1, -1):
            gw = g.T @ acts[i]
            gb = g.sum(0)
            if i:
                g = (g @ ws[i]) * (acts[i] > 0)
            ws[i] -= 0.01 * gw
            bs[i] -= 0.01 * gb
    return step, ws, bs


def _check_step(batch, rng):
    """One dlcore SGD step and one NumPy step from the same weights and batch agree."""
    step, model, x, y = _dl_step(batch, rng)
    lins = [m for m in model if hasattr(m, "weight")]
    start = ([m.weight.numpy().copy() for m in lins], [m.bias.numpy().copy() for m in lins],
             x, y)
    np_step, ws, bs = _np_step(batch, rng, start)
    step()
    np_step()
    for i, m in enumerate(lins):
        case = "mlp train step b%d" % batch
        assert_close(case, "weight %d after a step" % i, m.weight, ws[i], RTOL)
        assert_close(case, "bias %d after a step" % i, m.bias, bs[i], RTOL)


def _torch_step(torch, batch, rng):
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.tensor(rng.standard_normal((batch, 784)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def _linear_call(linear, args, grad, backward):
    """One framework's side: linear(*args), then its backward with `grad` if asked."""
    def fn():
        out = linear(*args)
        if backward:
            out.backward(grad)
        return out
    return fn


def _linear_sides(batch, rng, backward):
    import dlcore as dl
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    w = (rng.standard_normal((256, 784)) * 0.05).astype(np.float32)
    b = np.zeros(256, np.float32)
    g = rng.standard_normal((batch, 256)).astype(np.float32)
    tx, tw, tb = (dl.tensor(a, requires_grad=backward) for a in (x, w, b))
    dl_fn = _linear_call(dl.nn.functional.linear, (tx, tw, tb), dl.tensor(g), backward)

    def np_fn():
        out = x @ w.T + b
        if backward:
            return g @ w, g.T @ x, g.sum(0), out
        return out

    torch = get_torch()
    t_fn = None
    if torch is not None:
        t_fn = _linear_call(torch.nn.functional.linear,
                            [torch.tensor(a, requires_grad=backward) for a in (x, w, b)],
                            torch.tensor(g), backward)

    def check():
        case = "mlp linear 784->256 b%d %s" % (batch, "fwd+bwd" if backward else "fwd")
        tx.grad = tw.grad = tb.grad = None
        out = dl_fn()
        ref = np_fn()
        if not backward:
            assert_close(case, "output", out, ref, RTOL)
            return
        for what, got, want in zip(("input grad", "weight grad", "bias grad", "output"),
                                   (tx.grad, tw.grad, tb.grad, out), ref):
            assert_close(case, what, got, want, RTOL)
    return dl_fn, np_fn, t_fn, check


def _times(nt, repeats, *fns):
    """ms of each side (None: none): at one thread the sides in turn, each call timed in CPU
    time of the process (load from other processes on a shared machine stretches wall time,
    not that); with more threads each side's median wall time in its own block."""
    if nt == 1:
        return sides_ms(list(fns), repeats, interleave=True, cpu=True)
    return [time_ms(f, repeats) if f is not None else None for f in fns]


def run(threads=(1, 2), quick=False):
    rng = np.random.default_rng(0)
    repeats = 20 if quick else 200
    torch = get_torch()
    rows = []
    for nt in threads:
        with thread_scope(nt):
            for batch in (1, 64):
                for backward in (False, True):
                    d, n, t, check = _linear_sides(batch, rng, backward)
                    check()
                    case = "linear 784->256 b%d %s" % (batch, "fwd+bwd" if backward else "fwd")
                    rows.append(row(case, nt, *_times(nt, repeats, d, n, t)))
            for batch in (1, 64):
                _check_step(batch, rng)
                d = _dl_step(batch, rng)[0]
                n = _np_step(batch, rng)[0]
                t = _torch_step(torch, batch, rng) if torch is not None else None
                rows.append(row("MLP 784-256-128-10 train step b%d" % batch, nt,
                                *_times(nt, repeats, d, n, t)))
            rows += eager_overhead.rows(torch, nt, quick)
    return rows


__all__ = ["run", "format_table"]

if __name__ == "__main__":
    print(format_table(run()))
