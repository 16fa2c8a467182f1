"""Public PyTorch example and tutorial scripts run on dlcore with only `import torch` rebound.

Each script in tests/public_scripts/ is written as an ordinary PyTorch script (`import torch`,
`import torch.nn as nn`, `from torch.utils.data import DataLoader`, ...) on offline data. The
harness (tests/public_scripts/as_torch.py) executes the script's source text with
sys.modules["torch"] bound to dlcore -- so every `import torch...` inside it resolves to dlcore
-- and again with real torch, and the final metric of the two runs is compared.

The same seed does not give the same numbers across engines (different random streams), so
each comparison has a band chosen from seeds 1-5 of both engines (each case's comment gives
the spread; the band is wider than the largest gap seen), plus an absolute bar on dlcore's own
result that proves it learned. Quick sizes keep the set short (about 45 s of CPU for both
engines); DLCORE_PUBLIC_SCRIPTS_FULL=1 runs the scripts' full sizes (slow, not calibrated).
One script by hand: python tests/public_scripts/as_torch.py mnist_cnn [--engine torch] [--full]
"""
import math
import os
import re
import sys

import pytest

import dlcore

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "public_scripts"))
import as_torch as engine  # noqa: E402

FULL = os.environ.get("DLCORE_PUBLIC_SCRIPTS_FULL") == "1"

try:
    import torch as real_torch
except ImportError:  # the dlcore side still runs and meets its absolute bar
    real_torch = None


def within(rel):
    return lambda d, t: abs(d - t) <= rel * abs(t)


def gap(absolute):
    return lambda d, t: abs(d - t) <= absolute


def log_ratio(factor):
    return lambda d, t: abs(math.log(d / t)) <= math.log(factor)


# (id, script, argv, metric, absolute bar on the dlcore result, dlcore-vs-torch band).
# The spreads quoted are the final metric over seeds 1-5 of each engine (quick sizes); each
# band is wider than the largest dlcore-torch gap among those 25 pairs.
CASES = [
    # accuracy: dlcore 0.947-0.973, torch 0.953-0.973 (largest gap 0.027)
    ("mnist_cnn", "mnist_cnn", [], "accuracy",
     lambda r: r["accuracy"] >= 0.90, gap(0.05)),
    # test loss (BCE + KL per image, 44-45 untrained): dlcore 26.56-26.77, torch 26.47-26.87
    ("vae", "vae", [], "test_loss",
     lambda r: r["test_loss"] < 0.7 * r["initial_test_loss"], within(0.05)),
    # mean-image error (0.54-0.57 untrained): dlcore 0.394-0.411, torch 0.396-0.409
    ("dcgan", "dcgan", [], "mean_image_error",
     lambda r: r["mean_image_error"] < 0.85 * r["initial_mean_image_error"], gap(0.05)),
    # test perplexity (2012 words; the unigram model the bar asks to beat: 286):
    # dlcore 193-244, torch 204-252
    ("word_lm_lstm", "word_language_model", [], "test_ppl",
     lambda r: r["test_ppl"] < r["unigram_ppl"], log_ratio(1.5)),
    # dlcore 206-241, torch 207-265
    ("word_lm_transformer", "word_language_model", ["--model", "Transformer", "--lr", "5"],
     "test_ppl", lambda r: r["test_ppl"] < r["unigram_ppl"], log_ratio(1.5)),
    # test MSE (about 0.5 untrained): dlcore 8.9e-5-1.3e-4, torch 7.0e-5-1.8e-4
    ("time_sequence_prediction", "time_sequence_prediction", [], "test_loss",
     lambda r: r["test_loss"] < 1e-3, log_ratio(5)),
    # mean length of the last 20 of 130 episodes (capped at 100; about 20 at the start), seeds
    # 1-6: dlcore 80.7-100, torch 88.4-99.4 and one run (31.2) that had not learned yet. The
    # band is for runs that learned: when torch's own run misses the bar there is nothing to
    # compare with (test_script_trains_like_torch says so and checks dlcore's bar only)
    ("reinforce", "reinforce", [], "last_20_mean_length",
     lambda r: r["last_20_mean_length"] > 2 * r["first_20_mean_length"], gap(25)),
    # pair accuracy (0.5 is chance): dlcore 0.713-0.806, torch 0.713-0.826
    ("siamese_network", "siamese_network", [], "accuracy",
     lambda r: r["accuracy"] >= 0.65, gap(0.15)),
    # largest coefficient error of the fitted polynomial: dlcore 0.034-0.090, torch 0.044-0.083
    ("regression", "regression", [], "coefficient_error",
     lambda r: r["coefficient_error"] < 0.3 and r["loss"] < 1e-3, lambda d, t: t < 0.3),
    # NumPy only: the same numbers whichever module is bound to torch
    ("tutorial_polynomial_numpy", "tutorial_polynomial_numpy", [], "loss",
     lambda r: r["loss"] < 20, within(1e-9)),
    # squared error of the cubic fit (thousands untrained): dlcore 8.9-15.0, torch 9.2-12.3
    ("tutorial_polynomial_tensor", "tutorial_polynomial_tensor", [], "loss",
     lambda r: r["loss"] < 0.01 * r["initial_loss"] and r["loss"] < 50, log_ratio(2)),
    ("tutorial_polynomial_autograd", "tutorial_polynomial_autograd", [], "loss",
     lambda r: r["loss"] < 0.01 * r["initial_loss"] and r["loss"] < 50, log_ratio(2)),
    # fixed start: both 8.944 on every seed
    ("tutorial_custom_function", "tutorial_custom_function", [], "loss",
     lambda r: r["loss"] < 0.05 * r["initial_loss"] and r["loss"] < 20, within(1e-3)),
    # dlcore 8.97-9.34, torch 8.97-9.51
    ("tutorial_nn", "tutorial_nn", [], "loss",
     lambda r: r["loss"] < 0.01 * r["initial_loss"] and r["loss"] < 50, log_ratio(1.3)),
    # dlcore 8.93-9.72, torch 8.90-9.02
    ("tutorial_optim", "tutorial_optim", [], "loss",
     lambda r: r["loss"] < 0.01 * r["initial_loss"] and r["loss"] < 20, log_ratio(1.3)),
    ("tutorial_custom_module", "tutorial_custom_module", [], "loss",
     lambda r: r["loss"] < 0.01 * r["initial_loss"] and r["loss"] < 50, log_ratio(2)),
    # 3000 of the tutorial's 30000 steps: still far from converged and at the mercy of the
    # random start (dlcore 40-4553, torch 283-1379 over seeds), so the band is that wide
    ("tutorial_dynamic_net", "tutorial_dynamic_net", [], "loss",
     lambda r: r["loss"] < 0.2 * r["initial_loss"], log_ratio(20)),
]

