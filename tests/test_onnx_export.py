"""dl.onnx.export: dlcore reference models traced by dl.jit.trace and written as ONNX give
eager's outputs in ONNX Runtime (and back in dl.onnx.load), at the traced batch size and at
another one (the batch axis is a named dynamic dim in the file)."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import dlcore as dl  # noqa: E402
from dlcore import nn  # noqa: E402
from dlcore.models import mobilenet_v2, resnet18  # noqa: E402
from dlcore.models.autoencoder import ConvAutoencoder  # noqa: E402
from dlcore.models.efficientnet import efficientnet_lite0  # noqa: E402
from dlcore.models.gpt import GPT, GPTConfig  # noqa: E402
from dlcore.models.lenet import LeNet5  # noqa: E402

RTOL = 1e-5


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _case(name, rng):
    """(model, example inputs, dynamic_axes, inputs at another size or None)."""
    if name == "mlp":
        m = nn.Sequential(nn.Linear(20, 32), nn.GELU(), nn.Linear(32, 16), nn.Tanh(),
                          nn.Linear(16, 3), nn.LogSoftmax(dim=1))
        return m, [_f32(rng, 4, 20)], None, [_f32(rng, 7, 20)]
    if name == "lenet":
        return LeNet5(), [_f32(rng, 2, 1, 28, 28)], None, [_f32(rng, 5, 1, 28, 28)]
    if name == "resnet18":
        return resnet18(num_classes=10), [_f32(rng, 1, 3, 32, 32)], None, \
            [_f32(rng, 2, 3, 32, 32)]
    if name == "mobilenet_v2":
        return mobilenet_v2(num_classes=10), [_f32(rng, 1, 3, 32, 32)], None, None
    if name == "efficientnet_lite0":
        return efficientnet_lite0(num_classes=10), [_f32(rng, 1, 3, 32, 32)], None, None
    if name == "conv_autoencoder":
        return ConvAutoencoder(), [_f32(rng, 2, 1, 28, 28)], None, [_f32(rng, 3, 1, 28, 28)]
    if name == "lstm":
        return nn.LSTM(8, 16, 2), [_f32(rng, 6, 3, 8)], {1: "batch"}, [_f32(rng, 6, 5, 8)]
    if name == "gru":
        return nn.GRU(8, 16, 1, batch_first=True, bidirectional=True), [_f32(rng, 3, 6, 8)], \
            None, [_f32(rng, 2, 6, 8)]
    if name == "transformer":
        m = nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0,
                                                             batch_first=True), 2)
        return m, [_f32(rng, 2, 7, 32)], {0: "batch", 1: "seq"}, [_f32(rng, 3, 11, 32)]
    if name == "gpt":
        g = GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32))
        return g, [rng.integers(0, 64, (2, 16)).astype(np.int64)], None, \
            [rng.integers(0, 64, (3, 16)).astype(np.int64)]
    raise KeyError(name)


def _first(out):
    while isinstance(out, (tuple, list)):
        out = out[0]
    return out.numpy()


def _eager(m, xs):
    with dl.no_grad():
        return _first(m(*[dl.tensor(x) for x in xs]))


def _ort(path, xs):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return s.run(None, {i.name: x for i, x in zip(s.get_inputs(), xs)})[0]


def _rel(a, b):
    return float(np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-30))


@pytest.mark.parametrize("name", ["mlp", "lenet", "resnet18", "mobilenet_v2",
                                  "efficientnet_lite0", "conv_autoencoder", "lstm", "gru",
                                  "transformer", "gpt"])
def test_export_runs_in_onnxruntime_with_eager_outputs(tmp_path, name):
    rng = np.random.default_rng(0)
    m, xs, dyn, other = _case(name, rng)
    m.eval()
    path = str(tmp_path / (name + ".onnx"))
    proto = dl.onnx.export(m, xs, path, dynamic_axes=dyn)
    assert proto.opset_import[0].version >= 17
    onnx.checker.check_model(path, full_check=True)
    want = _eager(m, xs)
    assert _rel(_ort(path, xs), want) < RTOL
    assert _rel(dl.onnx.load(path).run(*xs)[0], want) < RTOL
    if other is not None:
        assert _rel(_ort(path, other), _eager(m, other)) < RTOL


def test_dynamic_batch_is_a_named_dim_and_names_are_kept(tmp_path):
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    path = tmp_path / "m.onnx"
    dl.onnx.export(m, np.zeros((2, 4), np.float32), path, input_names=["features"],
                   output_names=["scores"])
    model = onnx.load(str(path))
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "features" and out.name == "scores"
    assert inp.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert inp.type.tensor_type.shape.dim[1].dim_value == 4
    plan = dl.onnx.load(path)
    x = np.random.default_rng(1).standard_normal((9, 4)).astype(np.float32)
    np.testing.assert_allclose(plan(features=x).numpy(), _eager(m, [x]), rtol=1e-6)


def test_export_opset_20_writes_gelu_and_checks_arguments(tmp_path):
    m = nn.Sequential(nn.Linear(6, 6), nn.GELU())
    x = np.random.default_rng(2).standard_normal((3, 6)).astype(np.float32)
    p17, p20 = str(tmp_path / "a.onnx"), str(tmp_path / "b.onnx")
    ops17 = {n.op_type for n in dl.onnx.export(m, x, p17).graph.node}
    ops20 = {n.op_type for n in dl.onnx.export(m, x, p20, opset=20).graph.node}
    assert "Erf" in ops17 and "Gelu" not in ops17 and "Gelu" in ops20
    for p in (p17, p20):
        assert _rel(_ort(p, [x]), _eager(m, [x])) < RTOL
    with pytest.raises(ValueError, match="opset must be an int from 17"):
        dl.onnx.export(m, x, p17, opset=13)
    with pytest.raises(ValueError, match="input_names must be 1 distinct"):
        dl.onnx.export(m, x, p17, input_names=["a", "b"])


def test_a_function_without_onnx_form_is_named(tmp_path):
    from dlcore.autograd import Function

    class Twice(Function):
        def forward(self, x):
            return x * 2

    class M(nn.Module):
        def forward(self, x):
            return Twice.apply(x)
    with pytest.raises(dl.onnx.ExportError, match="Twice"):
        dl.onnx.export(M(), np.ones((2, 2), np.float32), str(tmp_path / "t.onnx"))
    assert not (tmp_path / "t.onnx").exists()
