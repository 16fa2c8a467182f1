"""dlcore.ops.cached_attention (rotation + cache update + grouped-query causal attention in one
op) against a float64 NumPy reference, on every SIMD path: a prefill, a chunk after a cached
prefix and single-token steps; the cache contents; argument errors; the refusal under autograd."""
import math

import numpy as np
import pytest

import dlcore as dl
from dlcore.ops.cached_attention import cached_attention

from test_rotary import rope_reference


def reference(qkv, kc, vc, start, H, ang, interleaved=True, scale=None):
    """Returns the output (L, H*D) and the expected caches, in float64."""
    Hk, _, D = kc.shape
    L = qkv.shape[0]
    S = start + L
    x = qkv.astype(np.float64).reshape(L, H + 2 * Hk, D)
    q, k, v = x[:, :H], x[:, H:H + Hk], x[:, H + Hk:]
    if ang is not None:
        q = rope_reference(q, ang[start:S, None], interleaved)
        k = rope_reference(k, ang[start:S, None], interleaved)
    kc, vc = kc.astype(np.float64), vc.astype(np.float64)
    kc[:, start:S], vc[:, start:S] = k.transpose(1, 0, 2), v.transpose(1, 0, 2)
    out = np.empty((L, H, D))
    G = H // Hk
    for h in range(H):
        for i in range(L):
            s = kc[h // G, :start + i + 1] @ q[i, h] * (scale or 1 / math.sqrt(D))
            p = np.exp(s - s.max())
            out[i, h] = (p / p.sum()) @ vc[h // G, :start + i + 1]
    return out.reshape(L, H * D), kc, vc


@pytest.mark.parametrize("H,Hk,D", [(1, 1, 8), (9, 3, 64), (4, 4, 18), (6, 2, 32)])
@pytest.mark.parametrize("rope", [True, False])
def test_matches_reference(H, Hk, D, rope, isa, rng):
    max_len = 23
    kc = np.zeros((Hk, max_len, D), np.float32)
    vc = np.zeros_like(kc)
    ang = rng.uniform(-5, 5, (max_len, D // 2)) if rope else None
    tabs = {} if not rope else dict(cos=dl.tensor(np.cos(ang).astype(np.float32)),
                                   sin=dl.tensor(np.sin(ang).astype(np.float32)))
    K, V = dl.from_numpy(kc), dl.from_numpy(vc)
    start = 0
    with dl.no_grad():
        for L in (5, 3, 1, 1, 7):          # prefill, a chunk after a prefix, single steps
            qkv = rng.standard_normal((L, (H + 2 * Hk) * D)).astype(np.float32)
            ref, rk, rv = reference(qkv, kc, vc, start, H, ang)
            out = cached_attention(dl.tensor(qkv), K, V, start, H, **tabs)
            assert out.shape == (L, H * D)
            np.testing.assert_allclose(out.numpy(), ref, rtol=1e-4, atol=2e-5)
            np.testing.assert_allclose(kc, rk, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(vc, rv, rtol=0, atol=0)
            start += L


@pytest.mark.parametrize("interleaved", [True, False])
def test_one_kernel_call_and_tiled_path_agree_with_the_reference(interleaved, isa, rng):
    # 70 prompt positions take the tiled path, the steps after them the one-call kernel; the
    # cache is longer than the kernel's on-stack score buffer (1024), so its heap path runs
    H, Hk, D, max_len = 6, 2, 20, 1100
    kc, vc = np.zeros((Hk, max_len, D), np.float32), np.zeros((Hk, max_len, D), np.float32)
    ang = rng.uniform(-3, 3, (max_len, D // 2))
    cos, sin = (dl.tensor(f(ang).astype(np.float32)) for f in (np.cos, np.sin))
    K, V = dl.from_numpy(kc), dl.from_numpy(vc)
    with dl.no_grad():
        for start, L in ((0, 70), (70, 1), (71, 3), (1040, 1), (1041, 59)):
            qkv = rng.standard_normal((L, (H + 2 * Hk) * D)).astype(np.float32)
            ref, rk, rv = reference(qkv, kc, vc, start, H, ang, interleaved, 0.3)
            out = cached_attention(dl.tensor(qkv), K, V, start, H, cos, sin,
                                   interleaved=interleaved, scale=0.3)
            np.testing.assert_allclose(out.numpy(), ref, rtol=1e-4, atol=2e-5)
            np.testing.assert_allclose(kc, rk, rtol=1e-5, atol=1e-5)
            np.testing.assert_array_equal(vc, rv)


def test_nan_propagates_to_its_own_rows(isa):
    K, V = dl.zeros(1, 4, 8), dl.zeros(1, 4, 8)
    qkv = np.ones((2, 24), np.float32)
    qkv[1, 3] = np.nan                      # a query of the second position
    with dl.no_grad():
        out = cached_attention(dl.tensor(qkv), K, V, 0, 1).numpy()
    assert np.all(np.isfinite(out[0])) and np.all(np.isnan(out[1]))


@pytest.mark.parametrize("pos", [0, 5, 15, 16, 17])    # SIMD body lanes and the scalar tail
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_score_in_any_lane_acts_as_softmax_says(bad, pos, isa, rng):
    # one decoding step over 19 cached positions, one cached key holding NaN/+inf/-inf: a NaN
    # or +inf score (inf - inf) makes the row NaN, a -inf score only gets weight 0 (torch's
    # softmax does the same); the query is positive so the bad key's score has its sign
    H, D, S = 1, 8, 19
    kc = rng.standard_normal((1, S, D)).astype(np.float32)
    vc = rng.standard_normal((1, S, D)).astype(np.float32)
    kc[0, pos, 2] = bad
    qkv = np.abs(rng.standard_normal((1, 3 * D))).astype(np.float32) + 0.1
    with np.errstate(invalid="ignore"):
        ref, _, _ = reference(qkv, kc, vc, S - 1, H, None)
    assert np.isnan(ref).all() == (bad != -np.inf)        # the reference says which case
    with dl.no_grad():
        out = cached_attention(dl.tensor(qkv), dl.from_numpy(kc), dl.from_numpy(vc), S - 1, H)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-4, atol=2e-5)


def test_float64(rng):
    kc, vc = np.zeros((2, 6, 4)), np.zeros((2, 6, 4))
    qkv = rng.standard_normal((4, 24))
    ref, _, _ = reference(qkv, kc, vc, 0, 2, None)
    with dl.no_grad():
        out = cached_attention(dl.tensor(qkv), dl.from_numpy(kc), dl.from_numpy(vc), 0, 2)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_errors(rng):
    K, V = dl.zeros(2, 8, 4), dl.zeros(2, 8, 4)
    qkv = dl.ones(3, 24)
    with pytest.raises(ValueError, match="num_heads must be a positive multiple"):
        cached_attention(qkv, K, V, 0, 3)
    with pytest.raises(ValueError, match=r"qkv must be .* = \(L, 24\), got shape \(3, 20\)"):
        cached_attention(dl.ones(3, 20), K, V, 0, 2)
    with pytest.raises(ValueError, match="start \\+ L must fit the caches' 8 positions"):
        cached_attention(qkv, K, V, 6, 2)
    with pytest.raises(TypeError, match="v_cache must be a 3-D float32 Tensor"):
        cached_attention(qkv, K, dl.zeros(2, 8, 4, dtype=dl.float64), 0, 2)
    with pytest.raises(ValueError, match="differ in shape"):
        cached_attention(qkv, K, dl.zeros(2, 9, 4), 0, 2)
    with pytest.raises(ValueError, match="cos must be a float32 Tensor"):
        cached_attention(qkv, K, V, 0, 2, cos=dl.ones(8, 3), sin=dl.ones(8, 2))
    with pytest.raises(ValueError, match="C-contiguous and writeable"):
        cached_attention(qkv, dl.zeros(2, 4, 8).transpose(1, 2), V, 0, 2)
    with pytest.raises(RuntimeError, match="run under dl.no_grad"):
        cached_attention(dl.ones(3, 24, requires_grad=True), K, V, 0, 2)
