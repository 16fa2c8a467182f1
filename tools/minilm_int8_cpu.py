"""MiniLM-L6 (seq 128) int8 dynamic quantization in CPU time at one thread: dlcore fp32 eager,
int8 eager, int8 as a dl.jit plan, the same two with reduce_range=True (7-bit activations:
int8r7, int8r7_plan; --no-r7 leaves them out), the fp32 model as a plan (fp32_plan: plan /
plan is the engine-to-engine ratio), and ONNX Runtime's fp32 export and quantize_dynamic model,
the sides alternated in every round (the same workloads as `dlcore bench quant`, timed with
time.process_time so a shared, loaded machine's other jobs count less).

    python tools/minilm_int8_cpu.py --batches 1 32 --rounds 7
"""
import argparse
import os
import sys
import tempfile
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import dlcore as dl  # noqa: E402
from dlcore import Tensor, jit, no_grad  # noqa: E402
from cpu_rounds import median_cpu_ms  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--no-ort", action="store_true")
    ap.add_argument("--no-r7", action="store_true")
    a = ap.parse_args()
    from dlcore.bench.infer import _minilm, _export, _ort_session
    from dlcore.quantization import quantize_dynamic, qint8
    dl.set_num_threads(1)
    enc, kw, make, _, note = _minilm()
    if enc is None:
        sys.exit("MiniLM weights: %s" % note)
    enc.eval()
    q = quantize_dynamic(enc, dtype=qint8)
    q7 = None if a.no_r7 else quantize_dynamic(enc, dtype=qint8, reduce_range=True)
    rng = np.random.default_rng(0)
    paths = {}
    if not a.no_ort:
        import torch
        import onnxruntime as ort
        from onnxruntime.quantization import quantize_dynamic as ort_quantize, QuantType
        from dlcore.bench._infer_torch import twin
        torch.set_num_threads(1)
        tmp = tempfile.mkdtemp(prefix="minilm_int8_")
        p32, p8 = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "m8.onnx")
        names = _export(torch, twin(torch, "minilm", enc, **kw), make(2, rng), None, p32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ort_quantize(p32, p8, weight_type=QuantType.QInt8)
        paths = {"ort_fp32": p32, "ort_int8": p8}
    for b in a.batches:
        xs = make(b, rng)
        tx = [Tensor._wrap(x) for x in xs]

        def eager(m):
            def f():
                with no_grad():
                    return m(*tx)._data
            return f
        sides = {"fp32": eager(enc), "int8": eager(q)}
        # the engine-to-engine ratio is plan / plan: the fp32 model as a dl.jit plan too
        plan32 = jit.trace(enc, xs).plan(*xs)
        sides["fp32_plan"] = lambda: plan32(*xs)[0]
        plan = jit.trace(q, xs).plan(*xs)
        sides["int8_plan"] = lambda: plan(*xs)[0]
        if q7 is not None:
            sides["int8r7"] = eager(q7)
            plan7 = jit.trace(q7, xs).plan(*xs)
            sides["int8r7_plan"] = lambda: plan7(*xs)[0]
        ref = sides["fp32"]()
        errs = {k: float(np.abs(f() - ref).max() / np.abs(ref).max()) for k, f in sides.items()}
        for k, p in paths.items():
            sess = _ort_session(ort, p, 1)
            feed = dict(zip(names, xs))
            sides[k] = (lambda s=sess, fd=feed: s.run(None, fd)[0])
            errs[k] = float(np.abs(sides[k]() - ref).max() / np.abs(ref).max())
        ms = median_cpu_ms(sides, a.rounds)
        print("MiniLM b%d seq128, 1 thread, CPU ms (median of %d alternated rounds):"
              % (b, a.rounds))
        print("  " + "  ".join("%s %.1f (err %.3f)" % (k, ms[k], errs[k]) for k in ms))
        line = "  int8/fp32 %.2f  plan/fp32 %.2f" % (ms["fp32"] / ms["int8"],
                                                     ms["fp32"] / ms["int8_plan"])
        line += "  plan/fp32_plan %.2f" % (ms["fp32_plan"] / ms["int8_plan"])
        if "ort_int8" in ms:
            line += "  int8 vs ort_int8 %.2f  plan vs ort_int8 %.2f" % (
                ms["ort_int8"] / ms["int8"], ms["ort_int8"] / ms["int8_plan"])
        if q7 is not None:
            line += "\n  r7: int8r7/fp32 %.2f  plan/fp32 %.2f  r7 vs int8 %.2f  r7 plan vs int8 plan" \
                " %.2f" % (ms["fp32"] / ms["int8r7"], ms["fp32"] / ms["int8r7_plan"],
                           ms["int8"] / ms["int8r7"], ms["int8_plan"] / ms["int8r7_plan"])
            line += "  r7 plan/fp32_plan %.2f" % (ms["fp32_plan"] / ms["int8r7_plan"])
            if "ort_int8" in ms:
                line += "  r7 vs ort_int8 %.2f  r7 plan vs ort_int8 %.2f" % (
                    ms["ort_int8"] / ms["int8r7"], ms["ort_int8"] / ms["int8r7_plan"])
        print(line, flush=True)


if __name__ == "__main__":
    main()
