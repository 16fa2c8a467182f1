"""Chapter 11 — deployment: train a model, export it to ONNX, serve it from the file.

A trained model usually leaves the training script as weights, and serving it then needs its
Python class.  ONNX is a file format for the whole computation (ops, shapes, weights) that many
runtimes read.  Here a small CNN learns the bundled 8x8 digits in a few seconds, then

  1. dl.onnx.export traces it (dl.jit.trace: one run that records every op) and writes
     digits_cnn.onnx, its batch axis left dynamic;
  2. dl.onnx.load reads that file back (checked by the onnx package) and builds a plan: the
     graph optimized (batch norm folded into the convolutions, ReLUs fused into their
     epilogues), its buffers laid out once, run as a flat list of C kernel calls;
  3. requests of one image each are answered three ways, all on one thread and interleaved
     so that a busy machine slows them alike: the eager model (Python per layer), the plan
     from the file, and ONNX Runtime on the same file (when onnxruntime is installed).

The printed table gives the median microseconds per request of each; all three must predict
the same digits.  Latency on a shared machine is noisy: compare the columns of one run, not
runs with each other.  The file stays in --out: `dlcore run OUT/digits_cnn.onnx --random`
serves it from the command line.

    python python/11_deploy.py [--quick] [--out DIR]
"""
import os
import time

import numpy as np

import dlcore as dl
import dlcore.nn as nn
from dlcore.data import DataLoader, TensorDataset, load_digits
from dlcore.examples.common import run, seed


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 2 * 2, 10))

    def forward(self, x):
        return self.head(self.features(x))


def train(epochs):
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    perm = seed(0).permutation(len(X))
    test, tr = perm[:360], perm[360:]
    model = DigitsCNN()
    loader = DataLoader(TensorDataset(X[tr], y[tr]), batch_size=32, shuffle=True,
                        generator=dl.Generator().manual_seed(0))
    t0 = time.perf_counter()
    dl.train.fit(model, loader, nn.CrossEntropyLoss(), dl.optim.Adam(model.parameters(),
                                                                     lr=3e-3),
                 epochs=epochs, verbose=0)
    model.eval()
    return model, X[test], y[test], time.perf_counter() - t0


def _ort_session(path):
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def serve(sides, images, rounds):
    """Median microseconds per one-image request for each side, requests interleaved."""
    times = {name: [] for name in sides}
    preds = {name: [] for name in sides}
    for r in range(rounds):
        for i in range(len(images)):
            x = images[i:i + 1]
            for name, fn in sides.items():
                t0 = time.perf_counter()
                logits = fn(x)
                times[name].append(time.perf_counter() - t0)
                if r == 0:
                    preds[name].append(int(np.argmax(logits)))
    return {n: float(np.median(t)) * 1e6 for n, t in times.items()}, preds


def main(quick=False, out_dir=".", epochs: int = None):
    """quick is the tour's smoke run (1 epoch, 50 requests timed); the test asks for epochs=2,
    where its accuracy bound was measured."""
    model, X_test, y_test, seconds = train(epochs=epochs or (1 if quick else 6))
    with dl.no_grad():
        eager_logits = model(dl.tensor(X_test)).numpy()
    acc = float((eager_logits.argmax(1) == y_test).mean())
    print("trained DigitsCNN in %.1f s: test accuracy %.3f on %d images"
          % (seconds, acc, len(y_test)))

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "digits_cnn.onnx")
    dl.onnx.export(model, X_test[:2], path, input_names=["image"], output_names=["logits"])
    print("exported to %s (%.1f kB)" % (path, os.path.getsize(path) / 1e3))

    plan = dl.onnx.load(path)            # a new process would need only this line and the file
    file_logits = plan.run(image=X_test)[0]
    diff = float(np.abs(file_logits - eager_logits).max())
    file_acc = float((file_logits.argmax(1) == y_test).mean())
    print("reloaded from the file: test accuracy %.3f, max |logit difference| vs eager %.1e"
          % (file_acc, diff))
    print(plan.plan(image=X_test[:1]))

    sess = _ort_session(path)
    sides = {"eager": lambda x: model(dl.tensor(x)).numpy(),
             "plan": lambda x: plan.run(image=x)[0]}
    if sess is not None:
        sides["onnxruntime"] = lambda x: sess.run(None, {"image": x})[0]
    else:
        print("onnxruntime is not installed: its column is left out")
    n = 50 if quick else len(X_test)
    with dl.no_grad(), dl.num_threads(1):
        for fn in sides.values():      # first calls build plans and warm caches
            fn(X_test[:1])
        us, preds = serve(sides, X_test[:n], rounds=1 if quick else 5)
    agree = all(preds[k] == preds["eager"] for k in preds)
    print("\nbatch-1 requests, %d images, one thread, median microseconds per request:" % n)
    print("  " + "  ".join("%12s" % k for k in us))
    print("  " + "  ".join("%12.1f" % v for v in us.values()))
    print("plan vs eager: %.1fx faster%s; every side predicts the same digits: %s"
          % (us["eager"] / us["plan"], "" if "onnxruntime" not in us else
             ", vs ONNX Runtime: %.2fx" % (us["onnxruntime"] / us["plan"]), agree))
    row = {"chapter": "11", "model": "DigitsCNN exported to ONNX", "data": "digits (360 test)",
           "metric": "test accuracy from the file", "value": file_acc,
           "eager_accuracy": acc, "max_logit_diff": diff, "train_seconds": seconds,
           "requests": n, "eager_us": us["eager"], "plan_us": us["plan"],
           "ort_us": us.get("onnxruntime"), "plan_speedup": us["eager"] / us["plan"],
           "predictions_agree": agree}
    return row


if __name__ == "__main__":
    run(main)
