"""dlcore.ops.quantized and nn.QuantizedLinear / nn.QuantizedEmbedding: the op against NumPy
(dequantise with dlcore.weights' NumPy code, then matmul) on odd sizes and every SIMD path,
gradients, quantisation error, argument errors, and the layers' state_dict round trip."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.autograd import gradcheck
from dlcore.ops.quantized import (QUANT_KINDS, dequantize, quantize, quantized_embedding,
                                  quantized_linear, row_bytes)
from dlcore.weights.quant import dequantize as np_dequantize

from test_qgemv import random_blocks

KINDS = list(QUANT_KINDS)


def reference(x, raw, kind, bias=None):
    """float64 x @ W.T (+ bias) with W dequantised by NumPy."""
    N, K = raw.shape[0], x.shape[-1]
    W = np_dequantize(raw, kind, (N, K)).astype(np.float64)
    y = x.astype(np.float64) @ W.T
    return y if bias is None else y + bias, W


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lead,N,K", [((1,), 1, 32), ((1,), 7, 64), ((3,), 17, 96),
                                      ((2, 5), 33, 160), ((1,), 100, 32 * 7), ((4,), 45, 576)])
def test_quantized_linear_matches_numpy(kind, lead, N, K, isa, threads, rng):
    raw = random_blocks(rng, kind, N, K)
    x = rng.standard_normal(lead + (K,)).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32)
    for bias in (None, b):
        y = quantized_linear(dl.tensor(x), dl.tensor(raw), kind,
                             None if bias is None else dl.tensor(bias))
        ref, W = reference(x, raw, kind, bias)
        assert y.shape == lead + (N,) and y.dtype == np.float32
        tol = 1e-5 * (np.abs(x).astype(np.float64) @ np.abs(W).T) + 1e-5
        assert np.all(np.abs(y.numpy() - ref) <= tol)


@pytest.mark.parametrize("kind", KINDS)
def test_float64_path_and_gradients(kind, rng):
    raw = dl.tensor(random_blocks(rng, kind, 5, 64))
    x = dl.tensor(rng.standard_normal((3, 64)), dtype=dl.float64, requires_grad=True)
    b = dl.tensor(rng.standard_normal(5), dtype=dl.float64, requires_grad=True)
    ref, W = reference(x.numpy(), raw.numpy(), kind, b.numpy())
    np.testing.assert_allclose(quantized_linear(x, raw, kind, b).numpy(), ref, rtol=1e-12,
                               atol=1e-12)
    assert gradcheck(lambda x, b: quantized_linear(x, raw, kind, b), (x, b))


def test_float32_input_gradient(rng):
    raw = dl.tensor(random_blocks(rng, "Q4_1", 9, 96))
    x = dl.tensor(rng.standard_normal((2, 4, 96)).astype(np.float32), requires_grad=True)
    b = dl.tensor(np.zeros(9, np.float32), requires_grad=True)
    g = rng.standard_normal((2, 4, 9)).astype(np.float32)
    quantized_linear(x, raw, "Q4_1", b).backward(dl.tensor(g))
    _, W = reference(x.numpy(), raw.numpy(), "Q4_1")
    np.testing.assert_allclose(x.grad.numpy(), g.astype(np.float64) @ W, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), g.sum(axis=(0, 1)), rtol=1e-5, atol=1e-5)


def test_empty_batch_and_no_outputs(rng):
    raw = dl.tensor(random_blocks(rng, "Q8_0", 4, 64))
    assert quantized_linear(dl.zeros(0, 64), raw, "Q8_0").shape == (0, 4)
    none = dl.tensor(np.zeros((0, row_bytes(64, "Q8_0")), np.uint8))
    assert quantized_linear(dl.ones(2, 64), none, "Q8_0").shape == (2, 0)


@pytest.mark.parametrize("kind", KINDS)
def test_dequantize_and_embedding_match_numpy(kind, isa, rng):
    raw = random_blocks(rng, kind, 13, 96)
    W = np_dequantize(raw, kind, (13, 96))
    np.testing.assert_array_equal(dequantize(dl.tensor(raw), kind).numpy(), W)
    idx = np.array([[3, 0, 12], [3, 7, 1]])
    rows = quantized_embedding(dl.tensor(idx), dl.tensor(raw), kind)
    assert rows.shape == (2, 3, 96)
    np.testing.assert_array_equal(rows.numpy(), W[idx])


@pytest.mark.parametrize("kind", KINDS)
def test_quantize_error_within_the_format(kind, rng):
    w = rng.standard_normal((7, 160)).astype(np.float32) * np.linspace(0.01, 3, 7)[:, None]
    w[3, 32:64] = 0.0                          # an all-zero block: scale 0, exact zeros back
    q = quantize(w, kind).numpy()
    assert q.dtype == np.uint8 and q.shape == (7, row_bytes(160, kind))
    back = np_dequantize(q, kind, w.shape)
    blocks = w.reshape(7, 5, 32)
    err = np.abs(back - w).reshape(7, 5, 32).max(axis=2)
    if kind == "Q8_0":        # d = max|w| / 127, codes round to nearest
        bound = np.abs(blocks).max(axis=2) / 127 * 0.5
    elif kind == "Q4_1":      # d = (max - min) / 15, codes round to nearest
        bound = (blocks.max(axis=2) - blocks.min(axis=2)) / 15 * 0.5
    else:                     # d = peak / -8: the side opposite the peak is clipped at 7 d
        bound = np.abs(blocks).max(axis=2) / 8
    # the scale (and Q4_1's minimum) are stored as float16: 2^-11 relative error each
    assert np.all(err <= bound * 1.01 + np.abs(blocks).max(axis=2) * 2e-3 + 1e-7)
    assert np.all(back[3, 32:64] == 0)


def test_quantize_q8_0_is_idempotent(rng):
    q = quantize(rng.standard_normal((5, 96)), "Q8_0").numpy()
    again = quantize(np_dequantize(q, "Q8_0", (5, 96)), "Q8_0").numpy()
    np.testing.assert_array_equal(again, q)


def test_argument_errors(rng):
    raw = dl.tensor(random_blocks(rng, "Q4_1", 4, 64))
    x = dl.ones(1, 64)
    with pytest.raises(ValueError, match="quantized_linear: kind must be one of"):
        quantized_linear(x, raw, "Q5_K")
    with pytest.raises(TypeError, match="quantized_linear: input must be a Tensor"):
        quantized_linear(np.ones((1, 64), np.float32), raw, "Q4_1")
    with pytest.raises(TypeError, match="input must be float32 or float64, got int64"):
        quantized_linear(dl.tensor(np.ones((1, 64), np.int64)), raw, "Q4_1")
    with pytest.raises(ValueError, match="in_features=64"):
        quantized_linear(dl.ones(1, 96), raw, "Q4_1")
    with pytest.raises(TypeError, match="weight must be a 2-D uint8"):
        quantized_linear(x, dl.ones(4, 40), "Q4_1")
    with pytest.raises(ValueError, match="not whole 20-byte Q4_1 blocks"):
        quantized_linear(x, dl.tensor(raw.numpy()[:, :30]), "Q4_1")
    with pytest.raises(ValueError, match=r"bias must be float32 of shape \(4,\)"):
        quantized_linear(x, raw, "Q4_1", dl.ones(5))
    with pytest.raises(TypeError, match="bias must be a Tensor"):
        quantized_linear(x, raw, "Q4_1", np.ones(4, np.float32))
    with pytest.raises(ValueError, match="dequantize: kind"):
        dequantize(raw, "F16")
    with pytest.raises(IndexError, match="index 4 is out of range for 4 embeddings"):
        quantized_embedding(dl.tensor([0, 4]), raw, "Q4_1")
    with pytest.raises(TypeError, match="integer indices"):
        quantized_embedding(dl.tensor([0.5]), raw, "Q4_1")
    with pytest.raises(ValueError, match="multiple of 32"):
        quantize(np.ones((2, 40)), "Q8_0")
    with pytest.raises(TypeError, match="2-D float matrix"):
        quantize(np.ones(64), "Q8_0")
    with pytest.raises(ValueError, match="NaN or Inf"):
        quantize(np.full((1, 32), np.nan), "Q4_0")
    with pytest.raises(ValueError, match="float16's range"):
        quantize(np.full((1, 32), 1e9), "Q8_0")
    with pytest.raises(ValueError, match="row_bytes: in_features must be"):
        row_bytes(33, "Q8_0")


# ---- layers ----
@pytest.mark.parametrize("kind", KINDS)
def test_linear_from_float(kind, rng):
    lin = dl.nn.Linear(96, 11)
    q = dl.nn.QuantizedLinear.from_float(lin, kind)
    assert (q.in_features, q.out_features, q.kind) == (96, 11, kind)
    np.testing.assert_array_equal(q.weight.numpy(), quantize(lin.weight, kind).numpy())
    np.testing.assert_array_equal(q.bias.numpy(), lin.bias.numpy())
    x = dl.tensor(rng.standard_normal((4, 96)).astype(np.float32))
    W = q.dequantize().numpy().astype(np.float64)
    ref = x.numpy() @ W.T + lin.bias.numpy()
    np.testing.assert_allclose(q(x).numpy(), ref, rtol=1e-4, atol=1e-5)
    # against the float layer: the weight error of the format, summed over the inputs
    dw = np.abs(W - lin.weight.numpy()).max()
    err = np.abs(q(x).numpy() - lin(x).detach().numpy()).max()
    assert err <= dw * np.abs(x.numpy()).sum(axis=1).max() + 1e-5
    assert repr(q) == "QuantizedLinear(in_features=96, out_features=11, kind=%s, bias=True)" % kind


def test_linear_state_dict_round_trip(tmp_path, rng):
    q = dl.nn.QuantizedLinear.from_float(dl.nn.Linear(64, 9), "Q4_1")
    sd = q.state_dict()
    assert list(sd) == ["bias", "weight", "weight_type"]
    assert sd["weight"].dtype == np.uint8 and int(sd["weight_type"].item()) == 3
    path = str(tmp_path / "q.safetensors")
    dl.save(sd, path)
    fresh = dl.nn.QuantizedLinear(64, 9, kind="Q4_1")
    assert np.all(fresh.dequantize().numpy() == 0)
    fresh.load_state_dict(dl.load(path))
    x = dl.tensor(rng.standard_normal((2, 64)).astype(np.float32))
    np.testing.assert_array_equal(fresh(x).numpy(), q(x).numpy())
    # another block format has rows of another length: refused with both shapes
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        dl.nn.QuantizedLinear(64, 9, kind="Q8_0").load_state_dict(dl.load(path))


def test_linear_weight_type_decides_the_format(rng):
    q = dl.nn.QuantizedLinear(64, 3, bias=False, kind="Q4_0")
    sd = q.state_dict()
    sd["weight_type"] = dl.tensor(np.array(5))
    q.load_state_dict(sd)
    with pytest.raises(ValueError, match="weight_type 5 is not a supported GGML type id"):
        q(dl.ones(1, 64))


def test_linear_trains_its_bias_not_its_blocks(rng):
    q = dl.nn.QuantizedLinear.from_float(dl.nn.Linear(32, 4), "Q8_0")
    blocks = q.weight.numpy().copy()
    assert [n for n, _ in q.named_parameters()] == ["bias"]
    opt = dl.optim.SGD(q.parameters(), lr=0.1)
    x = dl.tensor(rng.standard_normal((8, 32)).astype(np.float32), requires_grad=True)
    loss = (q(x) ** 2).mean()
    loss.backward()
    assert q.bias.grad is not None and x.grad is not None
    opt.step()
    np.testing.assert_array_equal(q.weight.numpy(), blocks)


@pytest.mark.parametrize("kind", KINDS)
def test_embedding_from_float_and_round_trip(kind, tmp_path):
    emb = dl.nn.Embedding(20, 64)
    q = dl.nn.QuantizedEmbedding.from_float(emb, kind)
    idx = dl.tensor([[1, 19], [0, 1]])
    W = q.dequantize().numpy()
    np.testing.assert_array_equal(q(idx).numpy(), W[idx.numpy()])
    assert np.abs(W - emb.weight.numpy()).max() <= np.abs(emb.weight.numpy()).max() / 7
    path = str(tmp_path / "e.safetensors")
    dl.save(q.state_dict(), path)
    fresh = dl.nn.QuantizedEmbedding(20, 64, kind=kind)
    fresh.load_state_dict(dl.load(path))
    np.testing.assert_array_equal(fresh(idx).numpy(), q(idx).numpy())
    assert repr(q) == "QuantizedEmbedding(20, 64, kind=%s)" % kind


def test_from_blocks_uses_the_array(rng):
    raw = random_blocks(rng, "Q8_0", 6, 64)
    q = dl.nn.QuantizedLinear.from_blocks(raw, "Q8_0", 64)
    assert q.weight.numpy() is raw and q.bias is None
    with pytest.raises(ValueError, match=r"blocks must be uint8 of shape \(6, 102\) \(Q8_0 "
                                         r"rows\), got uint8 of shape \(6, 68\)"):
        dl.nn.QuantizedLinear.from_blocks(raw, "Q8_0", 96)


def test_layer_errors():
    with pytest.raises(ValueError, match="multiple of 32"):
        dl.nn.QuantizedLinear(40, 3)
    with pytest.raises(ValueError, match="kind must be one of"):
        dl.nn.QuantizedLinear(32, 3, kind="q8")
    with pytest.raises(ValueError, match="out_features must be a non-negative int"):
        dl.nn.QuantizedLinear(32, -1)
    with pytest.raises(TypeError, match="expected a layer with a 2-D weight"):
        dl.nn.QuantizedLinear.from_float(dl.nn.ReLU())
    with pytest.raises(ValueError, match="multiple of 32"):
        dl.nn.QuantizedEmbedding.from_float(dl.nn.Embedding(4, 10))
