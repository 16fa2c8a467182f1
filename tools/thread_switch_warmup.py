"""Per-call times of a plan right after the process goes from one thread to two.

    python tools/thread_switch_warmup.py [MODEL] [--calls 30]

The process starts at one thread (no OpenMP worker exists yet), traces MODEL (a `dlcore bench
infer` model, resnet18 by default) at batch 1, runs it at one thread, then switches to two
(dl.set_num_threads) and prints each call's wall time, CPU time (all threads) and minor page
faults, then the same after switching back and forth once more.  A warm-up that is ours shows
as page faults (fresh workspace) or CPU time above the steady calls'; one that is the
machine's (a halted virtual CPU woken, its host's polling adapting) as wall time alone.
Meaningful only on a quiet machine: /proc/loadavg is printed before and after."""
import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default="resnet18")
    ap.add_argument("--calls", type=int, default=30)
    a = ap.parse_args()
    import numpy as np
    import dlcore as dl
    from dlcore.bench import infer
    dl.set_num_threads(1)
    m, kw, make, dyn, note = infer._model(a.model)
    m.eval()
    xs = make(1, np.random.default_rng(0))
    plan = dl.jit.trace(m, xs, dynamic_axes=dyn).plan(*xs)

    def calls(n, label):
        rows = []
        for _ in range(n):
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            t0, c0 = time.perf_counter(), time.process_time()
            plan.run(xs)
            t1, c1 = time.perf_counter(), time.process_time()
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            rows.append("%.1f/%.1f/%d" % ((t1 - t0) * 1e3, (c1 - c0) * 1e3,
                                          r1.ru_minflt - r0.ru_minflt))
        print("%-10s wall ms/cpu ms/faults: %s" % (label, " ".join(rows)))

    print("loadavg before:", open("/proc/loadavg").read().strip())
    calls(max(5, a.calls // 3), "1 thread")
    dl.set_num_threads(2)
    calls(a.calls, "2 threads")
    dl.set_num_threads(1)
    calls(5, "1 thread")
    dl.set_num_threads(2)
    calls(max(5, a.calls // 3), "2 again")
    print("loadavg after:", open("/proc/loadavg").read().strip())


if __name__ == "__main__":
    main()
