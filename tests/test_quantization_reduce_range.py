"""reduce_range (7-bit activation codes) end to end: quantize_dynamic and the dynamic Linear
against a NumPy model of the 7-bit arithmetic, the static qconfig through prepare/convert and
quantize_static (the layers record it, their QTensors carry it), and the dl.jit plan equal to
eager.  The GEMM's own exactness is tests/test_qgemm_u7.py."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore import quantization as tq
from dlcore.nn import quantized as nnq
from dlcore.nn.quantized import dynamic as qdyn
from dlcore.ops import qconv as Q
from dlcore.ops.qmatmul import Int8Weight, int8_linear, quantize_activations
from dlcore.ops.qtensor import QTensor, quantize_per_tensor


def int8_reference_7bit(x, w, b, qmax=127):
    """The dynamic int8 Linear with activations on codes 0..qmax (127: 7 bits) per row, in
    float64."""
    wq, ws = Int8Weight.from_float(w).q, Int8Weight.from_float(w).scale
    lo = np.minimum(x.min(1), 0)
    hi = np.maximum(x.max(1), 0)
    s = ((hi - lo) / np.float32(qmax)).astype(np.float32)
    s = np.where(s > 0, s, 1).astype(np.float32)
    z = np.clip(np.rint(-lo / s), 0, qmax)
    xq = np.clip(np.rint(x * (np.float32(1) / s)[:, None]) + z[:, None], 0, qmax)
    xd = (xq - z[:, None]) * s[:, None].astype(np.float64)
    wd = wq * ws[:, None].astype(np.float64)
    return xd @ wd.T + (0 if b is None else b), np.abs(xd) @ np.abs(wd).T


def test_dynamic_linear_7bit_matches_numpy_model(isa, rng):
    lin = nn.Linear(67, 29)
    q = qdyn.Linear.from_float(lin, reduce_range=True)
    assert q.reduce_range and "reduce_range=True" in repr(q)
    x = (rng.standard_normal((5, 67)) * 3).astype(np.float32)
    ref, mag = int8_reference_7bit(x, lin.weight.numpy(), lin.bias.numpy())
    y = q(dl.tensor(x)).numpy()
    assert np.all(np.abs(y - ref) <= 1e-5 * mag + 1e-6)
    # the 8-bit layer is a different (finer) model: the flag really changes the codes
    codes, _, _ = quantize_activations(x, reduce_range=True)
    assert codes.max() <= 127
    assert quantize_activations(x)[0].max() == 255


def test_quantize_dynamic_reduce_range(rng):
    dl.manual_seed(0)
    model = nn.Sequential(nn.Linear(33, 65), nn.ReLU(), nn.Linear(65, 7))
    x = dl.tensor(rng.standard_normal((9, 33)).astype(np.float32))
    q8 = tq.quantize_dynamic(model, {nn.Linear})
    q7 = tq.quantize_dynamic(model, {nn.Linear}, reduce_range=True)
    assert not any(m.reduce_range for m in q8.modules() if isinstance(m, qdyn.Linear))
    assert all(m.reduce_range for m in q7.modules() if isinstance(m, qdyn.Linear))
    with dl.no_grad():
        f = model(x).numpy()
    y7 = q7(x).numpy()
    assert np.abs(y7 - f).max() < 0.05 * np.abs(f).max()
    # the plan runs the same 7-bit steps, bit for bit
    assert np.array_equal(dl.jit.trace(q7, x)(x).numpy(), y7)
    # the options reach the layers (granularity used to be dropped on the way)
    qt = tq.quantize_dynamic(model, {nn.Linear}, granularity="per_tensor", reduce_range=True)
    assert all(m.granularity == "per_tensor" and m.reduce_range
               for m in qt.modules() if isinstance(m, qdyn.Linear))
    with pytest.raises(TypeError, match="reduce_range must be True or False"):
        tq.quantize_dynamic(model, reduce_range="yes")


def test_int8_linear_7bit_equals_its_gemm(rng):
    w = Int8Weight.from_float(rng.standard_normal((40, 50)).astype(np.float32))
    x = rng.standard_normal((6, 50)).astype(np.float32)
    from dlcore.ops.qmatmul import int8_gemm
    want = int8_gemm(quantize_activations(x, reduce_range=True), w, reduce_range=True)
    assert np.array_equal(int8_linear(x, w, reduce_range=True).numpy(), want)


def small_cnn():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, stride=2, padding=1),
                         nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 16, 1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5))


def test_static_qconfig_and_observers():
    qc = tq.get_default_qconfig("x86", reduce_range=True)
    obs = qc.activation()
    assert obs.reduce_range
    obs(dl.tensor(np.array([-1.0, 3.0], np.float32)))
    s, z = obs.calculate_qparams()
    assert z <= 127 and (127 - z) * s >= 3.0 * 0.98 and z * s >= 1.0 * 0.98
    assert not tq.get_default_qconfig("x86", reduce_range=False).activation().reduce_range


def test_quantize_static_7bit_records_the_range_and_plan_equals_eager():
    rng = np.random.default_rng(3)
    model = small_cnn().eval()
    batches = [dl.tensor(rng.normal(size=(2, 3, 16, 16)).astype(np.float32)) for _ in range(2)]
    q7 = tq.quantize_static(model, batches, qconfig=tq.get_default_qconfig("x86",
                                                                          reduce_range=True))
    q8 = tq.quantize_static(model, batches, qconfig=tq.get_default_qconfig("x86",
                                                                          reduce_range=False))
    layers = [m for m in q7.modules() if isinstance(m, (nnq.Conv2d, nnq.Linear, nnq.Quantize))]
    assert layers and all(m.reduce_range for m in layers)
    assert not any(m.reduce_range for m in q8.modules() if isinstance(m, nnq.Conv2d))
    x = dl.tensor(rng.normal(size=(2, 3, 16, 16)).astype(np.float32))
    with dl.no_grad():
        f = model(x).numpy()
    y7, y8 = q7(x).numpy(), q8(x).numpy()
    err = lambda y: np.abs(y - f).max() / np.abs(f).max()   # noqa: E731
    assert err(y7) < 0.1 and err(y8) < 0.1
    traced = dl.jit.trace(q7, x)
    assert np.array_equal(traced(x).numpy(), y7)
    # beyond the calibrated range the codes clamp at 127 (as 8-bit ones at 255), in both
    big = dl.tensor(x.numpy() * 4)
    assert np.array_equal(traced(big).numpy(), q7(big).numpy())


def test_relu6_fused_into_the_range_clips_in_7_bits_too():
    """quantize_static folds relu6 into a conv whose output range (max <= 6) does the upper
    clip: the 7-bit codes must clamp at 127 like the 8-bit ones at 255, or values beyond the
    calibration pass the clip (EfficientNet-Lite0 gave garbage before the clamp)"""
    rng = np.random.default_rng(8)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU6(), nn.Conv2d(8, 4, 1),
                          nn.ReLU6(), nn.Conv2d(4, 4, 3, groups=4, padding=1), nn.ReLU6(),
                          nn.Flatten(), nn.Linear(4 * 36, 3)).eval()
    batches = [dl.tensor(rng.normal(0, 0.5, size=(2, 3, 6, 6)).astype(np.float32))
               for _ in range(2)]
    q7 = tq.quantize_static(model, batches, qconfig=tq.get_default_qconfig("minmax",
                                                                          reduce_range=True))
    q8 = tq.quantize_static(model, batches, qconfig=tq.get_default_qconfig("minmax"))
    x = dl.tensor(rng.normal(0, 4, size=(2, 3, 6, 6)).astype(np.float32))
    y7, y8 = q7(x).numpy(), q8(x).numpy()
    assert np.abs(y7 - y8).max() < 0.05 * np.abs(y8).max()
    assert np.array_equal(dl.jit.trace(q7, x)(x).numpy(), y7)


def test_7_bit_outputs_are_the_8_bit_ones_clamped_at_127(isa):
    """every requantizing kernel: with out_reduce_range its codes are min(8-bit codes, 127)"""
    from dlcore import _C
    rng = np.random.default_rng(9)
    W = rng.integers(-127, 128, (37, 45)).astype(np.int8)
    packed, colsum = _C.u8s8_pack(W)
    q = np.zeros((13, _C.u8s8_kpad(45)), np.uint8)
    q[:, :45] = rng.integers(0, 128, (13, 45))
    s, z, ws = np.full(13, 0.02, np.float32), np.full(13, 40, np.int32), np.full(37, 0.01,
                                                                                 np.float32)
    outs = []
    for orr in (False, True):
        u = np.empty((13, 37), np.uint8)
        _C.u8s8_gemm(q, packed, colsum, 45, s, z, ws, act="relu", out_u8=u, out_scale=0.003,
                     out_zp=20, reduce_range=True, out_reduce_range=orr)
        outs.append(u)
    assert outs[0].max() > 127 and np.array_equal(outs[1], np.minimum(outs[0], 127))
    x = rng.integers(0, 128, (2, 9, 9, 16)).astype(np.uint8)
    wdw = rng.integers(-127, 128, (9, 16)).astype(np.int8)
    geom = (16, 3, 3, 1, 1, 1, 1, 1, 1, 9, 9, 16)
    d = [_C.qconv2d_dw_u8(x, wdw, np.full(16, 0.01, np.float32), None, geom, 0.05, 30, 0.01,
                          90, False, out_reduce_range=o) for o in (False, True)]
    assert d[0].max() > 127 and np.array_equal(d[1], np.minimum(d[0], 127))
    a = [_C.qadd_u8(x, x[::-1].copy(), 0.05, 30, 0.05, 10, 0.02, 60, False,
                    out_reduce_range=o) for o in (False, True)]
    assert a[0].max() > 127 and np.array_equal(a[1], np.minimum(a[0], 127))
    f = dl.tensor(rng.normal(0, 3, (2, 3, 5, 5)).astype(np.float32))
    q8 = quantize_per_tensor(f, 0.02, 60)
    q7 = quantize_per_tensor(f, 0.02, 60, reduce_range=True)
    assert q8.codes.max() > 127 and np.array_equal(q7.codes, np.minimum(q8.codes, 127))


def test_eager_prepare_convert_7bit():
    rng = np.random.default_rng(5)
    model = tq.QuantWrapper(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 1)))
    model.eval()
    model.qconfig = tq.get_default_qconfig("minmax", reduce_range=True)
    p = tq.prepare(model)
    for _ in range(2):
        p(dl.tensor(rng.normal(size=(2, 3, 9, 9)).astype(np.float32)))
    q = tq.convert(p)
    assert q.quant.reduce_range and q.module[0].reduce_range and q.module[2].reduce_range
    x = dl.tensor(rng.normal(size=(2, 3, 9, 9)).astype(np.float32))
    qx = q.quant(x)
    assert qx.reduce_range and qx.zero_point <= 127
    h = q.module[0](qx)
    assert isinstance(h, QTensor) and h.reduce_range
    with dl.no_grad():
        f = model(x).numpy()
    assert np.abs(q(x).numpy() - f).max() < 0.1 * np.abs(f).max()


def test_the_input_flag_picks_a_tile_not_a_result(isa):
    """a static conv / linear gives the same codes whether its input says reduce_range or not,
    including codes above 127 (a QTensor made by hand with the flag)"""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 6, 11, 11)).astype(np.float32)
    w = Q.Int8ConvWeight.from_float(rng.normal(size=(9, 6, 3, 3)).astype(np.float32))
    lw = Int8Weight.from_float(rng.normal(size=(5, 11)).astype(np.float32))
    for scale in (0.05, 0.01):        # 0.01: many codes past 127
        q8 = quantize_per_tensor(dl.tensor(x), scale, 60)
        q7 = QTensor(q8.codes, scale, 60, nhwc=True, reduce_range=True)
        a = Q.qconv2d(q8, w, None, 1, 1, 1, 0.1, 10, relu=True)
        b = Q.qconv2d(q7, w, None, 1, 1, 1, 0.1, 10, relu=True)
        assert np.array_equal(a.codes, b.codes)
        xl = x.reshape(-1, 11)
        la = Q.qlinear(quantize_per_tensor(dl.tensor(xl), scale, 60), lw, None, 0.2, 5)
        ql = quantize_per_tensor(dl.tensor(xl), scale, 60)
        lb = Q.qlinear(QTensor(ql.codes, scale, 60, reduce_range=True), lw, None, 0.2, 5)
        assert np.array_equal(la.codes, lb.codes)


# torch 2.13 (torch/ao/quantization/qconfig.py get_default_qconfig; torch/ao/nn/quantized/
# dynamic/modules/linear.py passes reduce_range=True to quantized::linear_dynamic)
TORCH_QCONFIG_REDUCE_RANGE = {"x86": True, "fbgemm": True, "onednn": False}


def test_default_reduce_range_is_torchs_per_backend_and_false_gives_8_bits():
    for backend, rr in TORCH_QCONFIG_REDUCE_RANGE.items():
        assert tq.get_default_qconfig(backend).activation().reduce_range is rr
        assert tq.get_default_qconfig(backend, reduce_range=False).activation().reduce_range \
            is False
        assert tq.get_default_qconfig(backend, reduce_range=True).activation().reduce_range
    assert not tq.get_default_qconfig("minmax").activation().reduce_range
    with pytest.raises(TypeError, match="reduce_range must be None, True or False"):
        tq.get_default_qconfig("x86", reduce_range=1)
    # quantize_static's default qconfig is torch's x86 one: 7-bit codes; explicit False: 8-bit
    rng = np.random.default_rng(4)
    model = small_cnn().eval()
    batches = [dl.tensor(rng.normal(size=(2, 3, 16, 16)).astype(np.float32)) for _ in range(2)]
    q_default = tq.quantize_static(model, batches)
    q8 = tq.quantize_static(model, batches, qconfig=tq.get_default_qconfig("x86",
                                                                          reduce_range=False))
    convs = lambda m: [c for c in m.modules() if isinstance(c, (nnq.Conv2d, nnq.Quantize))]  # noqa
    assert convs(q_default) and all(c.reduce_range for c in convs(q_default))
    assert convs(q8) and not any(c.reduce_range for c in convs(q8))
    x = dl.tensor(rng.normal(size=(2, 3, 16, 16)).astype(np.float32))
    quant = [m for m in q8.modules() if isinstance(m, nnq.Quantize)][0]
    assert quant(x).codes.max() > 127          # the 8-bit input codes use the upper half
    quant7 = [m for m in q_default.modules() if isinstance(m, nnq.Quantize)][0]
    assert quant7(x).codes.max() <= 127


def test_dynamic_default_stays_8_bit_and_reduce_range_gives_7():
    """quantize_dynamic keeps 8-bit activations by default, unlike torch's dynamic Linear
    (7 bits per tensor): at 7 bits MiniLM's sentence embeddings miss the 0.99 cosine bar
    (docs/quantization.md)"""
    rng = np.random.default_rng(6)
    model = nn.Sequential(nn.Linear(33, 17))
    x = (rng.standard_normal((4, 33)) * 2).astype(np.float32)
    for kw, qmax in (({}, 255), ({"reduce_range": False}, 255), ({"reduce_range": True}, 127)):
        q = tq.quantize_dynamic(model, {nn.Linear}, **kw)[0]
        assert q.reduce_range is (qmax == 127)
        w, b = model[0].weight.numpy(), model[0].bias.numpy()
        ref8, mag = int8_reference_7bit(x, w, b, qmax=255)
        ref7, _ = int8_reference_7bit(x, w, b, qmax=127)
        y = q(dl.tensor(x)).numpy()
        want, other = (ref7, ref8) if qmax == 127 else (ref8, ref7)
        assert np.all(np.abs(y - want) <= 1e-5 * mag + 1e-6)
        assert not np.all(np.abs(y - other) <= 1e-5 * mag + 1e-6)


def test_torch_defaults_are_the_recorded_ones():
    """what DEFAULT_REDUCE_RANGE and the docs say torch does: its get_default_qconfig's
    activation observers, and its dynamic Linear quantizing activations per tensor to 0..127
    (its output is a NumPy model of that arithmetic, not of the 8-bit one)"""
    torch = pytest.importorskip("torch")
    import warnings
    from dlcore.quantization.qconfig import DEFAULT_REDUCE_RANGE
    tqz = torch.ao.quantization
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for backend, rr in TORCH_QCONFIG_REDUCE_RANGE.items():
            assert tqz.get_default_qconfig(backend).activation().reduce_range is rr
            assert DEFAULT_REDUCE_RANGE[backend] is rr
        saved = torch.backends.quantized.engine
        try:
            engines = [e for e in ("x86", "fbgemm")
                       if e in torch.backends.quantized.supported_engines]
            if not engines:
                pytest.skip("torch has no x86 quantized engine here")
            for engine in engines:
                torch.backends.quantized.engine = engine
                torch.manual_seed(0)
                q = tqz.quantize_dynamic(torch.nn.Sequential(torch.nn.Linear(48, 13)),
                                         {torch.nn.Linear}, dtype=torch.qint8)[0]
                x = torch.randn(6, 48) * 3
                y = q(x).detach().numpy().astype(np.float64)
                w = q.weight()
                wd = w.int_repr().numpy().astype(np.float64) * w.q_scale()
                xn = x.numpy().astype(np.float64)
                err = {}
                for qmax in (127, 255):
                    lo, hi = min(xn.min(), 0.0), max(xn.max(), 0.0)
                    s = (hi - lo) / qmax
                    z = np.clip(np.rint(-lo / s), 0, qmax)
                    xq = np.clip(np.rint(xn / s) + z, 0, qmax)
                    ref = ((xq - z) * s) @ wd.T + q.bias().detach().numpy()
                    err[qmax] = np.abs(ref - y).max() / np.abs(y).max()
                assert err[127] < 1e-5 < err[255], (engine, err)
        finally:
            torch.backends.quantized.engine = saved
