"""python/04_cnn_digits.py runs in quick mode and learns (the full run reaches >= 98%)."""
import importlib.util
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def test_cnn_digits_quick():
    pytest.importorskip("dlcore.optim")
    data = pytest.importorskip("dlcore.data")
    if not hasattr(data, "load_digits"):
        pytest.skip("dlcore.data.load_digits not available")
    path = os.path.join(HERE, "..", "python", "04_cnn_digits.py")
    spec = importlib.util.spec_from_file_location("cnn_digits", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    row = mod.main(quick=True)
    assert row["metric"] == "test accuracy"
    assert row["value"] >= 0.9
