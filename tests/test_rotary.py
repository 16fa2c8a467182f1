"""Rotary position embedding (dlcore.ops.rotary) and SwiGLU (dlcore.ops.glu): NumPy references,
both RoPE pairings, float64 gradient checks, argument errors."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.autograd import gradcheck
from dlcore.ops.glu import swiglu
from dlcore.ops.rotary import rotary_embedding


def rope_reference(x, ang, interleaved):
    """Pairs as complex numbers a + ib multiplied by e^(i angle)."""
    d = x.shape[-1]
    if interleaved:
        z = x[..., 0::2] + 1j * x[..., 1::2]
    else:
        z = x[..., :d // 2] + 1j * x[..., d // 2:]
    r = z * np.exp(1j * ang)
    out = np.empty(x.shape)
    if interleaved:
        out[..., 0::2], out[..., 1::2] = r.real, r.imag
    else:
        out[..., :d // 2], out[..., d // 2:] = r.real, r.imag
    return out


@pytest.mark.parametrize("interleaved", [True, False])
@pytest.mark.parametrize("L,H,D", [(1, 1, 2), (5, 3, 8), (7, 9, 64)])
def test_rotary_matches_complex_rotation(interleaved, L, H, D, rng):
    x = rng.standard_normal((L, H, D)).astype(np.float32)
    ang = rng.uniform(-4, 4, (L, 1, D // 2))
    y = rotary_embedding(dl.tensor(x), dl.tensor(np.cos(ang).astype(np.float32)),
                         dl.tensor(np.sin(ang).astype(np.float32)), interleaved=interleaved)
    np.testing.assert_allclose(y.numpy(), rope_reference(x, ang, interleaved), atol=2e-6)
    # a rotation keeps each pair's length
    np.testing.assert_allclose(np.linalg.norm(y.numpy(), axis=-1), np.linalg.norm(x, axis=-1),
                               rtol=1e-5)


def test_pairings_are_a_permutation_of_each_other(rng):
    x = rng.standard_normal((4, 2, 16))
    ang = rng.uniform(-3, 3, (4, 1, 8))
    c, s = dl.tensor(np.cos(ang)), dl.tensor(np.sin(ang))
    perm = np.r_[0:16:2, 1:16:2]        # neighbours (2i, 2i+1) -> halves (i, i + 8)
    a = rotary_embedding(dl.tensor(x), c, s, interleaved=True).numpy()
    b = rotary_embedding(dl.tensor(x[..., perm]), c, s, interleaved=False).numpy()
    np.testing.assert_allclose(a[..., perm], b, atol=1e-12)


@pytest.mark.parametrize("interleaved", [True, False])
def test_rotary_gradcheck(interleaved, rng):
    x = dl.tensor(rng.standard_normal((3, 2, 6)), requires_grad=True)
    c = dl.tensor(rng.standard_normal((3, 1, 3)), requires_grad=True)
    s = dl.tensor(rng.standard_normal((3, 1, 3)), requires_grad=True)
    assert gradcheck(lambda x, c, s: rotary_embedding(x, c, s, interleaved), (x, c, s))


def test_rotary_errors():
    x = dl.ones(2, 3, 8)
    c = dl.ones(2, 1, 4)
    with pytest.raises(TypeError, match="rotary_embedding: input must be a Tensor"):
        rotary_embedding(np.ones((2, 8)), c, c)
    with pytest.raises(ValueError, match="last dim must be even"):
        rotary_embedding(dl.ones(2, 3, 7), c, c)
    with pytest.raises(ValueError, match=r"cos of shape \(2, 1, 3\) does not broadcast"):
        rotary_embedding(x, dl.ones(2, 1, 3), c)
    with pytest.raises(ValueError, match=r"sin of shape \(4, 1, 4\) does not broadcast"):
        rotary_embedding(x, c, dl.ones(4, 1, 4))
    with pytest.raises(TypeError, match="sin must have the input's dtype float32, got float64"):
        rotary_embedding(x, c, dl.ones(2, 1, 4, dtype=dl.float64))
    with pytest.raises(TypeError, match="input must be float32 or float64"):
        rotary_embedding(dl.tensor(np.ones((2, 8), np.int64)), c, c)


@pytest.mark.parametrize("shape", [(1, 2), (3, 34), (2, 5, 3072)])
def test_swiglu_matches_numpy(shape, isa, rng):
    x = rng.standard_normal(shape).astype(np.float32) * 4
    f = shape[-1] // 2
    g, u = x[..., :f].astype(np.float64), x[..., f:].astype(np.float64)
    ref = g / (1 + np.exp(-g)) * u
    np.testing.assert_allclose(swiglu(dl.tensor(x)).numpy(), ref, rtol=1e-5, atol=1e-6)


def test_swiglu_gradcheck(rng):
    x = dl.tensor(rng.standard_normal((3, 10)) * 3, requires_grad=True)
    assert gradcheck(swiglu, (x,))


def test_swiglu_errors():
    with pytest.raises(ValueError, match="swiglu: input's last dim must be even"):
        swiglu(dl.ones(2, 5))
    with pytest.raises(TypeError, match="swiglu: input must be a Tensor"):
        swiglu(np.ones((2, 4)))
    with pytest.raises(TypeError, match="float32 or float64"):
        swiglu(dl.tensor(np.ones((2, 4), np.int64)))
