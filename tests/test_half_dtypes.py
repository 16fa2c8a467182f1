"""dl.bfloat16 / dl.float16 tensors against torch: conversions bit for bit, promotion, 16-bit
elementwise math and reductions (computed in float32, rounded once), the bf16 GEMM behind
matmul/linear/conv2d, gradients in each parameter's dtype, and 16-bit models."""
import itertools
import operator

import numpy as np
import pytest

import dlcore as dl
import dlcore.nn as nn
import dlcore.nn.functional as F

torch = pytest.importorskip("torch")

HALF = ["bfloat16", "float16"]


def to_torch(t, requires_grad=False):
    """A torch tensor with exactly t's values and dtype (16-bit words copied, not rounded)."""
    a = t.detach().numpy()
    if a.dtype == dl.bfloat16:
        out = torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)
    else:
        out = torch.from_numpy(a.copy())
    return out.requires_grad_(requires_grad)


def as_f64(t):
    if isinstance(t, torch.Tensor):
        return t.detach().double().numpy()
    return t.detach().double().numpy()


def special_floats(rng):
    """Normal values over float32's range, ties of both roundings, denormals, inf, NaN."""
    x = (rng.standard_normal(300) * 10.0 ** rng.integers(-44, 39, 300)).astype(np.float32)
    extra = np.array([0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 1e-39, 3e-41,
                      np.finfo(np.float32).max, -np.finfo(np.float32).max,
                      np.finfo(np.float32).tiny, 65504, 65519.99, 65520, 6e-8, 3e-8, 2.98e-8,
                      1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, 1.0 + 2.0 ** -11], np.float32)
    ties = (np.arange(1, 200, dtype=np.uint32) << 16 | 0x8000).view(np.float32)
    return np.concatenate([x, extra, ties, -ties * 3.0])


# ---- the dtypes themselves ----------------------------------------------------------------------
def test_names_and_basic_properties():
    assert dl.half == dl.float16 and dl.bfloat16 != dl.float16
    for dt in (dl.bfloat16, dl.float16):
        z = dl.zeros(2, 3, dtype=dt)
        assert z.dtype == dt and z.is_floating_point() and z.element_size() == 2
        assert dl.ones(3, dtype=dt).numpy().dtype == dt
        assert dl.full((2,), 1.5, dtype=dt).tolist() == [1.5, 1.5]
    x = dl.tensor([1.0, 2.5, -3.0]).bfloat16()
    assert repr(x) == "tensor([ 1.0000,  2.5000, -3.0000], dtype=dl.bfloat16)"  # as torch prints it
    assert x.half().dtype == dl.float16 and x.float().dtype == dl.float32
    assert x.to(dl.float64).dtype == dl.float64 and x.to(dtype=dl.float16).dtype == dl.float16
    assert str(dl.tensor([1.0]).half()).endswith("dtype=dl.float16)")


def test_shape_and_indexing_ops_keep_the_dtype():
    x = dl.arange(24.0).reshape(2, 3, 4).bfloat16()
    for y in (x[1], x[:, 1:, ::2], x[x > 5], x.T, x.reshape(6, 4), x.permute(2, 0, 1),
              x.flatten(), x.unsqueeze(0), x.expand(3, 2, 3, 4), dl.cat([x, x], 1),
              dl.stack([x, x]), x.transpose(0, 1).contiguous(), x.clone(), x.detach(),
              x.split(1, 0)[0], x.chunk(2, 2)[1], dl.where(x > 3, x, x * 0)):
        assert y.dtype == dl.bfloat16
    np.testing.assert_array_equal(x[1, 2].float().numpy(), np.arange(20, 24.0))
    assert x.sum().item() == 276.0


