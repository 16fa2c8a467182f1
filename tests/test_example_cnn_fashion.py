"""python/04_cnn_fashion.py runs in quick mode on the bundled subset and learns."""
import importlib.util
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def _example():
    path = os.path.join(HERE, "..", "python", "04_cnn_fashion.py")
    spec = importlib.util.spec_from_file_location("cnn_fashion", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cnn_fashion_quick(capsys, tmp_path):
    row = _example().main(quick=True, out_dir=str(tmp_path))
    assert row["chapter"].startswith("04") and row["metric"] == "test accuracy"
    assert "Fashion-MNIST" in row["data"]
    # 2 short epochs on 400 images (chance 0.1): measured 0.524 at seed 0
    assert row["value"] >= 0.45
    out = capsys.readouterr().out
    assert "confusion matrix" in out and "Ankle b" in out


@pytest.mark.slow
def test_cnn_fashion_subset_reaches_the_stated_accuracy(tmp_path):
    """The docstring and README state 87.1% for the subset run (86.8% and 87.4% in earlier
    runs)."""
    row = _example().main(quick=False, out_dir=str(tmp_path))
    assert row["value"] >= 0.85
