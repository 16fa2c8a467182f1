"""bfloat16 against float32, measured in one run (sides interleaved):

1. F.linear at n = 1024 (x (n, n) @ W.T, W (n, n)): float32 tensors against bfloat16 tensors
   (what a bf16 model pays per call: the weight packed, float32 sums rounded to bf16), and the
   bf16 kernel alone on packed weights (dlcore.ops.qmatmul.bf16_gemm); torch's float32 and bf16
   linear beside them when torch is installed.
2. The chapter-4 CNN (python/04_cnn_digits.py: 2 conv blocks with batch norm on the bundled 8x8
   digits, Adam, batch 64) trained in float32 and under dl.autocast("cpu", dtype=dl.bfloat16)
   from the same initial weights and batch order: test accuracy and training time of each.

    python benchmarks/bf16_training.py [--epochs 6] [--repeats 7] [--threads N]
"""
import argparse
import importlib
import os
import sys
import time

import numpy as np

import dlcore as dl
import dlcore.nn.functional as F
from dlcore.ops.qmatmul import BF16Weight, bf16_gemm, kernel_names, to_bfloat16


def _median_ms(fns, repeats):
    """{name: median ms} with the sides interleaved, so load on the machine hits them alike."""
    times = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: 1e3 * float(np.median(v)) for k, v in times.items()}


def bench_linear(n, repeats):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, n)).astype(np.float32)
    w = rng.standard_normal((n, n)).astype(np.float32)
    X, W = dl.tensor(x), dl.tensor(w)
    Xb, Wb = X.bfloat16(), W.bfloat16()
    packed, xbits = BF16Weight.from_float(w), to_bfloat16(x)
    out = np.empty((n, n), np.float32)
    fns = {"fp32 F.linear": lambda: F.linear(X, W),
           "bf16 F.linear": lambda: F.linear(Xb, Wb),
           "bf16 kernel only": lambda: bf16_gemm(xbits, packed, out)}
    try:
        import torch
        torch.set_num_threads(dl.get_num_threads())
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        txb, twb = tx.bfloat16(), tw.bfloat16()
        fns["torch fp32 linear"] = lambda: torch.nn.functional.linear(tx, tw)
        fns["torch bf16 linear"] = lambda: torch.nn.functional.linear(txb, twb)
    except ImportError:
        pass
    ms = _median_ms(fns, repeats)
    base = ms["fp32 F.linear"]
    print("F.linear n=%d, %d threads, bf16 kernel %s (median of %d, sides interleaved)"
          % (n, dl.get_num_threads(), kernel_names()["bf16"], repeats))
    for k, v in ms.items():
        print("  %-18s %8.2f ms  %6.1f GFLOP/s  %.2fx fp32 F.linear"
              % (k, v, 2 * n ** 3 / v / 1e6, base / v))
    return ms


def _chapter4():
    """python/04_cnn_digits.py as a module (its helpers import dlcore.examples, which is the
    python/ folder of an installed dlcore; from a source tree it is mapped here)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        importlib.import_module("dlcore.examples.common")
    except ImportError:
        sys.path.insert(0, root)
        sys.modules["dlcore.examples"] = importlib.import_module("python")
        sys.modules["dlcore.examples.common"] = importlib.import_module("python.common")
    spec = importlib.util.spec_from_file_location("cnn_digits",
                                                  os.path.join(root, "python", "04_cnn_digits.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def train_cnn(ch4, autocast, epochs):
    dl.manual_seed(0)
    X, y = dl.data.load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    Xtr, ytr, Xte, yte = ch4.split(X, y)
    model = ch4.DigitsCNN()
    opt = dl.optim.Adam(model.parameters(), lr=3e-3)
    order = np.random.default_rng(1)
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        idx = order.permutation(len(Xtr))
        for i in range(0, len(idx), 64):
            b = idx[i:i + 64]
            with dl.autocast("cpu", dtype=dl.bfloat16, enabled=autocast):
                loss = F.cross_entropy(model(dl.tensor(Xtr[b])), dl.tensor(ytr[b]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    train_s = time.perf_counter() - t0
    model.eval()
    with dl.no_grad(), dl.autocast("cpu", dtype=dl.bfloat16, enabled=autocast):
        pred = model(dl.tensor(Xte)).float().numpy().argmax(1)
    return float((pred == yte).mean()), train_s


def bench_cnn(epochs):
    ch4 = _chapter4()
    print("chapter-4 CNN on digits, %d epochs, Adam, batch 64, %d threads"
          % (epochs, dl.get_num_threads()))
    res = {}
    for name, ac in (("fp32", False), ("bf16 autocast", True), ("fp32 again", False),
                     ("bf16 autocast again", True)):
        acc, s = train_cnn(ch4, ac, epochs)
        res[name] = (acc, s)
        print("  %-20s test accuracy %.4f   training %.2f s" % (name, acc, s))
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip-cnn", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        dl.set_num_threads(args.threads)
    bench_linear(args.n, args.repeats)
    if not args.skip_cnn:
        bench_cnn(args.epochs)


if __name__ == "__main__":
    main()
