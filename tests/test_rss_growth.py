"""Memory stays flat over training: benchmarks/rss_growth.py in a fresh process, 2,000 small
steps each of the chapter-4 digits CNN and the chapter-6 char-LSTM.

After 500 warm-up steps (the allocator cache, NumPy and Python pools fill), the next 1,500 steps
may raise the RSS by at most 8 MB, about 5 KB a step: keeping one step's autograd graph alive
would cost far more (the CNN's activations are ~1 MB a step), and so would keeping the step's
input batch.  Python-level leaks too small for RSS show in the count of live gc-tracked objects,
which may grow by at most 100 over those 1,500 steps (a leaked Tensor per step would add 1,500).
The 10,000-step measure is `python benchmarks/rss_growth.py` (README, "Testing"); with
DLCORE_SOAK=1 the soak test below runs it and holds it to the same bounds (not in CI's run).

The quick tests (every run): 300 small steps of each model, 150 of them warm-up, held to the
same 8 MB and 100-object bounds (checked by hand: keeping each CNN step's loss Tensor, with
its graph nodes, adds 4 live objects a step, 600 over the 150 steps, while the RSS barely moves
since backward has freed the saved arrays -- the object count is the sharper measure); and the traced-plan executor and DataLoader
workers over 160 calls / epochs, 80 of them warm-up (two rounds of the 40 batch sizes): plans
are built and evicted all along (a leaked plan keeps LeNet's packed weights, ~250 KB, and tens
of objects) and worker processes, threads and open files are counted (a worker or pipe left
behind per epoch would add 80).
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RSS_BOUND_MB = 8.0
OBJECT_BOUND = 100


JIT_RSS_BOUND_MB = 16.0   # plans of 16 batch sizes rebuilt all along: malloc's swings are ~10 MB
NEEDS_PROC = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")


def _report(*args, timeout=1800):
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "rss_growth.py"), "--json"] +
        list(args), cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env=dict(os.environ, DLCORE_NUM_THREADS="1"))
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _assert_flat(report, names, rss_bound=RSS_BOUND_MB, trains=True):
    for name in names:
        r = report[name]
        print(name, r)
        if trains:
            assert r["loss_last"] < r["loss_first"], "%s did not train: %s" % (name, r)
        rise = r["rss_max_after_warmup_mb"] - r["rss_after_warmup_mb"]
        assert rise < rss_bound, "%s: RSS rose %.1f MB after warm-up: %s" % (name, rise, r)
        grown = r["gc_objects_end"] - r["gc_objects_after_warmup"]
        assert grown < OBJECT_BOUND, "%s: %d more live objects after warm-up: %s" % (
            name, grown, r)
        assert r["fds_threads_workers_end"] == r["fds_threads_workers_after_warmup"], (
            "%s: open files, threads, workers changed after warm-up: %s" % (name, r))


@NEEDS_PROC
def test_rss_flat_over_300_small_training_steps():
    _assert_flat(_report("--steps", "300", "--warmup", "150", "--every", "10", "--small"),
                 ("cnn", "lstm"))


@NEEDS_PROC
def test_plans_and_loader_workers_do_not_accumulate():
    report = _report("--models", "jit,loader", "--steps", "160", "--warmup", "80",
                     "--every", "5")
    _assert_flat(report, ("jit", "loader"), rss_bound=JIT_RSS_BOUND_MB, trains=False)
    # the persistent loader's two workers stay; the per-epoch loaders' are gone
    assert report["loader"]["fds_threads_workers_end"][2] == 2, report["loader"]


@pytest.mark.slow
@NEEDS_PROC
def test_rss_flat_over_2000_training_steps():
    _assert_flat(_report("--steps", "2000", "--warmup", "500", "--small"), ("cnn", "lstm"))


@pytest.mark.skipif(os.environ.get("DLCORE_SOAK") != "1",
                    reason="the 10,000-step soak: DLCORE_SOAK=1 (about 5 minutes on a quiet core)")
@NEEDS_PROC
def test_rss_flat_over_10000_training_steps():
    report = _report("--steps", "10000", "--warmup", "1000", "--every", "100", timeout=7200)
    _assert_flat(report, ("cnn", "lstm"))
    for name in ("cnn", "lstm"):
        assert abs(report[name]["growth_mb_per_1000_steps"]) < 1.0, report[name]
