"""`dlcore run MODEL.onnx --input x.npy`: outputs and latency printed, inputs by order, name or
.npz, random inputs for dynamic dims, clear errors with exit status 2."""
import io

import numpy as np
import pytest

pytest.importorskip("onnx")

import dlcore as dl  # noqa: E402
from dlcore import nn  # noqa: E402
from dlcore.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    m = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    path = d / "m.onnx"
    dl.onnx.export(m, np.zeros((2, 5), np.float32), path, input_names=["x"],
                   output_names=["logits"])
    return m, path, d


def _run(argv):
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue()


def test_run_prints_outputs_and_latency(model, capsys):
    m, path, d = model
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    np.save(d / "x.npy", x)
    code, text = _run(["run", str(path), "--input", str(d / "x.npy"), "--repeat", "3",
                       "--threads", "1", "--save", str(d / "out.npz")])
    assert code == 0, capsys.readouterr().err
    assert "input x: float32 (3, 5)" in text
    assert "logits: float32 (3, 3)" in text
    assert "latency: first call" in text and "over 3 calls, 1 thread" in text
    with dl.no_grad():
        want = m(dl.tensor(x)).numpy()
    np.testing.assert_allclose(np.load(d / "out.npz")["logits"], want, rtol=1e-5, atol=1e-6)
    code, text = _run(["run", str(path), "--input", "x=%s" % (d / "x.npy"), "--repeat", "1",
                       "--plan"])
    assert code == 0 and "plan (static sizes)" in text


def test_run_random_inputs_follow_dim_sizes(model):
    _, path, _ = model
    code, text = _run(["run", str(path), "--random", "--dim", "batch=4", "--repeat", "1"])
    assert code == 0
    assert "input x: float32 (4, 5)" in text and "logits: float32 (4, 3)" in text


def test_run_errors_exit_2_with_a_message(model, capsys):
    _, path, d = model
    assert _run(["run", str(path)])[0] == 2
    assert "no value for input x (give --input, or --random)" in capsys.readouterr().err
    np.save(d / "bad.npy", np.zeros((3, 5), np.float64))
    assert _run(["run", str(path), "-i", str(d / "bad.npy")])[0] == 2
    assert "input 'x' must be float32, got float64" in capsys.readouterr().err
    assert _run(["run", str(d / "missing.onnx"), "--random"])[0] == 2
    assert "no such file" in capsys.readouterr().err
    assert _run(["run", str(path), "-i", "y=%s" % (d / "bad.npy")])[0] == 2
    assert "has no input 'y'" in capsys.readouterr().err
