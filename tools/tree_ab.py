"""Two source trees (e.g. a branch's worktree and /work/main) in CPU time, alternated: one
persistent worker process per tree, each importing dlcore from its tree and running the
callables a setup file defines; every round asks each worker for one call of every callable
(A then B, then B then A), so load on a shared machine moves both sides alike.  Prints the
fastest and the median milliseconds per side and the ratio of the medians.

    python tools/tree_ab.py /work/main /work/wt/NAME SETUP.py [--rounds 30] [--threads 1]

SETUP.py is run in the worker (dlcore already importable from its tree) and must define
CALLS, a {name: callable} dict; the environment variables it reads (a case name, say) are
passed through.  Example (a training step of `dlcore bench train_steps`, with torch's too):

    import os, torch
    torch.set_num_threads(int(os.environ["DLCORE_NUM_THREADS"]))
    from dlcore.bench.train_steps import steps
    d, t = steps(os.environ.get("CASE", "dcgan b64 28x28"), torch)
    CALLS = {"dl": d, "torch": t}
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

WORKER = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
ns = {}
exec(open(sys.argv[2]).read(), ns)
fs = ns["CALLS"]
for f in fs.values():
    f(); f()
print(json.dumps(list(fs)), flush=True)
for line in sys.stdin:
    out = {}
    for k, f in fs.items():
        t = time.process_time(); f(); out[k] = time.process_time() - t
    print(json.dumps(out), flush=True)
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tree_a")
    ap.add_argument("tree_b")
    ap.add_argument("setup")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--threads", default="1")
    args = ap.parse_args()
    env = dict(os.environ, DLCORE_NUM_THREADS=args.threads, OMP_NUM_THREADS=args.threads,
               PYTHONPATH="")
    setup = os.path.abspath(args.setup)
    procs = {side: subprocess.Popen([sys.executable, "-c", WORKER, os.path.abspath(tree), setup],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                    env=env, cwd="/")
             for side, tree in (("A", args.tree_a), ("B", args.tree_b))}
    names = [json.loads(p.stdout.readline()) for p in procs.values()][0]
    res = {s: {k: [] for k in names} for s in procs}
    for r in range(args.rounds):
        for s in (("A", "B") if r % 2 == 0 else ("B", "A")):
            procs[s].stdin.write("\n")
            procs[s].stdin.flush()
            for k, v in json.loads(procs[s].stdout.readline()).items():
                res[s][k].append(v * 1e3)
    for p in procs.values():
        p.stdin.close()
        p.wait()
    print("A = %s, B = %s, %d rounds, %s thread(s), CPU ms" % (args.tree_a, args.tree_b,
                                                               args.rounds, args.threads))
    print("%-28s %9s %9s %9s %9s %8s" % ("call", "A min", "B min", "A med", "B med", "A/B med"))
    for k in names:
        a, b = res["A"][k], res["B"][k]
        print("%-28s %9.3f %9.3f %9.3f %9.3f %8.3f" % (k, min(a), min(b), statistics.median(a),
                                                      statistics.median(b),
                                                      statistics.median(a) / statistics.median(b)))


if __name__ == "__main__":
    main()
