"""The DCGAN step's convolutions pass by pass (forward, input gradient, weight gradient),
dlcore's kernels against torch's, one thread, fastest CPU time of alternated rounds.

Each row is one conv2d (its transposed twins run the same three kernels with the roles
swapped: ConvTranspose2d's forward is conv2d's input gradient, its input gradient conv2d's
forward and its weight gradient conv2d's weight gradient with input and output swapped).

    DLCORE_NUM_THREADS=1 python tools/conv_passes.py [--rounds 20]
"""
import argparse
import time

import numpy as np

# (name, N, C, H, W, K, R, stride, padding): the conv2d shapes of the DCGAN b64 28x28 step
SHAPES = (
    ("D.net.0 1->32 28->14", 64, 1, 28, 28, 32, 4, 2, 1),
    ("D.net.2 32->64 14->7 (G.body.1^T)", 64, 32, 14, 14, 64, 4, 2, 1),
    ("G.body.4^T 1<-32 28<-14", 64, 1, 28, 28, 32, 4, 2, 1),
)


def best_cpu_ms(sides, rounds):
    best = {k: float("inf") for k in sides}
    for f in sides.values():
        f()
    for _ in range(rounds):
        for k, f in sides.items():
            t = time.process_time()
            f()
            best[k] = min(best[k], time.process_time() - t)
    return {k: v * 1e3 for k, v in best.items()}


def report(name, passes, rounds):
    """One line per pass: dlcore's and torch's fastest CPU time and their ratio."""
    for pname, (d, t) in passes.items():
        ms = best_cpu_ms({"dl": d, "torch": t}, rounds)
        print("%-36s %-6s %8.3f %8.3f %6.2f" % (name, pname, ms["dl"], ms["torch"],
                                                 ms["torch"] / ms["dl"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    import torch
    from dlcore import _C
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    print("%-36s %-6s %8s %8s %6s" % ("conv2d", "pass", "dl ms", "torch", "ratio"))
    for name, N, C, H, W, K, R, s, p in SHAPES[:2]:
        OH = (H + 2 * p - R) // s + 1
        x = rng.standard_normal((N, C, H, W)).astype(np.float32)
        w = (rng.standard_normal((K, C, R, R)) * 0.1).astype(np.float32)
        gy = rng.standard_normal((N, K, OH, OH)).astype(np.float32)
        y = np.empty_like(gy)
        gx = np.empty_like(x)
        gw = np.empty_like(w)
        conf = ((s, s), (p, p), (1, 1), 1)
        tx, tw, tgy = map(torch.from_numpy, (x, w, gy))
        aten = torch.ops.aten.convolution_backward
        passes = {
            "fwd": (lambda: _C.conv2d_forward(x, w, None, y, *conf),
                    lambda: torch.nn.functional.conv2d(tx, tw, None, s, p)),
            "data": (lambda: _C.conv2d_backward_data(gy, w, None, gx, *conf),
                     lambda: aten(tgy, tx, tw, None, [s, s], [p, p], [1, 1], False, [0, 0], 1,
                                  [True, False, False])),
            "wgrad": (lambda: _C.conv2d_backward_weight(x, gy, gw, None, w.shape, *conf),
                      lambda: aten(tgy, tx, tw, None, [s, s], [p, p], [1, 1], False, [0, 0], 1,
                                   [False, True, False])),
        }
        report(name, passes, args.rounds)
    # the transposed convs as torch runs them (its own ConvTranspose2d kernels)
    for name, N, Cin, H, Cout, R, s, p in (("G.body.1 convT 64->32 7->14", 64, 64, 7, 32, 4, 2, 1),
                                           ("G.body.4 convT 32->1 14->28", 64, 32, 14, 1, 4, 2, 1)):
        OH = (H - 1) * s - 2 * p + R
        x = rng.standard_normal((N, Cin, H, H)).astype(np.float32)
        w = (rng.standard_normal((Cin, Cout, R, R)) * 0.1).astype(np.float32)
        gy = rng.standard_normal((N, Cout, OH, OH)).astype(np.float32)
        y = np.empty_like(gy)
        gx = np.empty_like(x)
        gw = np.empty_like(w)
        conf = ((s, s), (p, p), (1, 1), 1)
        tx, tw, tgy = map(torch.from_numpy, (x, w, gy))
        aten = torch.ops.aten.convolution_backward
        passes = {
            "fwd": (lambda: _C.conv2d_backward_data(x, w, None, y, *conf),
                    lambda: torch.nn.functional.conv_transpose2d(tx, tw, None, s, p)),
            "data": (lambda: _C.conv2d_forward(gy, w, None, gx, *conf),
                     lambda: aten(tgy, tx, tw, None, [s, s], [p, p], [1, 1], True, [0, 0], 1,
                                  [True, False, False])),
            "wgrad": (lambda: _C.conv2d_backward_weight(gy, x, gw, None, w.shape, *conf),
                      lambda: aten(tgy, tx, tw, None, [s, s], [p, p], [1, 1], True, [0, 0], 1,
                                   [False, True, False])),
        }
        report(name, passes, args.rounds)


if __name__ == "__main__":
    main()
