"""The int8 MiniLM-L6 (seq 128) dl.jit plan with its memory hand-offs against the same build's
plan with them refused, in alternated rounds, CPU time at one thread: a SkipLayerNormalization
writing its reader's quantized rows (lower_quant.layernorm_rows) and an attention step writing
the merged heads (lower_layers._merged_heads).  Both plans' outputs are checked equal first.

    python tools/minilm_fusion_ab.py --batches 1 32 --rounds 21 [--full-range]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import dlcore as dl  # noqa: E402
from dlcore.jit import lower_layers, lower_math  # noqa: E402
from cpu_rounds import median_cpu_ms  # noqa: E402


def unfused_plan(model, xs):
    keep = lower_math.layernorm_rows, lower_layers._merged_heads
    lower_math.layernorm_rows = lambda L, y, M, N: (None, 0)
    lower_layers._merged_heads = lambda L, y: None
    try:
        return dl.jit.trace(model, xs).plan(*xs)
    finally:
        lower_math.layernorm_rows, lower_layers._merged_heads = keep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--full-range", action="store_true", help="8-bit codes, not reduce_range")
    a = ap.parse_args()
    from dlcore.bench.infer import _minilm
    from dlcore.quantization import quantize_dynamic, qint8
    dl.set_num_threads(1)
    enc, _, make, _, note = _minilm()
    if enc is None:
        sys.exit("MiniLM weights: %s" % note)
    q = quantize_dynamic(enc.eval(), dtype=qint8, reduce_range=not a.full_range)
    for b in a.batches:
        xs = make(b, np.random.default_rng(0))
        fused = dl.jit.trace(q, xs).plan(*xs)
        unf = unfused_plan(q, xs)
        if not np.array_equal(fused(*xs)[0], unf(*xs)[0]):
            sys.exit("b%d: the fused and unfused plans differ" % b)
        ms = median_cpu_ms({"fused": lambda: fused(*xs), "unfused": lambda: unf(*xs)},
                           a.rounds)
        print("b%d %s: fused %.2f ms, unfused %.2f ms, unfused/fused %.3f (median of %d "
              "alternated rounds, CPU time)" % (b, "u8" if a.full_range else "r7", ms["fused"],
                                                ms["unfused"], ms["unfused"] / ms["fused"],
                                                a.rounds), flush=True)


if __name__ == "__main__":
    main()
