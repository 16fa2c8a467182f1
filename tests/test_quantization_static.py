"""Static post-training quantization: QTensor, observers, fuse_modules, eager prepare/convert,
graph-mode quantize_static, the int8 layers' state_dict, parity with torch's quantized conv."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore import quantization as tq
from dlcore.nn import quantized as nnq
from dlcore.ops import qconv as Q
from dlcore.ops.qtensor import QTensor, quantize_per_tensor
from _cpu_flags import int8_pairs_saturate


def small_cnn():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, stride=2, padding=1),
                         nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1,
                                                                  groups=16),
                         nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5))


def _randomize_bn(model, rng):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean._data[:] = rng.normal(0, 0.2, n)
            m.running_var._data[:] = rng.uniform(0.5, 2.0, n)
            m.weight._data[:] = rng.uniform(0.5, 1.5, n)
            m.bias._data[:] = rng.normal(0, 0.2, n)


def _rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_qtensor_roundtrip_and_layout():
    x = dl.tensor(np.random.default_rng(0).uniform(-1, 2, (2, 3, 4, 5)).astype(np.float32))
    q = quantize_per_tensor(x, 3 / 255, 85)
    assert q.shape == (2, 3, 4, 5) and q.codes.shape == (2, 4, 5, 3)
    assert np.abs(q.dequantize().numpy() - x.numpy()).max() <= 1.5 / 255 + 1e-6
    assert np.array_equal(q.int_repr().numpy(),
                          np.clip(np.rint(x.numpy() / np.float32(3 / 255)) + 85, 0, 255))
    # flatten goes through the logical (N, C, H, W) order
    assert np.array_equal(q.flatten(1).dequantize().numpy(), q.dequantize().numpy().reshape(2, -1))
    with pytest.raises(ValueError, match="zero_point must be in 0..255"):
        quantize_per_tensor(x, 0.1, 256)
    with pytest.raises(ValueError, match="scale must be a positive"):
        quantize_per_tensor(x, 0.0, 0)


def test_observers():
    obs = tq.MinMaxObserver()
    obs(dl.tensor(np.array([-1.0, 3.0], np.float32)))
    obs(dl.tensor(np.array([0.5, 4.1], np.float32)))
    s, z = obs.calculate_qparams()
    assert s == pytest.approx(5.1 / 255, rel=1e-6) and z == round(1.0 / s)
    # on heavy tails the histogram observer narrows the range, and its squared error is lower
    x = np.random.default_rng(0).laplace(0, 1, 200000).astype(np.float32)
    h, m = tq.HistogramObserver(), tq.MinMaxObserver()
    h(dl.tensor(x))
    m(dl.tensor(x))
    (hs, hz), (ms, mz) = h.calculate_qparams(), m.calculate_qparams()
    assert hs < 0.9 * ms
    assert h.calculate_qparams() == (hs, hz)       # asking twice gives the same answer

    def mse(s, z):
        return float(((quantize_per_tensor(dl.tensor(x), s, z).dequantize().numpy() - x) ** 2)
                     .mean())
    assert mse(hs, hz) < mse(ms, mz)
    pc = tq.PerChannelMinMaxObserver()
    pc(dl.tensor(np.array([[1.0, -2.0], [0.0, 0.0]], np.float32)))
    s, z = pc.calculate_qparams()
    assert np.allclose(s, [2 / 127, 1.0]) and not z.any()
    with pytest.raises(RuntimeError, match="no values observed"):
        tq.MinMaxObserver().calculate_qparams()


def test_fuse_folds_batchnorm_exactly():
    rng = np.random.default_rng(1)
    m = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU())
    _randomize_bn(m, rng)
    m.eval()
    f = tq.fuse_modules(m, [["0", "1", "2"]])
    assert isinstance(f[0], tq.fuse.ConvReLU2d) and isinstance(f[1], nn.Identity)
    x = dl.tensor(rng.normal(size=(2, 3, 7, 7)).astype(np.float32))
    with dl.no_grad():
        assert np.allclose(f(x).numpy(), m(x).numpy(), atol=1e-5)
    m.train()
    with pytest.raises(ValueError, match="eval mode"):
        tq.fuse_modules(m, [["0", "1", "2"]])
    with pytest.raises(TypeError, match="first module must be Conv2d or Linear"):
        tq.fuse_modules(m.eval(), [["1", "2"]])


def _eager_int8(model, batches):
    fused = tq.fuse_modules(tq.QuantWrapper(model).eval(),
                            [["module.0", "module.1", "module.2"], ["module.4", "module.5",
                                                                   "module.6"]])
    fused.qconfig = tq.get_default_qconfig("minmax")
    prepared = tq.prepare(fused)
    with dl.no_grad():
        for b in batches:
            prepared(b)
    return tq.convert(prepared)


def test_eager_prepare_convert_matches_float(tmp_path):
    rng = np.random.default_rng(2)
    model = small_cnn()
    _randomize_bn(model, rng)
    model.eval()
    batches = [dl.tensor(rng.normal(size=(4, 3, 16, 16)).astype(np.float32)) for _ in range(3)]
    q = _eager_int8(model, batches)
    assert isinstance(q.quant, nnq.Quantize) and isinstance(q.module[0], nnq.ConvReLU2d)
    assert isinstance(q.module[7], nnq.Conv2d) and isinstance(q.module[8], nnq.ReLU6)
    assert isinstance(q.module[11], nnq.Linear)
    x = batches[0]
    with dl.no_grad():
        ref = model(x).numpy()
    y = q(x).numpy()
    assert _rel(y, ref) < 0.05
    # state_dict: int8 weights and the calibrated parameters round-trip through safetensors
    sd = q.state_dict()
    assert sd["module.0.weight"].numpy().dtype == np.int8
    assert sd["module.0.scale"].numpy().shape == (1,)
    path = str(tmp_path / "q.safetensors")
    dl.save(sd, path)
    other = _eager_int8(model, [b * 3.0 for b in batches])      # other ranges
    assert not np.array_equal(other(x).numpy(), y)
    other.load_state_dict(dl.load(path))
    assert np.array_equal(other(x).numpy(), y)


def test_float_functional_residual():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)
            self.skip = nnq.FloatFunctional()

        def forward(self, x):
            x = self.quant(x)
            return self.dequant(self.skip.add_relu(self.conv(x), x))

    rng = np.random.default_rng(3)
    b = Block().eval()
    b.qconfig = tq.default_qconfig
    p = tq.prepare(b)
    x = dl.tensor(rng.normal(size=(2, 4, 9, 9)).astype(np.float32))
    with dl.no_grad():
        p(x)
        ref = b(x).numpy()
    q = tq.convert(p)
    assert isinstance(q.skip, nnq.QFunctional)
    assert _rel(q(x).numpy(), ref) < 0.03


@pytest.mark.parametrize("name", ["resnet_small", "mobilenet_v2"])
def test_quantize_static_graph(name):
    rng = np.random.default_rng(4)
    model = dl.models.resnet_small(num_classes=10, in_channels=3) if name == "resnet_small" \
        else dl.models.mobilenet_v2(num_classes=10)
    _randomize_bn(model, rng)
    model.eval()
    size = 32
    batches = [dl.tensor(rng.normal(size=(3, 3, size, size)).astype(np.float32))
               for _ in range(2)]
    q = tq.quantize_static(model, batches, qconfig=tq.get_default_qconfig("minmax"))
    convs = [m for m in q.modules() if isinstance(m, nnq.Conv2d)]
    assert len(convs) == sum(isinstance(m, nn.Conv2d) for m in model.modules())
    x = dl.tensor(rng.normal(size=(2, 3, size, size)).astype(np.float32))
    with dl.no_grad():
        ref = model(x).numpy()
    y = q(x).numpy()
    assert y.shape == ref.shape and _rel(y, ref) < 0.1
    # any batch size (the trace's batch dim is dynamic)
    assert q(x[:1]).numpy().shape == (1, 10)
    with pytest.raises(ValueError, match="dim 1 must be 3"):
        q(dl.randn(1, 4, size, size))


def test_quantize_static_mlp_and_state_dict(tmp_path):
    rng = np.random.default_rng(11)
    model = nn.Sequential(nn.Linear(13, 32), nn.ReLU(), nn.Linear(32, 17), nn.ReLU(),
                          nn.Linear(17, 4)).eval()
    batches = [dl.tensor(rng.normal(size=(16, 13)).astype(np.float32)) for _ in range(2)]
    q = tq.quantize_static(model, batches)
    kinds = [type(m).__name__ for m in q.modules()]
    assert kinds.count("LinearReLU") == 2 and kinds.count("Linear") == 1
    x = batches[0]
    with dl.no_grad():
        ref = model(x).numpy()
    y = q(x).numpy()
    assert _rel(y, ref) < 0.03
    path = str(tmp_path / "g.safetensors")
    dl.save(q.state_dict(), path)
    other = tq.quantize_static(model, [b * 4.0 for b in batches])
    assert not np.array_equal(other(x).numpy(), y)
    other.load_state_dict(dl.load(path))
    assert np.array_equal(other(x).numpy(), y)


def test_quantize_static_reference_path_for_ops_without_int8():
    rng = np.random.default_rng(5)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sigmoid(), nn.Flatten(), nn.Linear(4 * 36, 3))
    batches = [dl.tensor(rng.normal(size=(2, 3, 8, 8)).astype(np.float32))]
    q = tq.quantize_static(model, batches)
    with dl.no_grad():
        ref = model(batches[0]).numpy()
    assert _rel(q(batches[0]).numpy(), ref) < 0.05
    # the float step is recorded by a trace like the int8 ones
    x = dl.tensor(rng.normal(size=(2, 3, 8, 8)).astype(np.float32))
    assert np.array_equal(dl.jit.trace(q, batches[0])(x).numpy(), q(x).numpy())


def test_digits_cnn_int8_accuracy_within_one_point():
    from dlcore.data import load_digits
    X, y = load_digits()
    X = (np.asarray(X, np.float32).reshape(-1, 1, 8, 8) / 16.0 - 0.5) / 0.5
    y = np.asarray(y)
    dl.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32),
                          nn.ReLU(), nn.Flatten(), nn.Linear(32 * 16, 10))
    loader = dl.data.DataLoader(dl.data.TensorDataset(X[:1400], y[:1400]), batch_size=64,
                                shuffle=True)
    dl.train.fit(model, loader, dl.nn.functional.cross_entropy,
                 dl.optim.Adam(model.parameters(), lr=3e-3), epochs=4, verbose=0)
    model.eval()
    xt = dl.tensor(X[1400:])
    with dl.no_grad():
        acc = float((model(xt).numpy().argmax(1) == y[1400:]).mean())
    q = tq.quantize_static(model, [dl.tensor(X[:256])])
    qacc = float((q(xt).numpy().argmax(1) == y[1400:]).mean())
    assert acc > 0.9
    assert qacc >= acc - 0.01


def test_torch_quantized_conv_parity():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    xs, xz, ys, yz = 3 / 255, 85, 0.02, 100
    # where torch's u8 x s8 kernel sums pairs in saturating 16 bits (_cpu_flags), the
    # activations stay below 128 so that its sums are exact and it is an oracle
    hi = (127 - xz) * xs if int8_pairs_saturate() else 2.0
    x = rng.uniform(-1, hi, (1, 6, 9, 11)).astype(np.float32)
    w = rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32)
    b = rng.normal(0, 0.1, 8).astype(np.float32)
    wt = Q.Int8ConvWeight.from_float(w, groups=2)
    ours = Q.qconv2d(quantize_per_tensor(dl.tensor(x), xs, xz), wt, b, stride=(2, 1),
                     padding=1, scale=ys, zero_point=yz).int_repr().numpy()
    tx = torch.quantize_per_tensor(torch.from_numpy(x), xs, xz, torch.quint8)
    tw = torch._make_per_channel_quantized_tensor(
        torch.from_numpy(wt.q.astype(np.int8)), torch.from_numpy(wt.scale.astype(np.float64)),
        torch.zeros(8, dtype=torch.int64), 0)
    try:
        ty = torch.ao.nn.quantized.functional.conv2d(tx, tw, torch.from_numpy(b), stride=(2, 1),
                                                     padding=1, groups=2, scale=ys,
                                                     zero_point=yz)
    except RuntimeError as e:            # no quantized engine on this torch build
        pytest.skip(str(e))
    d = np.abs(ours.astype(int) - ty.int_repr().numpy().astype(int))
    assert d.max() <= 1 and (d == 0).mean() > 0.95


def test_errors():
    model = small_cnn().eval()
    with pytest.raises(ValueError, match="no layer has a qconfig"):
        tq.prepare(model)
    model.qconfig = tq.QConfig(tq.MinMaxObserver, tq.MinMaxObserver)
    with pytest.raises(ValueError, match="qconfig.weight must be PerChannelMinMaxObserver"):
        tq.prepare(model)
    m = tq.QuantWrapper(nn.Sequential(nn.Conv2d(3, 4, 3)))
    m.qconfig = tq.default_qconfig
    with pytest.raises(RuntimeError, match="no values observed"):
        tq.convert(tq.prepare(m))
    m2 = tq.QuantWrapper(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))).eval()
    m2.qconfig = tq.default_qconfig
    p = tq.prepare(m2)
    with dl.no_grad():
        p(dl.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match="not fused"):
        tq.convert(p)
    conv = nnq.Conv2d(3, 4, 3)
    with pytest.raises(TypeError, match="must be a QTensor"):
        conv(dl.randn(1, 3, 5, 5))


def test_traced_int8_models_run_in_the_plan():
    rng = np.random.default_rng(10)
    model = small_cnn()
    _randomize_bn(model, rng)
    model.eval()
    batches = [dl.tensor(rng.normal(size=(2, 3, 16, 16)).astype(np.float32)) for _ in range(2)]
    x = dl.tensor(rng.normal(size=(2, 3, 16, 16)).astype(np.float32))
    graph_q = tq.quantize_static(model, batches)
    for q in (_eager_int8(model, batches), graph_q):
        traced = dl.jit.trace(q, x)
        counts = traced.graph.op_counts()
        assert counts.get("PyFunction", 0) >= 5, counts     # the int8 steps, recorded
        assert np.array_equal(traced(x).numpy(), q(x).numpy())
        # a new input: the plan computes, it did not bake the traced outputs in
        x2 = dl.tensor(rng.normal(size=(2, 3, 16, 16)).astype(np.float32))
        assert np.array_equal(traced(x2).numpy(), q(x2).numpy())
