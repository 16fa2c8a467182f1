"""Convolution and pooling benchmark: dlcore against a NumPy im2col reference and torch.

    from dlcore.bench import conv
    print(conv.format_table(conv.run(threads=(1, 2))))

Cases (float32, NCHW; the issue's list): forward and forward+backward of
  3x3 pad 1: (32,3,32,32)->32, (32,64,56,56)->64, (8,256,14,14)->256
  depthwise 3x3 pad 1: (32,128,28,28), groups 128
  1x1: (32,256,14,14)->512
  max-pool 2x2 stride 2: (32,64,56,56)
The NumPy reference is im2col by sliding_window_view + one tensordot (OpenBLAS) for the
convolutions, col2im by strided adds for the input gradient, and a reshape-max for the pooling
(with an argmax mask for its backward).  Each side runs in its own block of calls (warm-up,
then the median of several blocks); numpy's BLAS gets the thread count through threadpoolctl,
torch through torch.set_num_threads.  Ratios are their time / dlcore's time: > 1 means dlcore
is faster.
"""
import time

import numpy as np

from .. import _C

CONVS = [
    # name, (N, C, H, W), K, kernel, padding, groups
    ("conv3x3 32x3x32x32->32", (32, 3, 32, 32), 32, 3, 1, 1),
    ("conv3x3 32x64x56x56->64", (32, 64, 56, 56), 64, 3, 1, 1),
    ("conv3x3 8x256x14x14->256", (8, 256, 14, 14), 256, 3, 1, 1),
    ("depthwise3x3 32x128x28x28", (32, 128, 28, 28), 128, 3, 1, 128),
    ("conv1x1 32x256x14x14->512", (32, 256, 14, 14), 512, 1, 0, 1),
]
POOL = ("maxpool2x2 32x64x56x56", (32, 64, 56, 56))


def _torch():
    try:
        import torch
    except Exception:  # torch is an optional oracle
        return None
    return torch


def _median_time(fn, budget_s, min_reps=3, max_reps=50, blocks=3):
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    reps = int(min(max_reps, max(min_reps, budget_s / one / blocks)))
    samples = []
    for _ in range(blocks):
        fn()
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
    return float(np.median(samples))


class _BlasThreads:
    def __init__(self, n):
        self.n, self.ctx = n, None

    def __enter__(self):
        try:
            from threadpoolctl import threadpool_limits
            self.ctx = threadpool_limits(limits=self.n, user_api="blas")
        except ImportError:
            self.ctx = None
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.restore_original_limits()
        return False


# ---- the NumPy reference --------------------------------------------------------------------

def np_conv_forward(x, w, pad, groups):
    """im2col (a strided view of the padded input) and one tensordot per group."""
    from numpy.lib.stride_tricks import sliding_window_view
    K, Cg, R, S = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    cols = sliding_window_view(xp, (R, S), axis=(2, 3))  # (N, C, OH, OW, R, S)
    if groups == x.shape[1] and Cg == 1 and K == groups:
        return np.einsum("nchwrs,crs->nchw", cols, w[:, 0], optimize=True)
    y = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, OH, OW, K)
    return np.ascontiguousarray(y.transpose(0, 3, 1, 2))


def np_conv_backward(x, w, gy, pad, groups):
    """Weight gradient over the im2col view, input gradient by col2im (strided adds)."""
    from numpy.lib.stride_tricks import sliding_window_view
    K, Cg, R, S = w.shape
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    cols = sliding_window_view(xp, (R, S), axis=(2, 3))
    OH, OW = gy.shape[2:]
    gxp = np.zeros(xp.shape, x.dtype)
    if groups == C and Cg == 1 and K == groups:
        gw = np.einsum("nchwrs,nchw->crs", cols, gy, optimize=True)[:, None]
        for r in range(R):
            for s in range(S):
                gxp[:, :, r:r + OH, s:s + OW] += gy * w[:, 0, r, s][None, :, None, None]
    else:
        gw = np.tensordot(gy, cols, axes=([0, 2, 3], [0, 2, 3]))  # (K, C, R, S)
        gcols = np.tensordot(gy, w, axes=([1], [0]))  # (N, OH, OW, C, R, S)
        for r in range(R):
            for s in range(S):
                gxp[:, :, r:r + OH, s:s + OW] += gcols[:, :, :, :, r, s].transpose(0, 3, 1, 2)
    gb = gy.sum(axis=(0, 2, 3))
    gx = gxp[:, :, pad:pad + H, pad:pad + W] if pad else gxp
    return gx, gw, gb