# ---- conversions, bit for bit against torch ------------------------------------------------------
@pytest.mark.parametrize("name", HALF)
def test_float32_to_16_bit_matches_torch_bit_for_bit(name, rng, isa):
    x = special_floats(rng)
    got = dl.from_numpy(x).to(getattr(dl, name)).numpy().view(np.uint16)
    ref = torch.from_numpy(x).to(getattr(torch, name)).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(got, ref)
    # NaN stays NaN (torch's own scalar and vector paths disagree on the NaN's bit pattern)
    nan = dl.tensor([np.nan, -np.nan]).to(getattr(dl, name)).float().numpy()
    assert np.isnan(nan).all()


@pytest.mark.parametrize("name", HALF)
def test_16_bit_to_float32_is_exact(name, rng, isa):
    words = np.arange(0, 1 << 16, dtype=np.uint16)  # every 16-bit pattern
    t = torch.from_numpy(words.view(np.int16).copy()).view(getattr(torch, name))
    ref = t.float().numpy()
    got = dl.from_numpy(words.view(getattr(dl, name))).float().numpy()
    nan = np.isnan(ref)
    np.testing.assert_array_equal(got[~nan].view(np.uint32), ref[~nan].view(np.uint32))
    assert np.isnan(got[nan]).all()


def test_cast_is_differentiable_and_grads_come_back_in_each_dtype():
    w = dl.randn(3, 4, requires_grad=True)
    y = (w.bfloat16() * 2.0).sum()
    y.backward()
    assert w.grad.dtype == dl.float32
    np.testing.assert_array_equal(w.grad.numpy(), np.full((3, 4), 2.0, np.float32))
    h = dl.randn(5).half().requires_grad_()
    (h.float() ** 2).sum().backward()
    assert h.grad.dtype == dl.float16


# ---- promotion ----------------------------------------------------------------------------------
KINDS = [("dim", "bfloat16"), ("dim", "float16"), ("zero", "bfloat16"), ("zero", "float16"),
         ("dim", "float32"), ("zero", "float32"), ("dim", "float64"), ("dim", "int64"),
         ("zero", "int64"), ("dim", "bool"), ("pyint", None), ("pyfloat", None)]
PAIRS = [(a, b) for a, b in itertools.product(KINDS, KINDS)
         if (a[1] in HALF or b[1] in HALF) and not (a[1] is None and b[1] is None)]
VALUES = {"bfloat16": [1.5, -2.25, 3.0], "float16": [0.75, 2.5, -1.0],
          "float32": [1.25, 2.0, -0.5], "float64": [0.5, 2.0, -1.75], "int64": [2, 3, -1],
          "bool": [True, False, True]}


def _operand(kind, dtype, lib):
    if kind == "pyint":
        return 3
    if kind == "pyfloat":
        return 0.3
    data = VALUES[dtype] if kind == "dim" else VALUES[dtype][0]
    return lib.tensor(data, dtype=getattr(lib, dtype))


@pytest.mark.parametrize("op", ["add", "mul", "truediv", "lt", "maximum"])
@pytest.mark.parametrize("a,b", PAIRS, ids=["%s-%s__%s-%s" % (*a, *b) for a, b in PAIRS])
def test_promotion_and_values_match_torch(a, b, op):
    fn = {"add": operator.add, "mul": operator.mul, "truediv": operator.truediv,
          "lt": operator.lt}.get(op)
    if fn is None:
        if a[0] not in ("dim", "zero") or b[0] not in ("dim", "zero"):
            pytest.skip("maximum takes two tensors")
        fn = lambda x, y: x.maximum(y)  # noqa: E731
    try:
        ref = fn(_operand(*a, torch), _operand(*b, torch))
    except Exception as e:  # noqa: BLE001 - where torch raises, we must raise too
        with pytest.raises(Exception):
            fn(_operand(*a, dl), _operand(*b, dl))
        return
    got = fn(_operand(*a, dl), _operand(*b, dl))
    assert str(got.dtype) == str(ref.dtype).replace("torch.", ""), (got.dtype, ref.dtype)
    np.testing.assert_allclose(as_f64(got), as_f64(ref), rtol=1e-2)


