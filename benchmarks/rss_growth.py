"""Does memory stay flat over long training?  Trains the chapter-4 digits CNN and the chapter-6
char-LSTM (the roadmap examples' own model classes, the examples' training step: Adam, and for
the LSTM truncated BPTT with detached state and gradient clipping) for many steps, sampling the
process's resident set size, and reports its growth per 1,000 steps after a warm-up.

    python benchmarks/rss_growth.py                     # 10,000 steps of each model
    python benchmarks/rss_growth.py --steps 2000 --json # what tests/test_rss_growth.py runs

Growth per 1,000 steps is the least-squares slope of RSS over the steps after the warm-up; the
report also gives the RSS range after warm-up, the live Python container objects (gc) at the end
of the warm-up and at the end (a per-step leak of Python objects shows there exactly, even when
it is too small to see in RSS), and dlcore's allocator cache (freed blocks it keeps for reuse).
"""
import argparse
import gc
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import dlcore as dl  # noqa: E402
import dlcore.nn as nn  # noqa: E402
import dlcore.nn.functional as F  # noqa: E402
from dlcore import cli  # noqa: E402
from dlcore.runtime import memory  # noqa: E402


def _example(stem):
    for _, s, path in cli.list_examples():
        if s == stem:
            return cli.load_example(path, stem)
    raise SystemExit("example %s not found in %s" % (stem, cli.examples_dir()))


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def cnn_steps(batch):
    """An endless stream of training steps of the chapter-4 CNN on the bundled digits."""
    DigitsCNN = _example("04_cnn_digits").DigitsCNN
    X, y = dl.data.load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    model = DigitsCNN()
    opt = dl.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(1)

    def step():
        idx = rng.integers(0, len(X), batch)
        loss = F.cross_entropy(model(dl.tensor(X[idx])), dl.tensor(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    return step


def lstm_steps(batch, bptt, hidden):
    """Training steps of the chapter-6 char-LSTM: truncated BPTT over Shakespeare, state
    carried (detached) from chunk to chunk, restarting the text when it runs out."""
    from dlcore.nn.utils.rnn import bptt_batches, detach_state
    from dlcore.text import Vocab
    CharLSTM = _example("06_lstm_text_generation").CharLSTM
    text = dl.data.load_shakespeare().text
    vocab = Vocab.build(text, level="char")
    ids = vocab.encode(text)
    model = CharLSTM(len(vocab), embed=32, hidden=hidden)
    opt = dl.optim.Adam(model.parameters(), lr=2e-2)
    stream = {"it": iter(()), "state": None}

    def step():
        try:
            x, y = next(stream["it"])
        except StopIteration:
            stream["it"], stream["state"] = bptt_batches(ids, batch, bptt), None
            x, y = next(stream["it"])
        logits, state = model(x, stream["state"])
        stream["state"] = detach_state(state)
        loss = F.cross_entropy(logits, y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()
    return step


def measure(step, steps, warmup, every):
    t0 = time.perf_counter()
    samples, losses, objects = [], [], {}
    for i in range(1, steps + 1):
        losses.append(step())
        if i % every == 0:
            samples.append((i, rss_mb()))
        if i == warmup:
            gc.collect()
            objects["after_warmup"] = len(gc.get_objects())
    gc.collect()
    objects["end"] = len(gc.get_objects())
    seconds = time.perf_counter() - t0
    late = [(i, r) for i, r in samples if i >= warmup]
    xs = np.array([i for i, _ in late], np.float64)
    ys = np.array([r for _, r in late], np.float64)
    slope = float(np.polyfit(xs, ys, 1)[0]) * 1000 if len(late) >= 2 else float("nan")
    stats = memory.stats()
    return {
        "steps": steps, "warmup": warmup, "seconds": round(seconds, 1),
        "rss_start_mb": round(samples[0][1], 1), "rss_after_warmup_mb": round(late[0][1], 1),
        "rss_end_mb": round(samples[-1][1], 1),
        "rss_min_after_warmup_mb": round(float(ys.min()), 1),
        "rss_max_after_warmup_mb": round(float(ys.max()), 1),
        "growth_mb_per_1000_steps": round(slope, 3),
        "gc_objects_after_warmup": objects.get("after_warmup"),
        "gc_objects_end": objects["end"],
        "allocator_cached_mb": round(stats["cached_bytes"] / 2 ** 20, 1),
        "loss_first": round(float(np.mean(losses[:20])), 3),
        "loss_last": round(float(np.mean(losses[-20:])), 3),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--warmup", type=int, default=None, help="default: steps // 10, >= 200")
    ap.add_argument("--every", type=int, default=50, help="steps between RSS samples")
    ap.add_argument("--models", default="cnn,lstm")
    ap.add_argument("--small", action="store_true",
                    help="smaller batches and LSTM (the CI test): batch 16, LSTM h=32, T=20")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args(argv)
    warmup = args.warmup if args.warmup is not None else max(200, args.steps // 10)
    dl.manual_seed(0)
    makers = {"cnn": (lambda: cnn_steps(16 if args.small else 64)),
              "lstm": (lambda: lstm_steps(8 if args.small else 32, 20 if args.small else 50,
                                          32 if args.small else 64))}
    out = {"threads": dl.get_num_threads()}
    for name in args.models.split(","):
        out[name] = measure(makers[name](), args.steps, warmup, args.every)
        if not args.json:
            r = out[name]
            print("%-4s %d steps in %.0f s: RSS %.1f MB at start, %.1f after %d warm-up steps, "
                  "%.1f at the end (range after warm-up %.1f..%.1f); growth %.3f MB per 1,000 "
                  "steps; gc objects %d -> %d; allocator cache %.1f MB; loss %.3f -> %.3f"
                  % (name, r["steps"], r["seconds"], r["rss_start_mb"], r["rss_after_warmup_mb"],
                     warmup, r["rss_end_mb"], r["rss_min_after_warmup_mb"],
                     r["rss_max_after_warmup_mb"], r["growth_mb_per_1000_steps"],
                     r["gc_objects_after_warmup"], r["gc_objects_end"],
                     r["allocator_cached_mb"], r["loss_first"], r["loss_last"]), flush=True)
    if args.json:
        print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
