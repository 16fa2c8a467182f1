"""python/11_deploy.py in quick mode: the model it trains, exports and reloads answers
one-image requests the same way from the file as in eager mode (and in ONNX Runtime when
installed)."""
import importlib.util
import os

import pytest

pytest.importorskip("onnx")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_deploy_example_quick(tmp_path):
    path = os.path.join(ROOT, "python", "11_deploy.py")
    spec = importlib.util.spec_from_file_location("example_11_deploy", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    row = mod.main(quick=True, out_dir=str(tmp_path), epochs=2)  # the tour's quick run: 1
    assert (tmp_path / "digits_cnn.onnx").exists()
    assert row["chapter"] == "11"
    assert row["value"] >= 0.9 and row["value"] == row["eager_accuracy"]
    assert row["max_logit_diff"] < 1e-4
    assert row["predictions_agree"] is True
    assert row["eager_us"] > 0 and row["plan_us"] > 0
