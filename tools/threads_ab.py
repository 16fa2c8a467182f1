"""One and two threads on the small convolution, pooling and GEMM rows of `dlcore bench`, dlcore
against torch, in two regimes: calls back to back (the pool's threads still spinning from the
last call, as in a training loop) and each call after a 20 ms pause (its threads asleep, as in
`dlcore bench conv`, so every call pays their wake-up).  Times are the fastest of alternating
rounds.  Meant for a quiet machine; on a busy one the two-thread rows measure the scheduler.

    python tools/threads_ab.py [row-substring ...]
"""
import sys
import time

import numpy as np

import dlcore as dl
import dlcore.nn.functional as F
from dlcore.ops.matmul import gemm
from dlcore.runtime import set_num_threads

torch = None
try:
    import torch
except ImportError:
    pass

rng = np.random.default_rng(0)


def arr(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def conv_sides(shape, K, groups, bwd):
    N, C, H, W = shape
    x, w, b, gy = arr(*shape), arr(K, C // groups, 3, 3) * 0.1, arr(K), arr(N, K, H, W)
    xt, wt, bt = (dl.tensor(a, requires_grad=bwd) for a in (x, w, b))
    gyt = dl.tensor(gy)

    def d():
        if bwd:
            xt.grad = wt.grad = bt.grad = None
            F.conv2d(xt, wt, bt, 1, 1, 1, groups).backward(gyt)
        else:
            with dl.no_grad():
                F.conv2d(xt, wt, bt, 1, 1, 1, groups)
    if torch is None:
        return d, None
    tx, tw, tb = (torch.tensor(a, requires_grad=bwd) for a in (x, w, b))
    tgy = torch.tensor(gy)

    def t():
        if bwd:
            tx.grad = tw.grad = tb.grad = None
            torch.nn.functional.conv2d(tx, tw, tb, 1, 1, 1, groups).backward(tgy)
        else:
            with torch.no_grad():
                torch.nn.functional.conv2d(tx, tw, tb, 1, 1, 1, groups)
    return d, t


def pool_sides():
    x = arr(8, 64, 56, 56)
    xt = dl.tensor(x)

    def d():
        with dl.no_grad():
            F.max_pool2d(xt, 2)
    if torch is None:
        return d, None
    tx = torch.tensor(x)

    def t():
        with torch.no_grad():
            torch.nn.functional.max_pool2d(tx, 2)
    return d, t


def gemm_sides(M, K, N, linear):
    A = arr(M, K)
    W = arr(N, K) if linear else arr(K, N)
    C = np.empty((M, N), np.float32)

    def d():
        gemm(A, W, C, transpose_b=linear)
    if torch is None:
        return d, None
    tA, tW, tC = torch.from_numpy(A), torch.from_numpy(W), torch.from_numpy(C)
    tB = tW.t() if linear else tW
    return d, lambda: torch.matmul(tA, tB, out=tC)


ROWS = [
    ("conv3x3 8x3x32x32->32 fwd", lambda: conv_sides((8, 3, 32, 32), 32, 1, False)),
    ("conv3x3 8x3x32x32->32 fwd+bwd", lambda: conv_sides((8, 3, 32, 32), 32, 1, True)),
    ("conv3x3 2x128x28x28 fwd", lambda: conv_sides((2, 128, 28, 28), 128, 1, False)),
    ("conv3x3 2x128x28x28 fwd+bwd", lambda: conv_sides((2, 128, 28, 28), 128, 1, True)),
    ("depthwise3x3 8x128x28x28 fwd", lambda: conv_sides((8, 128, 28, 28), 128, 128, False)),
    ("depthwise3x3 8x128x28x28 fwd+bwd", lambda: conv_sides((8, 128, 28, 28), 128, 128, True)),
    ("maxpool2x2 8x64x56x56 fwd", pool_sides),
    ("gemm linear 512x768x768", lambda: gemm_sides(512, 768, 768, True)),
    ("gemm square 1024", lambda: gemm_sides(1024, 1024, 1024, False)),
]


def fastest(fn, pause, rounds=4, calls=5):
    best = float("inf")
    for _ in range(rounds):
        time.sleep(0.05)   # another pool's spinning threads go to sleep first
        fn()
        fn()
        for _ in range(calls):
            if pause:
                time.sleep(pause)
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    return best * 1e3


def main(argv):
    picked = [r for r in ROWS if not argv or any(a in r[0] for a in argv)]
    print("%-34s %3s %10s %10s %10s %6s %6s" % ("row", "thr", "dl b2b", "dl paused", "torch",
                                              "t/b2b", "t/psd"))
    for name, make in picked:
        d, t = make()
        for nt in (1, 2):
            set_num_threads(nt)
            if torch is not None:
                torch.set_num_threads(nt)
            b2b, paused = fastest(d, 0.0), fastest(d, 0.02)
            tm = fastest(t, 0.0) if t else None
            print("%-34s %3d %10.3f %10.3f %10s %6s %6s" % (
                name, nt, b2b, paused, "-" if tm is None else "%.3f" % tm,
                "-" if tm is None else "%.2f" % (tm / b2b),
                "-" if tm is None else "%.2f" % (tm / paused)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
