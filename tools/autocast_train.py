"""bf16 autocast training against float32 on two roadmap models (issue 20's target: the
chapter-4 CNN and the chapter-10 char GPT reach the float32 metric within noise).

Each model is trained by its chapter's own recipe (python/fashion_cnn.py's train_fashion_cnn,
python/10_char_gpt.py's main) twice per seed: as written, and with the whole training run
inside `dl.autocast("cpu", dtype=dl.bfloat16)` (matmul/conv/linear in bf16, losses and
reductions in float32, float32 master weights).  The metric is then taken in float32 on the
trained float32 weights (test accuracy; held-out bits per char).  Several seeds give the
seed-to-seed spread of float32 itself, which is the "noise" the bf16 result is held to.

    python tools/autocast_train.py --seeds 0 1 --gpt-steps 250 --threads 1
    python tools/autocast_train.py --seeds 0 1 2 --only gpt --gpt-full
"""
import argparse
import contextlib
import functools
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

import dlcore as dl  # noqa: E402


def _region(bf16):
    return dl.autocast("cpu", dtype=dl.bfloat16) if bf16 else contextlib.nullcontext()


def fashion(seed, bf16, epochs):
    from dlcore.examples.fashion_cnn import to_input, train_fashion_cnn
    dl.manual_seed(seed)
    (Xtr, ytr), (Xte, yte) = dl.data.load_fashion_mnist()
    with _region(bf16):
        model = train_fashion_cnn(Xtr, ytr, epochs, 16, verbose=0)
    pred = dl.train.predict(model, to_input(Xte), batch_size=500).numpy().argmax(1)
    return float((pred == yte).mean())


def char_gpt(seed, bf16, steps, full=False):
    """python/10_char_gpt.py's main (its full model when `full`, else its quick one with
    `steps` steps), seeded with `seed`, its Trainer's fit run under autocast when bf16; the
    held-out bits per char it reports (measured in float32 after training)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "char_gpt", os.path.join(HERE, "..", "python", "10_char_gpt.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    fit, seed0 = mod.NextCharacter.fit, mod.seed

    def fit_in_region(self, *a, **k):
        with _region(bf16):
            return fit(self, *a, **k)
    mod.NextCharacter.fit = fit_in_region
    mod.seed = lambda s=0: seed0(seed)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        row = mod.main(quick=not full, steps=None if full else steps)
    return row["value"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--gpt-steps", type=int, default=250)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--gpt-full", action="store_true", help="the chapter's full GPT run")
    ap.add_argument("--only", choices=["fashion", "gpt"])
    a = ap.parse_args()
    dl.set_num_threads(a.threads)
    gpt = functools.partial(char_gpt, full=a.gpt_full)
    gpt.__name__ = "gpt"
    jobs = [("fashion CNN test acc", fashion, a.epochs),
            ("char GPT%s held-out bpc" % (" (full)" if a.gpt_full else ""), gpt, a.gpt_steps)]
    if a.only:
        jobs = [j for j in jobs if j[1].__name__.startswith(a.only[:3])]
    for name, fn, n in jobs:
        for s in a.seeds:
            res = {}
            for bf16 in (False, True):
                t = time.process_time()
                res[bf16] = (fn(s, bf16, n), time.process_time() - t)
            print("%-24s seed %d: fp32 %.4f (%.0f s CPU)  bf16 autocast %.4f (%.0f s CPU)"
                  % (name, s, res[False][0], res[False][1], res[True][0], res[True][1]),
                  flush=True)


if __name__ == "__main__":
    main()
