"""Memory stays flat over training: benchmarks/rss_growth.py in a fresh process, 2,000 small
steps each of the chapter-4 digits CNN and the chapter-6 char-LSTM.

After 500 warm-up steps (the allocator cache, NumPy and Python pools fill), the next 1,500 steps
may raise the RSS by at most 8 MB, about 5 KB a step: keeping one step's autograd graph alive
would cost far more (the CNN's activations are ~1 MB a step), and so would keeping the step's
input batch.  Python-level leaks too small for RSS show in the count of live gc-tracked objects,
which may grow by at most 100 over those 1,500 steps (a leaked Tensor per step would add 1,500).
The 10,000-step measure is `python benchmarks/rss_growth.py` (README, "Testing").
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RSS_BOUND_MB = 8.0
OBJECT_BOUND = 100


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_rss_flat_over_2000_training_steps():
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "rss_growth.py"), "--steps", "2000",
         "--warmup", "500", "--small", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    for name in ("cnn", "lstm"):
        r = report[name]
        print(name, r)
        assert r["loss_last"] < r["loss_first"], "%s did not train: %s" % (name, r)
        rise = r["rss_max_after_warmup_mb"] - r["rss_after_warmup_mb"]
        assert rise < RSS_BOUND_MB, "%s: RSS rose %.1f MB after warm-up: %s" % (name, rise, r)
        grown = r["gc_objects_end"] - r["gc_objects_after_warmup"]
        assert grown < OBJECT_BOUND, "%s: %d more live objects after warm-up: %s" % (
            name, grown, r)
