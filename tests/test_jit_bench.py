"""`dlcore bench infer` on one small model: every engine's output agrees with dlcore eager and
every timing column is filled (no timing is asserted)."""
import pytest

from dlcore.bench import infer


def test_infer_bench_rows_for_the_mlp():
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    rows = infer.run(threads=(1,), quick=True, models=("mlp",), batches=(1,))
    over = [r for r in rows if r["case"].startswith("overhead")]
    assert [r["steps"] for r in over] == [200, 1]
    assert all(r["us_per_step"] > 0 for r in over)
    (mlp,) = [r for r in rows if r["case"].startswith("mlp")]
    for k in ("plan_ms", "eager_ms", "ort_ms", "torch_ms", "vs_ort", "vs_eager"):
        assert mlp[k] is not None and mlp[k] > 0, k
    assert mlp["steps"] == 3 and mlp["rel_err"] < 1e-5
    text = infer.format_table(rows)
    assert "us_per_step" in text and "vs_ort" in text


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        infer.run(threads=(1,), models=("nope",))
