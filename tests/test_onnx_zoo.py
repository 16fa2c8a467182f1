"""Model families nobody on the team wrote an ONNX test for (tests/_onnx_zoo.py: VGG-style,
DenseNet-style, SqueezeNet, ShuffleNet, a ViT, a U-Net, a seq2seq GRU, a conv1d audio net and
a model whose reshapes follow dynamic batch/sequence sizes), both ways:
- torch.onnx.export (TorchScript exporter at opsets 17 and 18 with dynamic axes, and the
  dynamo exporter) -> dl.onnx.load matches ONNX Runtime on the same file within 1e-4
  relative, at the example shapes and, for the dynamic-axis files, at other sizes too;
- the same definition built on dlcore with the same weights matches torch eagerly, and
  dl.onnx.export of it runs in ONNX Runtime with dlcore's outputs."""
import contextlib
import io
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

import dlcore as dl  # noqa: E402

from _onnx_zoo import DYNAMIC, NAMES, example_inputs, make, randomized_state  # noqa: E402

RTOL = 1e-4


def _rel(got, want):
    return float(np.abs(np.asarray(got, np.float64) - want).max() / max(np.abs(want).max(), 1e-30))


def _ort(path, feeds):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, feeds)


def _torch_model(name):
    rng = np.random.default_rng(0)
    tm = make(torch, name).eval()
    sd = randomized_state(tm, rng)
    tm.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    return tm, sd, example_inputs(name, rng)


def _names(xs):
    return ["in%d" % i for i in range(len(xs))]


def _dynamic_axes(name, xs):
    return dict(zip(_names(xs), DYNAMIC.get(name, [{0: "batch"}])))


def _other_inputs(name):
    """Inputs at other sizes along every dynamic axis (batch 3; other lengths)."""
    rng = np.random.default_rng(7)
    xs = example_inputs(name, rng, batch=3)
    if name == "seq2seq_gru":
        return [rng.integers(0, 40, (3, 9)).astype(np.int64),
                rng.integers(0, 40, (3, 4)).astype(np.int64)]
    if name == "audio_conv1d":
        return [rng.standard_normal((3, 1, 1000)).astype(np.float32)]
    if name == "dynamic_shapes":
        return [rng.standard_normal((3, 11, 32)).astype(np.float32)]
    return xs


@pytest.mark.parametrize("exporter", ["torchscript17", "torchscript18", "dynamo"])
@pytest.mark.parametrize("name", NAMES)
def test_torch_export_loads_and_matches_onnxruntime(tmp_path, name, exporter):
    tm, _, xs = _torch_model(name)
    path = tmp_path / ("%s_%s.onnx" % (name, exporter))
    names = _names(xs)
    args = tuple(torch.from_numpy(x) for x in xs)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            torch.onnx.export(tm, args, str(path), input_names=names, dynamo=True)
        else:
            torch.onnx.export(tm, args, str(path), input_names=names, dynamo=False,
                              opset_version=int(exporter[-2:]),
                              dynamic_axes=_dynamic_axes(name, xs))
    plan = dl.onnx.load(path)
    sets = [xs] + ([_other_inputs(name)] if exporter != "dynamo" else [])
    for inputs in sets:
        feeds = dict(zip(names, inputs))
        want = _ort(path, feeds)
        got = plan.run(**feeds)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype
            assert _rel(g, w) < RTOL, (name, exporter, [x.shape for x in inputs], _rel(g, w))
    with torch.no_grad():   # and ONNX Runtime agrees with torch (the file is right)
        assert _rel(_ort(path, dict(zip(names, xs)))[0], tm(*args).numpy()) < RTOL


@pytest.mark.parametrize("name", NAMES)
def test_dlcore_model_exports_and_runs_in_onnxruntime(tmp_path, name):
    tm, sd, xs = _torch_model(name)
    dm = make(dl, name)
    dm.load_state_dict(sd)
    dm.eval()
    with torch.no_grad():
        want = tm(*[torch.from_numpy(x) for x in xs]).numpy()
    with dl.no_grad():
        eager = dm(*[dl.tensor(x) for x in xs]).numpy()
    assert _rel(eager, want) < RTOL
    path = tmp_path / (name + "_dl.onnx")
    dyn = _dynamic_axes(name, xs)
    if name == "audio_conv1d":
        # dl.jit.trace fits dynamic sizes as affine in the dims; a strided conv's output
        # length floor((L - 1) / 4) + 1 is not, so only the batch axis is dynamic here
        dyn = {"in0": {0: "batch"}}
    dl.onnx.export(dm, tuple(dl.tensor(x) for x in xs), str(path), input_names=_names(xs),
                   dynamic_axes=dyn)
    assert _rel(_ort(path, dict(zip(_names(xs), xs)))[0], eager) < RTOL
    other = _other_inputs(name) if name != "audio_conv1d" else \
        [np.random.default_rng(3).standard_normal((3, 1, 800)).astype(np.float32)]
    with dl.no_grad():
        eager = dm(*[dl.tensor(x) for x in other]).numpy()
    got = _ort(path, dict(zip(_names(other), other)))[0]
    assert got.shape == eager.shape and _rel(got, eager) < RTOL
    # and dlcore reads its own file back
    assert _rel(dl.onnx.load(path).run(*other)[0], eager) < RTOL


def test_strided_conv_with_a_dynamic_length_is_a_clear_trace_error(tmp_path):
    _, sd, xs = _torch_model("audio_conv1d")
    dm = make(dl, "audio_conv1d")
    dm.load_state_dict(sd)
    dm.eval()
    with pytest.raises(dl.jit.TraceError, match="shape of"):
        dl.onnx.export(dm, (dl.tensor(xs[0]),), str(tmp_path / "a.onnx"), input_names=["in0"],
                       dynamic_axes={"in0": {0: "batch", 2: "samples"}})


@pytest.mark.parametrize("name", ["dynamic_shapes", "vit", "audio_conv1d", "seq2seq_gru"])
def test_dynamo_export_with_dynamic_shapes(tmp_path, name):
    """torch.export's Dims (batch; sequence where the exporter keeps it symbolic): one
    loaded file, several input sizes, each matching ONNX Runtime."""
    from torch.export import Dim
    tm, _, xs = _torch_model(name)
    batch = Dim("batch", min=1, max=64)
    seq = {0: batch, 1: Dim("seq", min=2, max=64)}
    # torch 2.13's dynamo exporter declares the decoder GRU's output length static (5), so
    # the seq2seq file varies its batch only
    ds = {"dynamic_shapes": (seq,), "seq2seq_gru": ({0: batch}, {0: batch})}.get(
        name, ({0: batch},))
    path = tmp_path / (name + ".onnx")
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(tm, tuple(torch.from_numpy(x) for x in xs), str(path),
                          input_names=_names(xs), dynamo=True, dynamic_shapes=ds)
    plan = dl.onnx.load(path)
    rng = np.random.default_rng(11)
    other = [np.concatenate([x, x[:1]], 0) for x in xs]       # batch 3
    if name == "dynamic_shapes":
        other = [rng.standard_normal((3, 10, 32)).astype(np.float32)]
    for inputs in (xs, other):
        feeds = dict(zip(_names(inputs), inputs))
        want = _ort(path, feeds)[0]
        got = plan.run(**feeds)[0]
        assert got.shape == want.shape and _rel(got, want) < RTOL