def np_maxpool2(x):
    N, C, H, W = x.shape
    return x.reshape(N, C, H // 2, 2, W // 2, 2).max(axis=(3, 5))


def np_maxpool2_backward(x, y, gy):
    N, C, H, W = x.shape
    win = x.reshape(N, C, H // 2, 2, W // 2, 2)
    mask = win == y[:, :, :, None, :, None]
    return (mask * gy[:, :, :, None, :, None]).reshape(N, C, H, W)


# ---- the run ----------------------------------------------------------------------------------

def _row(case, n, mode, t_dl, t_np, t_torch, **extra):
    row = {"case": "%s %s" % (case, mode), "threads": n, "dlcore_ms": t_dl * 1e3,
           "numpy_ms": t_np * 1e3, "torch_ms": None if t_torch is None else t_torch * 1e3,
           "ratio_numpy": t_np / t_dl, "ratio_torch": None if t_torch is None else t_torch / t_dl}
    row.update(extra)
    return row


def run(threads=(1, 2), quick=False):
    import dlcore as dl
    import dlcore.nn.functional as F
    torch = _torch()
    budget = 0.15 if quick else 0.6
    rows = []
    rng = np.random.default_rng(0)
    convs = CONVS[:1] + CONVS[3:4] if quick else CONVS
    prev_threads = _C.get_num_threads()
    prev_torch = torch.get_num_threads() if torch is not None else None
    try:
        for name, (N, C, H, W), K, k, pad, groups in convs:
            if quick:
                N = max(1, N // 4)
            x = rng.standard_normal((N, C, H, W)).astype(np.float32)
            w = (rng.standard_normal((K, C // groups, k, k)) * 0.1).astype(np.float32)
            b = rng.standard_normal(K).astype(np.float32)
            gy = rng.standard_normal((N, K, H + 2 * pad - k + 1, W + 2 * pad - k + 1)).astype(np.float32)
            xt = dl.tensor(x, requires_grad=True)
            wt = dl.tensor(w, requires_grad=True)
            bt = dl.tensor(b, requires_grad=True)
            gyt = dl.tensor(gy)
            xd, wd, bd = dl.tensor(x), dl.tensor(w), dl.tensor(b)

            def dl_fwd():
                with dl.no_grad():
                    F.conv2d(xd, wd, bd, 1, pad, 1, groups)

            def dl_fb():
                xt.grad = wt.grad = bt.grad = None
                F.conv2d(xt, wt, bt, 1, pad, 1, groups).backward(gyt)

            def np_fwd():
                np_conv_forward(x, w, pad, groups) + b[None, :, None, None]

            def np_fb():
                np_conv_forward(x, w, pad, groups)
                np_conv_backward(x, w, gy, pad, groups)

            if torch is not None:
                tx = torch.tensor(x, requires_grad=True)
                tw = torch.tensor(w, requires_grad=True)
                tb = torch.tensor(b, requires_grad=True)
                tgy = torch.tensor(gy)

                def t_fwd():
                    with torch.no_grad():
                        torch.nn.functional.conv2d(tx, tw, tb, 1, pad, 1, groups)

                def t_fb():
                    tx.grad = tw.grad = tb.grad = None
                    torch.nn.functional.conv2d(tx, tw, tb, 1, pad, 1, groups).backward(tgy)
            for n in threads:
                _C.set_num_threads(n)
                for mode, fd, fn_, ft in (("fwd", dl_fwd, np_fwd, t_fwd if torch else None),
                                          ("fwd+bwd", dl_fb, np_fb, t_fb if torch else None)):
                    t_dl = _median_time(fd, budget)
                    with _BlasThreads(n):
                        t_np = _median_time(fn_, budget, max_reps=10)
                    t_t = None
                    if ft is not None:
                        torch.set_num_threads(n)
                        t_t = _median_time(ft, budget)
                    rows.append(_row(name, n, mode, t_dl, t_np, t_t))
        name, shape = POOL
        if quick:
            shape = (8,) + shape[1:]
        x = rng.standard_normal(shape).astype(np.float32)
        xd, xt = dl.tensor(x), dl.tensor(x, requires_grad=True)
        gy = rng.standard_normal(shape[:2] + (shape[2] // 2, shape[3] // 2)).astype(np.float32)
        gyt = dl.tensor(gy)

        def dl_pf():
            with dl.no_grad():
                F.max_pool2d(xd, 2)

        def dl_pb():
            xt.grad = None
            F.max_pool2d(xt, 2).backward(gyt)

        def np_pf():
            np_maxpool2(x)

        def np_pb():
            np_maxpool2_backward(x, np_maxpool2(x), gy)

        if torch is not None:
            tx = torch.tensor(x, requires_grad=True)
            tgy = torch.tensor(gy)

            def t_pf():
                with torch.no_grad():
                    torch.nn.functional.max_pool2d(tx, 2)

            def t_pb():
                tx.grad = None
                torch.nn.functional.max_pool2d(tx, 2).backward(tgy)
        for n in threads:
            _C.set_num_threads(n)
            for mode, fd, fn_, ft in (("fwd", dl_pf, np_pf, t_pf if torch else None),
                                      ("fwd+bwd", dl_pb, np_pb, t_pb if torch else None)):
                t_dl = _median_time(fd, budget)
                with _BlasThreads(n):
                    t_np = _median_time(fn_, budget, max_reps=10)
                t_t = None
                if ft is not None:
                    torch.set_num_threads(n)
                    t_t = _median_time(ft, budget)
                rows.append(_row(name, n, mode, t_dl, t_np, t_t))
    finally:
        _C.set_num_threads(prev_threads)
        if torch is not None:
            torch.set_num_threads(prev_torch)
    return rows


def format_table(rows):
    head = "%-38s %3s %10s %10s %10s %8s %8s" % ("case", "thr", "dlcore ms", "numpy ms",
                                                  "torch ms", "np/dl", "torch/dl")
    lines = [head, "-" * len(head)]
    for r in rows:
        tm = "-" if r["torch_ms"] is None else "%.2f" % r["torch_ms"]
        rt = "-" if r["ratio_torch"] is None else "%.2f" % r["ratio_torch"]
        lines.append("%-38s %3d %10.2f %10.2f %10s %8.2f %8s" % (
            r["case"], r["threads"], r["dlcore_ms"], r["numpy_ms"], tm, r["ratio_numpy"], rt))
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    print(format_table(run(quick="--quick" in sys.argv)))
