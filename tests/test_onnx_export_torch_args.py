"""dl.onnx.export called as scripts call torch.onnx.export (word_language_model's
`torch.onnx.export(model, (input, (h, c)), path)`, the tutorials' opset_version /
input_names / dynamic_axes-by-name): the file runs in ONNX Runtime with the eager outputs."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import dlcore as dl  # noqa: E402
from dlcore import nn  # noqa: E402


def _dims(vi):
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


def test_tutorial_call_with_named_dynamic_axes(tmp_path):
    dl.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    x = dl.randn(3, 4)
    p = str(tmp_path / "m.onnx")
    proto = dl.onnx.export(m, (x,), p, export_params=True, opset_version=18,
                           do_constant_folding=True, input_names=["input"],
                           output_names=["output"], verbose=False, dynamo=False,
                           dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}})
    assert proto.opset_import[0].version == 18
    assert _dims(proto.graph.input[0]) == ["batch_size", 4]
    x5 = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    got = ort.InferenceSession(p).run(None, {"input": x5})[0]
    np.testing.assert_allclose(got, m(dl.tensor(x5)).numpy(), rtol=1e-5, atol=1e-6)


def test_named_dynamic_axes_leave_other_inputs_static(tmp_path):
    class Two(nn.Module):
        def forward(self, a, b):
            return a + b.sum()
    p = str(tmp_path / "t.onnx")
    proto = dl.onnx.export(Two(), (dl.randn(3, 2), dl.randn(3, 2)), p, input_names=["a", "b"],
                           dynamic_axes={"a": [0]})
    assert _dims(proto.graph.input[0]) == ["a_dynamic_axes_1", 2]
    assert _dims(proto.graph.input[1]) == [3, 2]
    with pytest.raises(ValueError, match="neither an input name"):
        dl.onnx.export(Two(), (dl.randn(3, 2), dl.randn(3, 2)), p, input_names=["a", "b"],
                       dynamic_axes={"c": [0]})


def test_nested_lstm_state_inputs(tmp_path):
    dl.manual_seed(0)
    lstm = nn.LSTM(4, 5, num_layers=2)
    lstm.train()
    x, h, c = dl.randn(6, 2, 4), dl.randn(2, 2, 5), dl.randn(2, 2, 5)
    p = str(tmp_path / "l.onnx")
    dl.onnx.export(lstm, (x, (h, c)), p, dynamic_axes=False)
    assert lstm.training  # restored after the eval-mode export
    sess = ort.InferenceSession(p)
    names = [i.name for i in sess.get_inputs()]
    assert len(names) == 3
    got = sess.run(None, dict(zip(names, [x.numpy(), h.numpy(), c.numpy()])))
    lstm.eval()
    y, (hn, cn) = lstm(x, (h, c))
    for g, want in zip(got, (y, hn, cn)):
        np.testing.assert_allclose(g, want.numpy(), rtol=1e-5, atol=1e-5)


def test_switches_dlcore_cannot_honour_raise(tmp_path):
    m, x, p = nn.Linear(2, 2), dl.randn(1, 2), str(tmp_path / "x.onnx")
    with pytest.raises(NotImplementedError, match="export_params=False"):
        dl.onnx.export(m, (x,), p, export_params=False)
    with pytest.raises(NotImplementedError, match="keep_initializers_as_inputs"):
        dl.onnx.export(m, (x,), p, keep_initializers_as_inputs=True)
    with pytest.raises(TypeError, match="unexpected keyword"):
        dl.onnx.export(m, (x,), p, opset_versoin=17)
    with pytest.raises(ValueError, match="disagree"):
        dl.onnx.export(m, (x,), p, opset=17, opset_version=18)
    with pytest.raises(TypeError, match="example inputs must be Tensors"):
        dl.onnx.export(m, (x, "text"), p)
