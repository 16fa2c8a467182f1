"""Where a `dlcore bench infer` model's plan spends its time, step by step, beside ONNX Runtime's
own per-node profile of the same model (SessionOptions.enable_profiling).

    python tools/plan_step_profile.py MODEL [--batch 1] [--threads 1] [--reps 15] [--ort]
                                            [--print] [--quant int8|int8r7]

Each plan step runs `reps` times on its own after one full run has filled the arena; the table
gives its fastest and median time, CPU time (time.process_time) at one thread so that other
load on a shared machine hurts little, wall time at more (trust those only on a quiet
machine, and note that DLCORE_DYNAMIC's load rule shrinks the team on a busy one).  The plan
steps' sum is printed beside the whole run's.  --ort adds ONNX Runtime's per-node kernel times
(wall, its median over `reps` runs) on the model exported by torch, as `dlcore bench infer`
builds it; --print prints the plan itself first.  A step run alone keeps its weights in cache,
so the sum can be below a whole run, whose weights come from memory.
"""
import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def plan_table(dl, np, plan, xs, nt, reps):
    clock = time.process_time if nt == 1 else time.perf_counter
    xs = [np.ascontiguousarray(a) for a in xs]
    rows = [(k, label, min(ts) * 1e3, statistics.median(ts) * 1e3)
            for k, label, ts in plan.exe.step_times(xs, reps, nt, clock)]
    ts = []
    for _ in range(reps):
        t0 = clock()
        plan.run(xs)
        ts.append(clock() - t0)
    print("plan: sum of step medians %.3f ms; whole run median %.3f, fastest %.3f ms (%s)" % (
        sum(r[3] for r in rows), statistics.median(ts) * 1e3, min(ts) * 1e3,
        "CPU time" if nt == 1 else "wall"))
    print("%4s %9s %9s  %s" % ("step", "min_ms", "med_ms", "label"))
    for k, lab, mn, md in rows:
        print("%4d %9.3f %9.3f  %s" % (k, mn, md, lab))


def ort_table(name, m, kw, make, dyn, xs, nt, reps, rng):
    import onnxruntime as ort
    import torch
    from dlcore.bench import infer
    from dlcore.bench._infer_torch import twin
    torch.manual_seed(0)
    tm = twin(torch, name, m, **kw)
    tmp = tempfile.mkdtemp(prefix="plan_step_profile_")
    path = os.path.join(tmp, name + ".onnx")
    names = infer._export(torch, tm, make(2, rng), dyn, path)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = nt
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tmp, "ort")
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feed = dict(zip(names, xs))
    for _ in range(reps + 3):
        sess.run(None, feed)
    with open(sess.end_profiling()) as f:
        events = json.load(f)
    per = collections.OrderedDict()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per.setdefault(e["name"][:-len("_kernel_time")], []).append(
                (e["dur"], e["args"].get("op_name"), e["args"].get("output_type_shape")))
    rows = [(n, v[0][1], statistics.median(d for d, _, _ in v) / 1e3, v[0][2])
            for n, v in per.items()]
    print("ONNX Runtime: sum of node medians %.3f ms (wall)" % sum(r[2] for r in rows))
    for n, op, ms, shape in rows:
        print("  %9.3f %-22s %s %s" % (ms, op, n, json.dumps(shape)[:80]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--ort", action="store_true", help="also ONNX Runtime's per-node profile")
    ap.add_argument("--print", action="store_true", help="print the plan first")
    ap.add_argument("--quant", choices=("int8", "int8r7"),
                    help="profile the model after dl.quantization.quantize_dynamic (int8r7: "
                         "reduce_range, 7-bit activations); --ort stays the fp32 export")
    a = ap.parse_args()
    import numpy as np
    import dlcore as dl
    from dlcore.bench import infer
    rng = np.random.default_rng(0)
    m, kw, make, dyn, note = infer._model(a.model)
    if m is None:
        raise SystemExit("%s: %s" % (a.model, note))
    m.eval()
    xs = make(a.batch, rng)
    pm = m
    if a.quant:
        from dlcore.quantization import quantize_dynamic, qint8
        pm = quantize_dynamic(m, dtype=qint8, reduce_range=a.quant == "int8r7")
    plan = dl.jit.trace(pm, make(1, rng), dynamic_axes=dyn).plan(*xs)
    dl.set_num_threads(a.threads)
    if a.print:
        print(plan)
    plan_table(dl, np, plan, xs, a.threads, a.reps)
    if a.ort:
        ort_table(a.model, m, kw, make, dyn, xs, a.threads, a.reps, rng)


if __name__ == "__main__":
    main()