def test_promote_types_table():
    for x, y, want in [("bfloat16", "float16", "float32"), ("bfloat16", "float32", "float32"),
                       ("float16", "float64", "float64"), ("bfloat16", "int64", "bfloat16"),
                       ("bool", "float16", "float16"), ("bfloat16", "bfloat16", "bfloat16")]:
        got = dl.promote_types(getattr(dl, x), getattr(dl, y))
        assert got == getattr(dl, want)
        assert str(torch.promote_types(getattr(torch, x), getattr(torch, y))) == "torch." + want


# ---- elementwise math and reductions: float32 inside, one rounding ------------------------------
UNARY = ["exp", "log", "sqrt", "tanh", "sigmoid", "abs", "neg", "sin", "reciprocal", "relu"]


@pytest.mark.parametrize("name", HALF)
@pytest.mark.parametrize("op", UNARY)
def test_unary_ops_round_the_float32_result(name, op, rng):
    x = dl.from_numpy((rng.random(257) * 4 + 0.1).astype(np.float32)).to(getattr(dl, name))
    got = getattr(x, op)()
    ref = getattr(to_torch(x), op)()
    assert got.dtype == x.dtype
    # the float32 function rounded once: equal, or one unit apart where float32 libm values sit
    # on either side of a rounding boundary
    ulp = 2.0 ** -7 if name == "bfloat16" else 2.0 ** -10
    np.testing.assert_allclose(as_f64(got), as_f64(ref), rtol=ulp, atol=1e-30)
    assert np.mean(as_f64(got) == as_f64(ref)) > 0.95


@pytest.mark.parametrize("name", HALF)
def test_binary_ops_on_two_16_bit_tensors_are_exact(name, rng):
    dt, tdt = getattr(dl, name), getattr(torch, name)
    a = dl.from_numpy(rng.standard_normal(1001).astype(np.float32)).to(dt)
    b = dl.from_numpy(rng.standard_normal(1001).astype(np.float32)).to(dt)
    for fn in (operator.add, operator.sub, operator.mul, operator.truediv):
        got, ref = fn(a, b), fn(to_torch(a), to_torch(b))
        assert ref.dtype == tdt and got.dtype == dt
        np.testing.assert_array_equal(got.numpy().view(np.uint16),
                                      ref.view(torch.int16).numpy().view(np.uint16))


@pytest.mark.parametrize("name", HALF)
@pytest.mark.parametrize("number", [0.1, 3.3, 1e-3, 3, 1001])
def test_ops_with_a_number_match_torch_bit_for_bit(name, number, rng):
    # torch multiplies/divides by the number in float32 but rounds it to 16 bits for add/sub,
    # and number / x is x.reciprocal() * number
    dt, tdt = getattr(dl, name), getattr(torch, name)
    a = dl.from_numpy(rng.standard_normal(4001).astype(np.float32)).to(dt)
    ta = to_torch(a)
    for fn in (lambda x: x * number, lambda x: number * x, lambda x: x / number,
               lambda x: number / x, lambda x: x + number, lambda x: number - x,
               lambda x: x.reciprocal()):
        got, ref = fn(a), fn(ta)
        assert got.dtype == dt and ref.dtype == tdt
        np.testing.assert_array_equal(got.float().numpy(), ref.float().numpy())


@pytest.mark.parametrize("name", HALF)
def test_reductions_accumulate_in_float32(name, rng):
    dt = getattr(dl, name)
    x = dl.from_numpy((rng.random((64, 300)) + 0.5).astype(np.float32)).to(dt)
    tx = to_torch(x)
    # in 16 bits a running sum of 19200 values near 1 would stop growing long before the end
    for got, ref in ((x.sum(), tx.sum()), (x.mean(1), tx.mean(1)), (x.sum(0), tx.sum(0)),
                     (x.var(1), tx.var(1)), (x.norm(), tx.norm()), (x.cumsum(1), tx.cumsum(1)),
                     (x.logsumexp(1), tx.logsumexp(1))):
        assert got.dtype == dt
        np.testing.assert_allclose(as_f64(got), as_f64(ref), rtol=1e-2)
    assert x.sum(dtype=dl.float32).dtype == dl.float32


