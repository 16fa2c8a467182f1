"""Does memory stay flat over long training?  Trains the chapter-4 digits CNN and the chapter-6
char-LSTM (the roadmap examples' own model classes, the examples' training step: Adam, and for
the LSTM truncated BPTT with detached state and gradient clipping) for many steps, sampling the
process's resident set size, and reports its growth per 1,000 steps after a warm-up.

    python benchmarks/rss_growth.py                     # 10,000 steps of each model
    python benchmarks/rss_growth.py --steps 2000 --json # what tests/test_rss_growth.py runs
    python benchmarks/rss_growth.py --models jit,loader # the plan executor, DataLoader workers

Besides the two models: `jit`, a traced LeNet-5 whose plan runs at batch sizes cycling through
1..40 (more than TracedModule.MAX_PLANS, so plans are built and evicted all along) with every
call's output dropped, and `loader`, one epoch per step of a DataLoader with 2 worker processes,
alternately persistent and started afresh.  Workers, threads and open files are counted too
(a loader that left a worker or a pipe behind each epoch would show there).

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


def jit_steps():
    """Planned inference of LeNet-5 at a batch size that changes every call (1..40)."""
    from dlcore.models.lenet import LeNet5
    model = LeNet5().eval()
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((b, 1, 28, 28)).astype(np.float32) for b in range(1, 41)]
    traced = dl.jit.trace(model, [xs[3]])
    state = {"i": 0}

    def step():
        x = xs[state["i"] % len(xs)]
        state["i"] += 1
        return float(traced(x).numpy()[0, 0]) * 0.0   # no loss: the output is dropped
    return step


def loader_steps():
    """One epoch a step of a 2-worker DataLoader: a persistent one and, every other step, one
    whose workers start and stop with the epoch."""
    from dlcore.data import DataLoader, TensorDataset
    g = np.random.default_rng(3)
    ds = TensorDataset(g.standard_normal((256, 64)).astype(np.float32), g.integers(0, 10, 256))
    persistent = DataLoader(ds, batch_size=32, shuffle=True, num_workers=2,
                            persistent_workers=True)
    state = {"i": 0}

    def step():
        state["i"] += 1
        loader = persistent if state["i"] % 2 else DataLoader(ds, batch_size=32, shuffle=True,
                                                              num_workers=2)
        total = 0.0
        for x, _ in loader:
            total += float(x.numpy()[0, 0])
        return total * 0.0
    return step


def _count(path):
    try:
        return len(os.listdir(path))
    except OSError:
        return -1


def measure(step, steps, warmup, every):
    import multiprocessing
    t0 = time.perf_counter()
    samples, losses, objects, handles = [], [], {}, {}
    for i in range(1, steps + 1):
        losses.append(step())
        if i % every == 0:
            samples.append((i, rss_mb()))
        if i == warmup:
            gc.collect()
            objects["after_warmup"] = len(gc.get_objects())
            handles["after_warmup"] = (_count("/proc/self/fd"), _count("/proc/self/task"),
                                       len(multiprocessing.active_children()))
        if i % 1000 == 0:
            print("  %d steps, %.0f s, RSS %.1f MB" % (i, time.perf_counter() - t0, rss_mb()),
                  file=sys.stderr, flush=True)
    gc.collect()
    objects["end"] = len(gc.get_objects())
    handles["end"] = (_count("/proc/self/fd"), _count("/proc/self/task"),
                      len(multiprocessing.active_children()))
    seconds = time.perf_counter() - t0
    late = [(i, r) for i, r in samples if i >= warmup]
    xs = np.array([i for i, _ in late], np.float64)
    ys = np.array([r for _, r in late], np.float64)
    slope = float(np.polyfit(xs, ys, 1)[0]) * 1000 if len(late) >= 2 else float("nan")
    stats = memory.stats()
    at = dict(samples)
    marks = [k for k in range(1000, steps + 1, 1000) if k >= warmup and k in at]
    per_1000 = [round(at[k2] - at[k1], 2) for k1, k2 in zip(marks, marks[1:])]
    return {
        "steps": steps, "warmup": warmup, "seconds": round(seconds, 1),
        "rss_start_mb": round(samples[0][1], 1), "rss_after_warmup_mb": round(late[0][1], 1),
        "rss_end_mb": round(samples[-1][1], 1),
        "rss_min_after_warmup_mb": round(float(ys.min()), 1),
        "rss_max_after_warmup_mb": round(float(ys.max()), 1),
        "growth_mb_per_1000_steps": round(slope, 3),
        "rss_change_each_1000_after_warmup_mb": per_1000,
        "fds_threads_workers_after_warmup": handles.get("after_warmup"),
        "fds_threads_workers_end": handles["end"],
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
                                          32 if args.small else 64)),
              "jit": jit_steps, "loader": loader_steps}
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
            print("     RSS change over each 1,000 steps after warm-up (MB): %s; open files, "
                  "threads, workers %s -> %s" % (r["rss_change_each_1000_after_warmup_mb"],
                                                  r["fds_threads_workers_after_warmup"],
                                                  r["fds_threads_workers_end"]), flush=True)
    if args.json:
        print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
