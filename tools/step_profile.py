"""Where one training step of `dlcore bench train_steps` spends its time, layer by layer,
dlcore against torch (issue 16: the DCGAN step was the one under 1.2x at one thread).

Per-layer table: every layer of the case's model, run alone on the activation it sees in the
step (train mode), timed as a no-grad forward and as forward + backward with an input that
requires grad; the sides alternate and the time is the fastest of `--rounds` runs in CPU time
(time.process_time), so another process's load on a shared machine hurts little.
Per-Function table (--functions): the dlcore step itself with every autograd Function's
forward and backward timed by class (nested Functions count in both; the optimizer and the
Python around the Functions are the step total minus the sum).

    DLCORE_NUM_THREADS=1 python tools/step_profile.py --functions
    DLCORE_NUM_THREADS=1 python tools/step_profile.py --functions --no-layers --case "char-gpt b32"
"""
import argparse
import collections
import time

import numpy as np


def _cpu_ms(fn, rounds):
    for _ in range(3):
        fn()
    best = float("inf")
    for _ in range(rounds):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best * 1e3


def dcgan_layers(torch, dl):
    """(name, dlcore layer, torch layer, input shape) of DCGenerator / DCDiscriminator as
    train_steps builds them, with the torch twin on the same weights."""
    from dlcore.bench.gan import torch_dcgan
    from dlcore.models import DCDiscriminator, DCGenerator
    dl.manual_seed(0)
    G, D = DCGenerator(32, 28, 1, 32), DCDiscriminator(28, 1, 32)
    tg, td = torch_dcgan(torch, G, D)
    out = []
    for prefix, ours, theirs in (("G.project", G.project, tg.project), ("G.body", G.body, tg.body),
                                 ("D.net", D.net, td.net)):
        for i, (a, b) in enumerate(zip(ours, theirs)):
            out.append(("%s.%d" % (prefix, i), a, b))
    return out


def layer_table(torch, dl, rounds, batch=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 32)).astype(np.float32)
    totals = np.zeros(4)
    print("%-12s %-34s %17s   %17s" % ("layer", "output", "fwd dl / torch", "fwd+bwd dl / torch"))
    for name, ours, theirs in dcgan_layers(torch, dl):
        if name == "D.net.0":
            x = rng.uniform(-1, 1, (batch, 1, 28, 28)).astype(np.float32)
        dx = dl.tensor(x, requires_grad=True)
        tx = torch.from_numpy(x).requires_grad_(True)
        y = ours(dx)
        g = rng.standard_normal(tuple(y.shape)).astype(np.float32)
        dg, tg = dl.tensor(g), torch.from_numpy(g)

        def dl_fwd():
            with dl.no_grad():
                ours(dx)

        def torch_fwd():
            with torch.no_grad():
                theirs(tx)

        ms = [_cpu_ms(dl_fwd, rounds), _cpu_ms(torch_fwd, rounds),
              _cpu_ms(lambda: ours(dx).backward(dg), rounds),
              _cpu_ms(lambda: theirs(tx).backward(tg), rounds)]
        totals += ms
        print("%-12s %-34s %7.3f / %7.3f   %7.3f / %7.3f ms" % (
            name, type(ours).__name__ + str(tuple(y.shape)), *ms))
        x = y.detach().numpy().copy()
    print("%-12s %-34s %7.2f / %7.2f   %7.2f / %7.2f ms" % ("sum", "", *totals))


def function_table(torch, dl, steps, case="dcgan b64 28x28"):
    from dlcore.autograd import Function
    from dlcore.bench.train_steps import steps as case_steps
    spent, calls = collections.defaultdict(float), collections.Counter()

    def subclasses(c):
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)

    def timed(cls, meth):
        inner = cls.__dict__[meth]

        def run(self, *a, **k):
            t = time.process_time()
            try:
                return inner(self, *a, **k)
            finally:
                spent[cls.__name__, meth] += time.process_time() - t
                calls[cls.__name__, meth] += 1
        return run

    patched = []
    for cls in set(subclasses(Function)):
        for meth in ("forward", "backward"):
            if meth in cls.__dict__:
                patched.append((cls, meth, cls.__dict__[meth]))
                setattr(cls, meth, timed(cls, meth))
    try:
        step, _ = case_steps(case, None)
        for _ in range(3):
            step()
        spent.clear()
        calls.clear()
        t = time.process_time()
        for _ in range(steps):
            step()
        total = (time.process_time() - t) / steps * 1e3
    finally:
        for cls, meth, inner in patched:
            setattr(cls, meth, inner)
    listed = 0.0
    for (cls, meth), s in sorted(spent.items(), key=lambda kv: -kv[1]):
        print("%-24s %-8s %5.1f calls/step %8.3f ms/step" % (cls, meth, calls[cls, meth] / steps,
                                                             s / steps * 1e3))
        listed += s / steps * 1e3
    print("step %.2f ms, in Functions %.2f ms, the rest (optimizer, Python) %.2f ms"
          % (total, listed, total - listed))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--functions", action="store_true", help="also the per-Function table")
    ap.add_argument("--case", default="dcgan b64 28x28",
                    help="the train_steps case of the per-Function table (the layer table is DCGAN's)")
    ap.add_argument("--no-layers", action="store_true", help="skip the DCGAN layer table")
    args = ap.parse_args()
    import torch
    import dlcore as dl
    from dlcore.runtime import get_num_threads
    torch.set_num_threads(get_num_threads())
    print("threads %d (both sides)" % get_num_threads())
    if not args.no_layers:
        layer_table(torch, dl, args.rounds)
    if args.functions:
        function_table(torch, dl, args.steps, args.case)


if __name__ == "__main__":
    main()
