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
(with an argmax mask for its backward).  Before timing, dlcore's output and gradients are
checked against it: max |error| <= RTOL x max |reference|, each tensor.  Each side runs in its
own block of calls (dlcore.bench.block_median_ms); numpy's BLAS gets the thread count through
threadpoolctl, torch through torch.set_num_threads.  Ratios are their time / dlcore's time:
> 1 means dlcore is faster.
"""
import numpy as np

from . import (Workload, block_median_ms, get_torch, ms_table, output_check, row,
               timed_cases)

CONVS = [
    # kind, (N, C, H, W), K, kernel, padding, groups
    ("conv3x3", (32, 3, 32, 32), 32, 3, 1, 1),
    ("conv3x3", (32, 64, 56, 56), 64, 3, 1, 1),
    ("conv3x3", (8, 256, 14, 14), 256, 3, 1, 1),
    ("depthwise3x3", (32, 128, 28, 28), 128, 3, 1, 128),
    ("conv1x1", (32, 256, 14, 14), 512, 1, 0, 1),
]
POOL = ("maxpool2x2", (32, 64, 56, 56))
MODES = ("fwd", "fwd+bwd")
SIDES = ("dlcore", "numpy", "torch")
RTOL = 1e-4


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


# ---- cases and their sides --------------------------------------------------------------------

def cases(quick=False):
    """Dicts: case (the row label), mode ('fwd' or 'fwd+bwd'), op ('conv' or 'pool'), shape,
    and for convolutions K, k, pad, groups.  quick: a quarter of the batch, two convolutions."""
    out = []
    for kind, shape, K, k, pad, groups in (CONVS[:1] + CONVS[3:4] if quick else CONVS):
        if quick:
            shape = (max(1, shape[0] // 4),) + shape[1:]
        name = "%s %s%s" % (kind, "x".join(map(str, shape)),
                            "" if groups == shape[1] == K else "->%d" % K)
        for mode in MODES:
            out.append(dict(case="%s %s" % (name, mode), mode=mode, op="conv", shape=shape,
                            K=K, k=k, pad=pad, groups=groups))
    kind, shape = POOL
    if quick:
        shape = (8,) + shape[1:]
    for mode in MODES:
        out.append(dict(case="%s %s %s" % (kind, "x".join(map(str, shape)), mode), mode=mode,
                        op="pool", shape=shape))
    return out


def workload(c, torch=None):
    """The case's data and its dlcore / numpy / torch sides (forward, or forward+backward
    through each framework's autograd with a given output gradient)."""
    import dlcore as dl
    import dlcore.nn.functional as F
    rng = np.random.default_rng(0)
    shape, bwd = c["shape"], c["mode"] == "fwd+bwd"
    x = rng.standard_normal(shape).astype(np.float32)
    if c["op"] == "pool":
        gy = rng.standard_normal(shape[:2] + (shape[2] // 2, shape[3] // 2)).astype(np.float32)
        return _pool_workload(c, x, gy, bwd, dl, F, torch)
    N, C, H, W = shape
    K, k, pad, groups = c["K"], c["k"], c["pad"], c["groups"]
    w = (rng.standard_normal((K, C // groups, k, k)) * 0.1).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    gy = rng.standard_normal((N, K, H + 2 * pad - k + 1, W + 2 * pad - k + 1)).astype(np.float32)
    xt, wt, bt = (dl.tensor(a, requires_grad=bwd) for a in (x, w, b))
    gyt = dl.tensor(gy)

    def dl_fn():
        if bwd:
            xt.grad = wt.grad = bt.grad = None
            F.conv2d(xt, wt, bt, 1, pad, 1, groups).backward(gyt)
        else:
            with dl.no_grad():
                return F.conv2d(xt, wt, bt, 1, pad, 1, groups)

    def np_fn():
        if bwd:   # (the bias add is left out here, as it always was: ratios stay comparable)
            return (np_conv_forward(x, w, pad, groups),) + np_conv_backward(x, w, gy, pad,
                                                                            groups)
        return np_conv_forward(x, w, pad, groups) + b[None, :, None, None]

    t_fn = None
    if torch is not None:
        tx, tw, tb = (torch.tensor(a, requires_grad=bwd) for a in (x, w, b))
        tgy = torch.tensor(gy)

        def t_fn():
            if bwd:
                tx.grad = tw.grad = tb.grad = None
                torch.nn.functional.conv2d(tx, tw, tb, 1, pad, 1, groups).backward(tgy)
            else:
                with torch.no_grad():
                    torch.nn.functional.conv2d(tx, tw, tb, 1, pad, 1, groups)

    def reference():
        y = np_conv_forward(x, w, pad, groups) + b[None, :, None, None]
        return (y,) + np_conv_backward(x, w, gy, pad, groups) if bwd else y

    def got():
        with dl.no_grad():
            return F.conv2d(xt, wt, bt, 1, pad, 1, groups), xt.grad, wt.grad, bt.grad
    check = output_check("conv " + c["case"], bwd, dl_fn, got, reference,
                         ("output", "input grad", "weight grad", "bias grad"), RTOL)
    return Workload(c["case"], {"dlcore": dl_fn, "numpy": np_fn, "torch": t_fn}, check)


def _pool_workload(c, x, gy, bwd, dl, F, torch):
    xt, gyt = dl.tensor(x, requires_grad=bwd), dl.tensor(gy)

    def dl_fn():
        if bwd:
            xt.grad = None
            F.max_pool2d(xt, 2).backward(gyt)
        else:
            with dl.no_grad():
                return F.max_pool2d(xt, 2)

    def np_fn():
        y = np_maxpool2(x)
        return (y, np_maxpool2_backward(x, y, gy)) if bwd else y

    t_fn = None
    if torch is not None:
        tx, tgy = torch.tensor(x, requires_grad=bwd), torch.tensor(gy)

        def t_fn():
            if bwd:
                tx.grad = None
                torch.nn.functional.max_pool2d(tx, 2).backward(tgy)
            else:
                with torch.no_grad():
                    torch.nn.functional.max_pool2d(tx, 2)

    def got():
        with dl.no_grad():
            return F.max_pool2d(xt, 2), xt.grad
    # max and its gradient routing are exact: tolerance 0
    check = output_check("conv " + c["case"], bwd, dl_fn, got, np_fn, ("output", "input grad"),
                         0.0)
    return Workload(c["case"], {"dlcore": dl_fn, "numpy": np_fn, "torch": t_fn}, check)


# ---- the run ----------------------------------------------------------------------------------

def run(threads=(1, 2), quick=False):
    budget = 0.15 if quick else 0.6

    def timer(sides, n):
        return {side: block_median_ms(fn, budget, min_reps=3, blocks=3, settle_s=0,
                                      max_reps=10 if side == "numpy" else 50)
                for side, fn in sides.items()}
    return [row(c["case"], n, ms["dlcore"], ms["numpy"], ms.get("torch"))
            for c, n, ms in timed_cases(cases(quick), workload, threads, timer, get_torch())]


def format_table(rows):
    return "\n".join(ms_table(rows, 38))


if __name__ == "__main__":
    import sys
    print(format_table(run(quick="--quick" in sys.argv)))
