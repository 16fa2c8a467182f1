"""python/04_cnn_fashion.py runs in quick mode on the bundled subset and learns."""
import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def test_cnn_fashion_quick(capsys):
    path = os.path.join(HERE, "..", "python", "04_cnn_fashion.py")
    spec = importlib.util.spec_from_file_location("cnn_fashion", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    row = mod.main(quick=True)
    assert row["chapter"].startswith("04") and row["metric"] == "test accuracy"
    assert "Fashion-MNIST" in row["data"]
    assert row["value"] >= 0.3  # 2 short epochs on 400 images; chance is 0.1
    out = capsys.readouterr().out
    assert "confusion matrix" in out and "Ankle b" in out
