"""dlcore's plan against ONNX Runtime on one `dlcore bench infer` model, alternated in one run.

    python tools/infer_ab.py MODEL [--batch 1 32] [--threads 1 2] [--rounds 9] [--reps 20]

Same models, weights and ONNX file as `dlcore bench infer` (dlcore/bench/infer.py).  For each
batch and thread count, `rounds` rounds each time a block of `reps` plan calls, then a block of
`reps` ONNX Runtime calls (the order flipped every round, with a short pause between blocks so
the other side's idle threads have gone to sleep); the table gives each side's median over all
calls and the ratio ort/plan (above 1: the plan is faster), plus the per-round ratio's spread.
The machine's other load moves both sides: compare within one run only.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--reps", type=int, default=0, help="calls per block (0: about 0.1 s)")
    ap.add_argument("--eager", action="store_true",
                    help="time dlcore eager (model(x) under no_grad) as a third side")
    ap.add_argument("--cpu", action="store_true",
                    help="time each call in this process's CPU time (1 thread on a busy machine)")
    a = ap.parse_args()
    import numpy as np
    import onnxruntime as ort
    import torch
    import dlcore as dl
    from dlcore.bench import infer
    from dlcore.bench._infer_torch import twin
    rng = np.random.default_rng(0)
    m, kw, make, dyn, note = infer._model(a.model)
    m.eval()
    traced = dl.jit.trace(m, make(1, rng), dynamic_axes=dyn)
    torch.manual_seed(0)
    tm = twin(torch, a.model, m, **kw)
    path = os.path.join(tempfile.mkdtemp(prefix="infer_ab_"), a.model + ".onnx")
    names = infer._export(torch, tm, make(2, rng), dyn, path)
    clock = time.process_time if a.cpu else time.perf_counter
    print("%-14s %5s %3s %10s %10s %7s %14s%s" % (
        "model", "batch", "T", "plan_ms", "ort_ms", "vs_ort", "round min-max",
        " %10s %8s" % ("eager_ms", "vs_eager") if a.eager else ""))
    for b in a.batch:
        xs = make(b, rng)
        plan = traced.plan(*xs)
        feed = dict(zip(names, xs))
        for nt in a.threads:
            dl.set_num_threads(nt)
            sess = infer._ort_session(ort, path, nt)
            got, want = plan.run(xs)[0], sess.run(None, feed)[0]
            assert infer._rel(got, want) < 1e-3, infer._rel(got, want)
            sides = [lambda: plan.run(xs), lambda: sess.run(None, feed)]
            if a.eager:
                tx = [dl.Tensor._wrap(x) for x in xs]

                def eager():
                    with dl.no_grad():
                        m(*tx)
                sides.append(eager)
            reps = a.reps or max(3, int(0.1 / max(_once(sides[0]), 1e-6)))
            ts, ratios = [[] for _ in sides], []
            for r in range(a.rounds):
                order = tuple(range(len(sides)))
                order = order if r % 2 == 0 else order[::-1]
                med = [0.0] * len(sides)
                for s in order:
                    time.sleep(0.02)
                    sides[s]()
                    t = []
                    for _ in range(reps):
                        t0 = clock()
                        sides[s]()
                        t.append(clock() - t0)
                    ts[s] += t
                    med[s] = statistics.median(t)
                ratios.append(med[1] / med[0])
            p, o = (statistics.median(t) * 1e3 for t in ts[:2])
            extra = ""
            if a.eager:
                e = statistics.median(ts[2]) * 1e3
                extra = " %10.4f %8.2f" % (e, e / p)
            print("%-14s %5d %3d %10.4f %10.4f %7.2f %6.2f-%-6.2f%s" % (
                a.model, b, nt, p, o, o / p, min(ratios), max(ratios), extra), flush=True)


def _once(fn):
    fn()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
