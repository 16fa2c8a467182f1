"""bf16 x bf16 -> fp32 GEMM against dlcore's fp32 GEMM, Linear-shaped (x (n, n) @ W.T), in CPU
time at one thread, the two sides alternated call by call (time.process_time): the issue-20
target "bf16 GEMM n=1024 >= 1.8x dlcore fp32 on AVX512-BF16".  Outputs are checked against a
float64 NumPy product of the same (bf16-rounded) operands first.

    python tools/bf16_gemm_cpu.py --sizes 256 512 1024 --rounds 15
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import dlcore as dl  # noqa: E402
from dlcore.ops.matmul import gemm  # noqa: E402
from dlcore.ops.qmatmul import (BF16Weight, bf16_gemm, from_bfloat16, kernel_names,  # noqa: E402
                                to_bfloat16)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    dl.set_num_threads(1)
    print("bf16 kernel: %s" % kernel_names()["bf16"])
    for n in a.sizes:
        rng = np.random.default_rng(n)
        x = rng.standard_normal((n, n)).astype(np.float32)
        w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
        out = np.empty((n, n), np.float32)
        wb, xb = BF16Weight.from_float(w), to_bfloat16(x)
        ref = from_bfloat16(xb).astype(np.float64) @ from_bfloat16(wb.bits).T.astype(np.float64)
        err = np.abs(bf16_gemm(xb, wb, out) - ref).max() / np.abs(ref).max()
        assert err < 1e-5, err
        sides = {"fp32": lambda: gemm(x, w, out, transpose_b=True),
                 "bf16": lambda: bf16_gemm(xb, wb, out)}
        reps = max(1, int(2e8 / n ** 3))
        ts = {k: [] for k in sides}
        for f in sides.values():
            f()
        for _ in range(a.rounds):
            for k, f in sides.items():
                t = time.process_time()
                for _ in range(reps):
                    f()
                ts[k].append((time.process_time() - t) / reps)
        ms = {k: statistics.median(v) * 1e3 for k, v in ts.items()}
        g = {k: 2 * n ** 3 / ms[k] / 1e6 for k in ms}
        print("n=%d: fp32 %.3f ms (%.0f GFLOP/s)  bf16 %.3f ms (%.0f GFLOP/s)  bf16/fp32 %.2f"
              % (n, ms["fp32"], g["fp32"], ms["bf16"], g["bf16"], ms["fp32"] / ms["bf16"]),
              flush=True)


if __name__ == "__main__":
    main()
