"""dlcore.ops.fused_linear (RMSNorm + projection, projection + residual, the pre-norm SwiGLU
MLP block) against float64 NumPy references, on float32 and block-quantised weights, every SIMD
path; argument errors; the refusal under autograd."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.ops.fused_linear import linear_add, rms_norm_linear, swiglu_mlp
from dlcore.ops.quantized import quantize, dequantize

KINDS = [None, "Q4_0", "Q4_1", "Q8_0"]


def weight(rng, n, k, kind):
    """(Tensor for the op, float64 matrix it stands for)."""
    w = (rng.standard_normal((n, k)) * 0.2).astype(np.float32)
    if kind is None:
        return dl.tensor(w), w.astype(np.float64)
    b = quantize(w, kind)
    return b, dequantize(b, kind).numpy().astype(np.float64)


def rms(x, g, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g


def close(out, ref, scale):
    assert np.all(np.abs(out.numpy() - ref) <= 2e-5 * scale + 2e-5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("M", [1, 3, 17, 20])
def test_matches_numpy(kind, M, isa, rng):
    D, F = 64, 96
    x = rng.standard_normal((M, D)).astype(np.float32)
    g1, g2 = (rng.uniform(0.5, 1.5, D).astype(np.float32) for _ in range(2))
    wq, Wq = weight(rng, 40, D, kind)
    wo, Wo = weight(rng, D, 32, kind)
    wgu, Wgu = weight(rng, 2 * F, D, kind)
    wd, Wd = weight(rng, D, F, kind)
    x64 = x.astype(np.float64)
    with dl.no_grad():
        h = rms_norm_linear(dl.tensor(x), dl.tensor(g1), 1e-5, wq, kind)
        ref = rms(x64, g1, 1e-5) @ Wq.T
        close(h, ref, np.abs(rms(x64, g1, 1e-5)) @ np.abs(Wq).T)
        a = rng.standard_normal((M, 32)).astype(np.float32)
        y = linear_add(dl.tensor(a), wo, dl.tensor(x), kind)
        close(y, x64 + a.astype(np.float64) @ Wo.T, np.abs(a) @ np.abs(Wo).T + np.abs(x))
        z = swiglu_mlp(dl.tensor(x), dl.tensor(g2), 1e-6, wgu, wd, kind, kind)
        gu = rms(x64, g2, 1e-6) @ Wgu.T
        act = gu[:, :F] / (1 + np.exp(-gu[:, :F])) * gu[:, F:]
        close(z, x64 + act @ Wd.T, np.abs(act) @ np.abs(Wd).T + np.abs(x) + 1)
    assert h.shape == (M, 40) and y.shape == (M, D) and z.shape == (M, D)


def test_mixed_formats_and_inputs_untouched(rng):
    x = rng.standard_normal((2, 64)).astype(np.float32)
    keep = x.copy()
    wgu, Wgu = weight(rng, 64, 64, "Q4_1")
    wd, Wd = weight(rng, 64, 32, None)
    g = np.ones(64, np.float32)
    with dl.no_grad():
        z = swiglu_mlp(dl.tensor(x), dl.tensor(g), 1e-5, wgu, wd, "Q4_1", None)
    gu = rms(x.astype(np.float64), g, 1e-5) @ Wgu.T
    ref = x + (gu[:, :32] / (1 + np.exp(-gu[:, :32])) * gu[:, 32:]) @ Wd.T
    np.testing.assert_allclose(z.numpy(), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(x, keep)          # the residual is added into a copy


def test_errors(rng):
    x = dl.ones(2, 64)
    g = dl.ones(64)
    w = dl.ones(8, 64)
    with pytest.raises(TypeError, match="input must be a 2-D float32 Tensor"):
        rms_norm_linear(dl.ones(2, 64, dtype=dl.float64), g, 1e-5, w)
    with pytest.raises(TypeError, match=r"weight must be a float32 Tensor \(out_features, 64\)"):
        rms_norm_linear(x, g, 1e-5, dl.ones(8, 32))
    with pytest.raises(TypeError, match="norm_weight must be a float32 Tensor \\(64,\\)"):
        rms_norm_linear(x, dl.ones(63), 1e-5, w)
    with pytest.raises(ValueError, match="kind must be None"):
        rms_norm_linear(x, g, 1e-5, w, "Q5_0")
    with pytest.raises(TypeError, match="uint8 Tensor of Q8_0 blocks"):
        rms_norm_linear(x, g, 1e-5, w, "Q8_0")
    with pytest.raises(TypeError, match=r"residual must be a 2-D float32 Tensor \(M, 8\)"):
        linear_add(x, w, dl.ones(2, 9))
    with pytest.raises(ValueError, match="residual must be \\(2, 8\\)"):
        linear_add(x, w, dl.ones(3, 8))
    with pytest.raises(ValueError, match="even number of rows"):
        swiglu_mlp(x, g, 1e-5, dl.ones(7, 64), dl.ones(64, 3))
    with pytest.raises(ValueError, match="map back to the input's 64 features"):
        swiglu_mlp(x, g, 1e-5, dl.ones(8, 64), dl.ones(63, 4))
    with pytest.raises(RuntimeError, match="inference only"):
        rms_norm_linear(dl.ones(2, 64, requires_grad=True), g, 1e-5, w)
