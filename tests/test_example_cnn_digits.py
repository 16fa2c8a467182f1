"""python/04_cnn_digits.py runs in quick mode and learns (the full run reaches >= 98%)."""
import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def test_cnn_digits_quick():
    from dlcore import data
    assert hasattr(data, "load_digits")
    path = os.path.join(HERE, "..", "python", "04_cnn_digits.py")
    spec = importlib.util.spec_from_file_location("cnn_digits", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    row = mod.main(quick=True)
    assert row["metric"] == "test accuracy"
    assert row["value"] >= 0.9