SCRIPTS = sorted(f[:-3] for f in os.listdir(os.path.join(HERE, "public_scripts"))
                 if f.endswith(".py") and f not in ("as_torch.py", "offline_data.py"))


def test_every_script_has_a_case():
    assert sorted({c[1] for c in CASES}) == SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_imports_resolve_to_dlcore(script):
    """The source names torch only (never dlcore), and executed with sys.modules["torch"] bound
    to dlcore, every module, class and function it imported comes from dlcore."""
    src = engine.source(script)
    assert not re.search(r"^\s*(import|from)\s+dlcore", src, re.M)
    if script != "tutorial_polynomial_numpy":
        assert "import torch" in src
    module = engine.load(script, dlcore)
    try:
        for name, value in vars(module).items():
            owner = getattr(value, "__name__", "") if isinstance(value, type(sys)) \
                else getattr(value, "__module__", "") or ""
            assert not owner.startswith("torch"), (name, owner)
        if script != "tutorial_polynomial_numpy":
            assert module.torch is dlcore
    finally:
        sys.modules.pop(module.__name__, None)
    assert "torch" not in sys.modules or sys.modules["torch"] is not dlcore


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_script_trains_like_torch(case, one_thread):
    _, script, argv, metric, learned, agrees = case
    mine = engine.run(script, dlcore, quick=not FULL, argv=argv)
    assert learned(mine), mine
    if real_torch is None:
        return
    threads = real_torch.get_num_threads()
    real_torch.set_num_threads(1)  # as dlcore's side (one_thread): small models, shared cores
    try:
        theirs = engine.run(script, real_torch, quick=not FULL, argv=argv)
    finally:
        real_torch.set_num_threads(threads)
    if script == "reinforce" and not learned(theirs):  # a torch run that had not learned yet
        print("torch's own run missed the bar; nothing to compare with:", theirs)
        return
    assert agrees(mine[metric], theirs[metric]), (metric, mine, theirs)
