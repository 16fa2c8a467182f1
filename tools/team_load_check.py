"""Does a planned call get its two threads?  ResNet-18 batch 1 (`dlcore bench infer`'s model),
one-thread and two-thread blocks alternated, every call timed.

    python tools/team_load_check.py [--rounds 20] [--reps 10] [--model resnet18]

Run it on a quiet machine (nothing else runnable: /proc/loadavg's "running" field at 1-2),
from the tree to check (the script imports the dlcore of the repository it sits in): on main
before branch plan17r, a burst of other work made every call of the next 100 ms run on one
thread (csrc/team_load.h), so some 2-thread calls took the 1-thread time.  Printed: each
side's median, the 2-thread calls slower than 0.85x the 1-thread median ("slow"), how many
calls the load rule gave fewer than 2 threads (team_size_for_load just before the call), and
the runnable threads machine-wide seen at the calls (min / median / max).  On a quiet machine
with the fix: slow 0 and shrunk 0; on a loaded one, shrunk calls are the rule backing off.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def running():
    return int(open("/proc/loadavg").read().split()[3].split("/")[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--reps", type=int, default=10)
    a = ap.parse_args()
    import numpy as np
    import dlcore as dl
    from dlcore import _C
    from dlcore.bench import infer
    print("dlcore from", os.path.dirname(dl.__file__))
    rng = np.random.default_rng(0)
    m, kw, make, dyn, note = infer._model(a.model)
    m.eval()
    xs = make(1, rng)
    plan = dl.jit.trace(m, xs, dynamic_axes=dyn).plan(*xs)
    dl.set_num_threads(2)
    for nt in (1, 2, 1, 2):
        plan(*xs, num_threads=nt)
    t1, t2, shrunk, seen = [], [], 0, []
    for r in range(a.rounds):
        for nt in ((1, 2) if r % 2 == 0 else (2, 1)):
            for _ in range(a.reps):
                seen.append(running())
                if nt == 2 and hasattr(_C, "team_size_for_load"):
                    shrunk += _C.team_size_for_load(2) < 2
                t0 = time.perf_counter()
                plan(*xs, num_threads=nt)
                (t1 if nt == 1 else t2).append(time.perf_counter() - t0)
    m1, m2 = statistics.median(t1) * 1e3, statistics.median(t2) * 1e3
    slow = sum(t * 1e3 > 0.85 * m1 for t in t2)
    print("%s b1: 1 thread %.2f ms, 2 threads %.2f ms (x%.2f); 2-thread calls slow %d of %d, "
          "shrunk by the load rule %d; runnable threads seen %d / %d / %d"
          % (a.model, m1, m2, m1 / m2, slow, len(t2), shrunk, min(seen),
             statistics.median(seen), max(seen)))
    print("2-thread call times (ms, in order):",
          " ".join("%.1f" % (t * 1e3) for t in t2))


if __name__ == "__main__":
    main()