@pytest.mark.parametrize("name", HALF)
def test_nn_functional_on_16_bit_inputs(name, rng):
    dt, tdt = getattr(dl, name), getattr(torch, name)
    x = dl.from_numpy(rng.standard_normal((4, 3, 6, 6)).astype(np.float32)).to(dt)
    x2 = dl.from_numpy(rng.standard_normal((8, 10)).astype(np.float32)).to(dt)
    t = dl.tensor([0, 3, 9, 1, 2, 2, 5, 7])
    cases = [
        (lambda m, a: m.softmax(a, -1), x2), (lambda m, a: m.log_softmax(a, 1), x2),
        (lambda m, a: m.gelu(a), x2), (lambda m, a: m.silu(a), x2),
        (lambda m, a: m.layer_norm(a, (10,)), x2), (lambda m, a: m.max_pool2d(a, 2), x),
        (lambda m, a: m.avg_pool2d(a, 2), x), (lambda m, a: m.adaptive_avg_pool2d(a, 1), x),
        (lambda m, a: m.group_norm(a, 3), x),
        (lambda m, a: m.cross_entropy(a, t if m is F else torch.from_numpy(t.numpy())), x2),
        (lambda m, a: m.mse_loss(a, a * 0.5), x2),
    ]
    for fn, a in cases:
        got, ref = fn(F, a), fn(torch.nn.functional, to_torch(a))
        assert ref.dtype == tdt and got.dtype == dt
        np.testing.assert_allclose(as_f64(got), as_f64(ref), rtol=2e-2, atol=2e-2)


def test_in_place_activation_on_a_16_bit_tensor_writes_the_input():
    x = dl.tensor([-1.0, 2.0, -3.0]).bfloat16()
    y = F.relu(x, inplace=True)
    assert y is x and x.tolist() == [0.0, 2.0, 0.0]


def test_batch_norm_updates_16_bit_running_stats():
    bn = nn.BatchNorm2d(3).bfloat16()
    x = (dl.randn(8, 3, 4, 4) * 2 + 1).bfloat16()
    y = bn(x)
    assert y.dtype == dl.bfloat16 and bn.running_mean.dtype == dl.bfloat16
    tbn = torch.nn.BatchNorm2d(3).bfloat16()
    ty = tbn(to_torch(x))
    np.testing.assert_allclose(bn.running_mean.float().numpy(),
                               tbn.running_mean.float().numpy(), rtol=1e-2, atol=1e-3)
    np.testing.assert_allclose(as_f64(y), as_f64(ty), rtol=2e-2, atol=2e-2)


# ---- matmul / linear / conv2d: bf16 GEMM (float16: float32 GEMM), against torch ----------------
def _rel_err(got, ref):
    g, r = as_f64(got), as_f64(ref)
    return np.abs(g - r).max() / max(np.abs(r).max(), 1e-30)


@pytest.mark.parametrize("name", HALF)
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 17, 5), (33, 100, 31), (64, 129, 48)])
def test_linear_forward_and_backward_match_torch(name, m, k, n, rng, isa):
    dt = getattr(dl, name)
    x = dl.from_numpy(rng.standard_normal((m, k)).astype(np.float32)).to(dt).requires_grad_()
    w = dl.from_numpy(rng.standard_normal((n, k)).astype(np.float32)).to(dt).requires_grad_()
    b = dl.from_numpy(rng.standard_normal(n).astype(np.float32)).to(dt).requires_grad_()
    tx, tw, tb = to_torch(x, True), to_torch(w, True), to_torch(b, True)
    y = F.linear(x, w, b)
    ty = torch.nn.functional.linear(tx, tw, tb)
    assert y.dtype == dt
    gy = dl.from_numpy(rng.standard_normal((m, n)).astype(np.float32)).to(dt)
    y.backward(gy)
    ty.backward(to_torch(gy))
    # float32 sums rounded once to 16 bits: within a unit or two of the 16-bit result
    tol = 2 * 2.0 ** -8 if name == "bfloat16" else 2 * 2.0 ** -11
    for got, ref in ((y, ty), (x.grad, tx.grad), (w.grad, tw.grad), (b.grad, tb.grad)):
        assert got.dtype == dt
        assert _rel_err(got, ref) <= tol


@pytest.mark.parametrize("shape_a,shape_b", [((5, 7), (7, 3)), ((2, 4, 9), (9, 6)),
                                             ((3, 1, 4, 5), (2, 5, 6)), ((8,), (8, 3))])
def test_bf16_matmul_shapes_match_torch(shape_a, shape_b, rng):
    a = dl.from_numpy(rng.standard_normal(shape_a).astype(np.float32)).bfloat16()
    b = dl.from_numpy(rng.standard_normal(shape_b).astype(np.float32)).bfloat16()
    got, ref = a @ b, to_torch(a) @ to_torch(b)
    assert got.dtype == dl.bfloat16 and tuple(got.shape) == tuple(ref.shape)
    assert _rel_err(got, ref) <= 2 * 2.0 ** -8


@pytest.mark.parametrize("name", HALF)
@pytest.mark.parametrize("channels", [4, 16])
@pytest.mark.parametrize("conf", [dict(), dict(stride=2, padding=1), dict(padding="same", groups=2),
                                  dict(dilation=2, padding=(1, 2)), dict(kernel=1),
                                  dict(kernel=(2, 5), stride=(1, 2), padding=(0, 2))])
def test_conv2d_forward_and_backward_match_torch(name, channels, conf, rng, isa):
    dt = getattr(dl, name)
    conf = dict(conf)
    kernel = conf.pop("kernel", 3)
    kernel = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    x = dl.from_numpy(rng.standard_normal((2, channels, 9, 11)).astype(np.float32)).to(dt)
    w = dl.from_numpy(rng.standard_normal((6, channels // conf.get("groups", 1)) + kernel)
                      .astype(np.float32)).to(dt)
    b = dl.from_numpy(rng.standard_normal(6).astype(np.float32)).to(dt)
    x.requires_grad_(), w.requires_grad_(), b.requires_grad_()
    tx, tw, tb = to_torch(x, True), to_torch(w, True), to_torch(b, True)
    y = F.conv2d(x, w, b, **conf)
    ty = torch.nn.functional.conv2d(tx, tw, tb, **conf)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    tol = 4 * 2.0 ** -8 if name == "bfloat16" else 4 * 2.0 ** -11
    for got, ref in ((y, ty), (x.grad, tx.grad), (w.grad, tw.grad), (b.grad, tb.grad)):
        assert got.dtype == dt
        assert _rel_err(got, ref) <= tol


def test_bf16_conv2d_takes_the_bf16_gemm_where_chosen(monkeypatch):
    calls = []
    real = dl.ops.bf16_matmul.Conv2dBF16.forward
    monkeypatch.setattr(dl.ops.bf16_matmul.Conv2dBF16, "forward",
                        lambda self, *a: calls.append(self.w_shape) or real(self, *a))
    x = dl.randn(2, 16, 9, 11).bfloat16()
    F.conv2d(x, dl.randn(8, 16, 3, 3).bfloat16(), stride=2)  # im2col in float32 too: bf16 GEMM
    F.conv2d(x, dl.randn(16, 1, 3, 3).bfloat16(), groups=16)  # depthwise: the float32 kernel
    F.conv2d(x[:, :4], dl.randn(8, 4, 3, 3).bfloat16())  # 4 channels: the float32 kernel
    assert calls == [(8, 16, 3, 3)]


def test_mixed_dtypes_in_linear_raise_as_torch():
    x, w = dl.randn(2, 3), dl.randn(4, 3).bfloat16()
    with pytest.raises(TypeError, match="dtype"):
        F.linear(x, w)
    with pytest.raises(RuntimeError):
        torch.nn.functional.linear(torch.randn(2, 3), torch.randn(4, 3).bfloat16())


# ---- 16-bit models for inference ----------------------------------------------------------------
def _cnn(lib):
    n = lib.nn
    return n.Sequential(n.Conv2d(3, 8, 3, padding=1), n.BatchNorm2d(8), n.ReLU(), n.MaxPool2d(2),
                        n.Flatten(), n.Linear(8 * 4 * 4, 10))


@pytest.mark.parametrize("name,method", [("bfloat16", "bfloat16"), ("float16", "half"),
                                         ("bfloat16", "to")])
def test_model_to_16_bit_stores_16_bit_weights_and_matches_torch(name, method, rng):
    model, tmodel = _cnn(dl), _cnn(torch)
    model.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
    model.eval(), tmodel.eval()
    dt, tdt = getattr(dl, name), getattr(torch, name)
    if method == "to":
        model.to(dt), tmodel.to(tdt)
    else:
        getattr(model, method)(), getattr(tmodel, method)()
    assert all(p.dtype == dt for p in model.parameters())
    assert model[1].running_var.dtype == dt
    x = dl.from_numpy(rng.standard_normal((4, 3, 8, 8)).astype(np.float32)).to(dt)
    with dl.no_grad():
        y = model(x)
    ty = tmodel(to_torch(x))
    assert y.dtype == dt
    np.testing.assert_allclose(as_f64(y), as_f64(ty.detach()), rtol=5e-2, atol=5e-2)
    model.float()
    assert all(p.dtype == dl.float32 for p in model.parameters())


def test_16_bit_state_dict_saves_in_16_bits_and_loads_back(tmp_path):
    model = _cnn(dl).bfloat16()
    path = tmp_path / "bf16.safetensors"
    dl.save(model.state_dict(), path)
    back = dl.load(path)
    for k, v in model.state_dict().items():
        assert back[k].dtype == v.dtype, k
        np.testing.assert_array_equal(back[k].numpy().reshape(-1).view(np.uint8),
                                      v.numpy().reshape(-1).view(np.uint8))
    from safetensors.torch import load_file  # torch reads the file as bfloat16 too
    tsd = load_file(str(path))
    assert tsd["0.weight"].dtype == torch.bfloat16
    np.testing.assert_array_equal(tsd["0.weight"].float().numpy(),
                                  model[0].weight.float().numpy())
    fresh = _cnn(dl).bfloat16()
    fresh.load_state_dict(back)
    x = dl.randn(2, 3, 8, 8).bfloat16()
    model.eval(), fresh.eval()
    with dl.no_grad():
        np.testing.assert_array_equal(fresh(x).float().numpy(), model(x).float().numpy())


@pytest.mark.parametrize("name", HALF)
@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_16_bit_recurrent_layers_match_torch(name, mode, rng):
    layer, tlayer = getattr(nn, mode)(6, 5, batch_first=True), getattr(torch.nn, mode)(
        6, 5, batch_first=True)
    layer.load_state_dict({k: v.detach().numpy() for k, v in tlayer.state_dict().items()})
    dt, tdt = getattr(dl, name), getattr(torch, name)
    layer.to(dt), tlayer.to(tdt)
    x = dl.from_numpy(rng.standard_normal((3, 7, 6)).astype(np.float32)).to(dt)
    out, _ = layer(x)
    tout, _ = tlayer(to_torch(x))
    assert out.dtype == dt and layer.weight_hh_l0.dtype == dt
    np.testing.assert_allclose(as_f64(out), as_f64(tout), rtol=3e-2, atol=3e-2)
