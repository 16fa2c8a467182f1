"""Fused scaled dot-product attention: kernel vs NumPy on every ISA path and thread count,
torch parity (forward, backward, every mask kind, causal, L != S, head dims 1..128),
float64 gradcheck, bad input."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from dlcore import _C
from dlcore.ops.attention import _composed


def ref(q, k, v, mask, causal, scale):
    """Float64 reference: output, probabilities."""
    q, k, v = (a.astype(np.float64) for a in (q, k, v))
    s = q @ k.swapaxes(-1, -2) * scale
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    if causal:
        L, S = s.shape[-2:]
        s = np.where(np.tril(np.ones((L, S), bool)), s, -np.inf)
    m = s.max(-1, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(m), m, 0))
    l = e.sum(-1, keepdims=True)
    p = np.where(l > 0, e / np.where(l > 0, l, 1), 0)
    return p @ v, p


def ref_grads(q, k, v, p, g, scale):
    q, k, v, g = (a.astype(np.float64) for a in (q, k, v, g))
    dv = p.swapaxes(-1, -2) @ g
    dp = g @ v.swapaxes(-1, -2)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True))
    return ds @ k * scale, ds.swapaxes(-1, -2) @ q * scale, dv


def make_mask(rng, kind, B, H, L, S, dtype):
    if kind == "bool":
        return np.broadcast_to(rng.random((1, H, L, S)) > 0.3, (B, H, L, S))
    if kind == "add":
        return np.broadcast_to(rng.standard_normal((L, S)).astype(dtype), (B, H, L, S))
    return None


SHAPES = [(1, 1, 1, 1, 1, 1), (2, 3, 7, 9, 5, 5), (1, 2, 70, 133, 64, 64),
          (2, 1, 65, 64, 128, 17), (1, 1, 130, 33, 33, 40)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mask_kind", [None, "bool", "add"])
@pytest.mark.parametrize("causal", [False, True])
def test_kernel_matches_reference(isa, threads, rng, shape, mask_kind, causal):
    B, H, L, S, D, Dv = shape
    for dt, tol in ((np.float32, 2e-4), (np.float64, 1e-10)):
        q = rng.standard_normal((B, H, L, D)).astype(dt)
        k = rng.standard_normal((B, H, S, D)).astype(dt)
        v = rng.standard_normal((B, H, S, Dv)).astype(dt)
        mask = make_mask(rng, mask_kind, B, H, L, S, dt)
        scale = 1 / np.sqrt(D)
        out, lse = np.empty((B, H, L, Dv), dt), np.empty((B, H, L), dt)
        _C.attention_forward(q, k, v, mask, causal, scale, out, lse)
        o, p = ref(q, k, v, mask, causal, scale)
        np.testing.assert_allclose(out, o, atol=tol, rtol=tol)
        g = rng.standard_normal(out.shape).astype(dt)
        dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
        _C.attention_backward(q, k, v, mask, causal, scale, out, lse, g, dq, dk, dv)
        for got, want in zip((dq, dk, dv), ref_grads(q, k, v, p, g, scale)):
            np.testing.assert_allclose(got, want, atol=tol * 5, rtol=tol)


def test_strided_inputs(rng):
    """Q/K/V as transposed views (B, L, H, D) -> (B, H, L, D), as multi-head attention makes."""
    x = rng.standard_normal((2, 19, 3, 3, 8)).astype(np.float32)
    q, k, v = (x[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    out = F.scaled_dot_product_attention(dl.tensor(q), dl.tensor(k), dl.tensor(v))
    np.testing.assert_allclose(out.numpy(), ref(q, k, v, None, False, 8 ** -0.5)[0], atol=1e-5)


CASES = [  # q shape, k shape, v shape, mask kind, causal
    ((2, 3, 7, 5), (2, 3, 9, 5), (2, 3, 9, 6), None, False),
    ((2, 3, 9, 16), (2, 3, 7, 16), (2, 3, 7, 16), None, True),
    ((3, 7, 5), (3, 9, 5), (3, 9, 5), "bool", False),
    ((7, 1), (9, 1), (9, 1), "add", False),
    ((2, 1, 33, 128), (2, 1, 40, 128), (2, 1, 40, 128), "bool4", False),
    ((2, 1, 3, 7, 16), (2, 4, 3, 9, 16), (2, 4, 3, 9, 16), "add", False),
]


@pytest.mark.parametrize("case", CASES)
def test_matches_torch(torch, rng, case):
    sq, sk, sv, mk, causal = case
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in (sq, sk, sv))
    L, S = sq[-2], sk[-2]
    m = None
    if mk == "bool":
        m = rng.random((L, S)) > 0.3
    elif mk == "bool4":
        m = rng.random((sq[0], 1, 1, S)) > 0.5
    elif mk == "add":
        m = rng.standard_normal((L, S)).astype(np.float32)
    tq, tk, tv = (dl.tensor(a, requires_grad=True) for a in (q, k, v))
    o = F.scaled_dot_product_attention(tq, tk, tv, None if m is None else dl.tensor(m),
                                       is_causal=causal)
    g = rng.standard_normal(o.shape).astype(np.float32)
    o.backward(dl.tensor(g))
    Q, K, V = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    O = torch.nn.functional.scaled_dot_product_attention(
        Q, K, V, None if m is None else torch.tensor(m), is_causal=causal)
    O.backward(torch.tensor(g))
    np.testing.assert_allclose(o.numpy(), O.detach().numpy(), atol=1e-5)
    for a, b in ((tq, Q), (tk, K), (tv, V)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-4)


@pytest.mark.parametrize("where", ["q", "k", "v", "k_unreached", "v_unreached"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonfinite_operands_take_the_composed_path(isa, threads, rng, where, value, dtype):
    """A NaN or inf in q, k or v (also in keys a causal forward never reaches, S > L): the
    kernel says so (attention_forward(check_finite=True) gives None) and the op answers as
    the composed ops do, which is IEEE's (and torch's math path) NaN; finite operands give
    the kernel's output.  B*H = 6 heads, L = 70 over two query blocks, S = 150 over two key
    tiles, so the NaN sits in whichever block or tile, and on whichever thread, packs it."""
    B, H, L, S, D = 2, 3, 70, 150, 13
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in ((B, H, L, D), (B, H, S, D),
                                                               (B, H, S, D)))
    out, lse = np.empty((B, H, L, D), dtype), np.empty((B, H, L), dtype)
    for causal in (False, True):
        assert _C.attention_forward(q, k, v, None, causal, 0.3, out, lse, True) is out
    arr = {"q": q, "k": k, "v": v, "k_unreached": k, "v_unreached": v}[where]
    row = S - 3 if where.endswith("unreached") else int(rng.integers(arr.shape[2]))
    arr[1, 2, row, int(rng.integers(D))] = value
    for causal in (False, True):
        got = _C.attention_forward(q, k, v, None, causal, 0.3, out, lse, True)
        assert got is None
        assert _C.attention_forward(q, k, v, None, causal, 0.3, out, lse) is out  # unchecked
        o = F.scaled_dot_product_attention(*(dl.tensor(a) for a in (q, k, v)), scale=0.3,
                                           is_causal=causal)
        want = _composed(*(dl.tensor(a) for a in (q, k, v)), None, 0.0, causal, 0.3)
        np.testing.assert_array_equal(np.isnan(o.numpy()), np.isnan(want.numpy()))
        np.testing.assert_allclose(o.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


def test_fully_masked_row_is_zero(rng):
    q, k, v = (dl.tensor(rng.standard_normal((1, 3, 4)), requires_grad=True) for _ in range(3))
    m = np.ones((3, 3), bool)
    m[1] = False
    o = F.scaled_dot_product_attention(q, k, v, dl.tensor(m))
    o.sum().backward()
    assert np.all(o.numpy()[0, 1] == 0) and np.all(np.isfinite(o.numpy()))
    assert np.all(q.grad.numpy()[0, 1] == 0) and np.all(np.isfinite(k.grad.numpy()))


def test_scale_and_dropout(rng):
    q, k, v = (dl.tensor(rng.standard_normal((2, 5, 4))) for _ in range(3))
    o = F.scaled_dot_product_attention(q, k, v, scale=0.3)
    np.testing.assert_allclose(o.numpy(), ref(q.numpy(), k.numpy(), v.numpy(), None, False,
                                              0.3)[0], atol=1e-12)
    dl.manual_seed(0)
    d = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, is_causal=True)
    assert d.shape == (2, 5, 4) and not np.allclose(d.numpy(), o.numpy())


@pytest.mark.parametrize("mask_kind,causal", [(None, False), ("bool", False), ("add", True)])
def test_gradcheck(rng, mask_kind, causal):
    q = dl.tensor(rng.standard_normal((2, 2, 5, 3)), requires_grad=True)
    k = dl.tensor(rng.standard_normal((2, 2, 6, 3)), requires_grad=True)
    v = dl.tensor(rng.standard_normal((2, 2, 6, 4)), requires_grad=True)
    m = None
    if mask_kind == "bool":
        m = rng.random((5, 6)) > 0.3
        m[:, 0] = True
    elif mask_kind == "add":
        m = rng.standard_normal((5, 6))
    mt = None if m is None else dl.tensor(m)
    assert dl.autograd.gradcheck(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mt, is_causal=causal),
        (q, k, v))


@pytest.mark.parametrize("causal,mask_shape,dropout", [(False, (5, 6), 0.0),
                                                        (True, (2, 1, 5, 6), 0.0),
                                                        (False, (5, 6), 0.5)])
def test_gradcheck_float_mask(rng, causal, mask_shape, dropout):
    """A float attn_mask that requires grad gets dL/dscores summed over its broadcast dims
    (the fused kernel's path and the composed dropout path alike)."""
    q = dl.tensor(rng.standard_normal((2, 2, 5, 3)), requires_grad=True)
    k = dl.tensor(rng.standard_normal((2, 2, 6, 3)), requires_grad=True)
    v = dl.tensor(rng.standard_normal((2, 2, 6, 4)), requires_grad=True)
    m = dl.tensor(rng.standard_normal(mask_shape), requires_grad=True)

    def f(q, k, v, m):
        dl.manual_seed(3)  # the same dropout mask on every evaluation
        return F.scaled_dot_product_attention(q, k, v, m, dropout_p=dropout, is_causal=causal)
    assert dl.autograd.gradcheck(f, (q, k, v, m))


def test_bad_input():
    q, k, v = dl.randn(2, 5, 4), dl.randn(2, 6, 4), dl.randn(2, 6, 3)
    with pytest.raises(ValueError, match="head dims differ"):
        F.scaled_dot_product_attention(q, dl.randn(2, 6, 5), v)
    with pytest.raises(ValueError, match="sequence lengths differ"):
        F.scaled_dot_product_attention(q, k, dl.randn(2, 7, 3))
    with pytest.raises(ValueError, match="does not broadcast"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=dl.tensor(np.ones((5, 7), bool)))
    with pytest.raises(ValueError, match="do not broadcast"):
        F.scaled_dot_product_attention(q, dl.randn(3, 6, 4), dl.randn(3, 6, 3))
    with pytest.raises(TypeError, match="share a dtype"):
        F.scaled_dot_product_attention(q, k.double(), v)
    with pytest.raises(ValueError, match="at least 2-D"):
        F.scaled_dot_product_attention(dl.randn(4), k, v)
    with pytest.raises(TypeError, match="bool or float"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=dl.tensor(np.ones((5, 6), np.int64)))


FWD_SHAPES = [  # B, H, L, S, D, Dv: 9 heads (whole heads per thread) and 1 head (shared out)
    (3, 3, 33, 100, 7, 7), (1, 1, 100, 33, 100, 64), (3, 3, 7, 1, 1, 1), (1, 1, 1, 7, 64, 128),
    (1, 1, 130, 200, 128, 100), (1, 9, 65, 129, 64, 64), (1, 1, 40, 70, 100, 7),
    # causal row groups of 6 and their leftovers across query blocks of 48 and key tiles of
    # 64 (the triangle trimmed per row group): L past several of each, S > L and S < L
    (2, 1, 301, 263, 19, 33), (1, 2, 97, 400, 64, 24)]


@pytest.mark.parametrize("shape", FWD_SHAPES)
@pytest.mark.parametrize("spread", [1.0, 30.0])
@pytest.mark.parametrize("causal", [False, True])
def test_forward_paths(isa, threads, rng, shape, spread, causal):
    """Forward (and backward from its lse) on odd sizes on both work splits; spread 30 makes the row max jump by far more than the
    rescale slack between key tiles (and back down), 1 keeps it within it."""
    B, H, L, S, D, Dv = shape
    q = (rng.standard_normal((B, H, L, D)) * spread).astype(np.float32)
    k = rng.standard_normal((B, H, S, D)).astype(np.float32)
    k[..., S // 2:, :] *= 2.0   # later key tiles score higher, then the tail lower again
    k[..., S - S // 5:, :] *= 0.1
    v = rng.standard_normal((B, H, S, Dv)).astype(np.float32)
    scale = 1 / np.sqrt(D)
    out, lse = np.empty((B, H, L, Dv), np.float32), np.empty((B, H, L), np.float32)
    _C.attention_forward(q, k, v, None, causal, scale, out, lse)
    o, p = ref(q, k, v, None, causal, scale)
    np.testing.assert_allclose(out, o, atol=2e-4, rtol=2e-4)
    s = q.astype(np.float64) @ k.astype(np.float64).swapaxes(-1, -2) * scale
    if causal:
        s = np.where(np.tril(np.ones((L, S), bool)), s, -np.inf)
    m = s.max(-1, keepdims=True)
    want = (m + np.log(np.exp(s - m).sum(-1, keepdims=True)))[..., 0]
    np.testing.assert_allclose(lse, want, atol=1e-4 * max(1.0, spread), rtol=1e-5)
    g = rng.standard_normal(out.shape).astype(np.float32)
    dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
    _C.attention_backward(q, k, v, None, causal, scale, out, lse, g, dq, dk, dv)
    for got, want in zip((dq, dk, dv), ref_grads(q, k, v, p, g, scale)):
        # scores of a few hundred carry float32 rounding of ~1e-5 relative into p
        np.testing.assert_allclose(got, want, atol=2e-4 if spread == 1.0 else 5e-3, rtol=2e-4)


@pytest.mark.parametrize("D", [16, 100])
def test_strided_keys_fwd_bwd(isa, threads, rng, D):
    """K and V as (B, S, H, D) -> (B, H, S, D) views: rows D * H apart (the block
    transposes of the forward and the backward)."""
    B, H, L, S = 2, 3, 70, 140
    q = rng.standard_normal((B, H, L, D)).astype(np.float32)
    kv = rng.standard_normal((2, B, S, H, D)).astype(np.float32)
    k, v = kv[0].transpose(0, 2, 1, 3), kv[1].transpose(0, 2, 1, 3)
    out, lse = np.empty((B, H, L, D), np.float32), np.empty((B, H, L), np.float32)
    _C.attention_forward(q, k, v, None, False, D ** -0.5, out, lse)
    o, p = ref(q, k, v, None, False, D ** -0.5)
    np.testing.assert_allclose(out, o, atol=2e-4)
    g = rng.standard_normal(out.shape).astype(np.float32)
    dq, dk, dv = np.empty_like(q), np.empty((B, H, S, D), np.float32), \
        np.empty((B, H, S, D), np.float32)
    _C.attention_backward(q, k, v, None, False, D ** -0.5, out, lse, g, dq, dk, dv)
    for got, want in zip((dq, dk, dv), ref_grads(q, k, v, p, g, D ** -0.5)):
        np.testing.assert_allclose(got, want, atol=1e-3, rtol=2e-4)


@pytest.mark.parametrize("S,D,Dv", [(72, 24, 24), (136, 8, 40), (64, 40, 8), (15, 16, 9)])
def test_block_transposes_on_partial_key_blocks(isa, threads, rng, S, D, Dv):
    """The forward's K^T packing in 8 x 8 (AVX2) or 16 x 16 (AVX-512) register blocks on
    strided keys, where the last key block holds a multiple of 8 keys, a few more, or fewer
    than 8, and D is or is not a multiple of the block; backward on the same inputs."""
    B, H, L = 1, 2, 9
    q = rng.standard_normal((B, H, L, D)).astype(np.float32)
    k = rng.standard_normal((B, S, H, D)).astype(np.float32).transpose(0, 2, 1, 3)
    v = rng.standard_normal((B, S, H, Dv)).astype(np.float32).transpose(0, 2, 1, 3)
    out, lse = np.empty((B, H, L, Dv), np.float32), np.empty((B, H, L), np.float32)
    _C.attention_forward(q, k, v, None, False, D ** -0.5, out, lse)
    o, p = ref(q, k, v, None, False, D ** -0.5)
    np.testing.assert_allclose(out, o, atol=2e-5, rtol=2e-5)
    g = rng.standard_normal(out.shape).astype(np.float32)
    dq, dk, dv = np.empty_like(q), np.empty((B, H, S, D), np.float32), \
        np.empty((B, H, S, Dv), np.float32)
    _C.attention_backward(q, k, v, None, False, D ** -0.5, out, lse, g, dq, dk, dv)
    for got, want in zip((dq, dk, dv), ref_grads(q, k, v, p, g, D ** -0.5)):
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=2e-4)


def test_forward_exp_range(isa, threads):
    """Scores set by an additive mask (q = 0): key 0 scores 0, keys 1..S-2 -inf (their values
    are huge, so anything but an exact 0 weight shows), the last key (S - 1 = 128, in a later
    key tile than key 0 for tiles of 64 or 128 keys) scores x.  The running max stays 0 from
    the first key tile, so the softmax takes exp(x) for x over [-200, 8] (and -inf, NaN):
    out = e^x / (1 + e^x) with v = 1 on the last key, to float precision wherever e^x is a
    normal float."""
    xs = np.concatenate([np.linspace(-200, 8, 2001), [-87.5, -103.0, -np.inf, np.nan]])
    L, S = len(xs), 129
    mask = np.full((1, 1, L, S), -np.inf, np.float32)
    mask[..., 0] = 0.0
    mask[..., S - 1] = xs
    q = np.zeros((1, 1, L, 1), np.float32)
    k = np.ones((1, 1, S, 1), np.float32)
    v = np.full((1, 1, S, 1), 1e20, np.float32)
    v[..., 0, 0], v[..., S - 1, 0] = 0.0, 1.0
    out, lse = np.empty((1, 1, L, 1), np.float32), np.empty((1, 1, L), np.float32)
    _C.attention_forward(q, k, v, mask, False, 1.0, out, lse)
    x = mask[0, 0, :, S - 1].astype(np.float64)
    want = np.exp(x) / (1 + np.exp(x))
    got = out[0, 0, :, 0]
    assert np.isnan(got[-1]) and np.isnan(lse[0, 0, -1]) and got[-2] == 0.0
    normal = want >= 1e-37
    np.testing.assert_allclose(got[normal], want[normal], rtol=1e-6)
    # below the normal range: subnormal or flushed to 0 (the AVX2 and generic exps flush)
    np.testing.assert_allclose(got[~normal], want[~normal], rtol=0, atol=np.finfo(np.float32).tiny)
    np.testing.assert_allclose(lse[0, 0, :-1], np.log1p(np.exp(x[:-1])), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("S", [2, 9, 65, 129, 200])
def test_nan_score_beside_masked_keys_is_nan(isa, threads, S):
    """One score 0 and one NaN (from the mask) in a row whose other keys are masked: NaN out
    and lse, as IEEE (and torch's math path) give, wherever the two keys fall in the vectors
    and tiles (a max instruction that drops the NaN must not leave the row fully masked)."""
    L = S - 1
    mask = np.full((1, 1, L, S), -np.inf, np.float32)
    for i in range(L):   # row i: key i scores 0, a key about S / 2 away NaN
        j = (i + 1 + S // 2) % S
        mask[0, 0, i, i], mask[0, 0, i, j if j != i else (i + 1) % S] = 0.0, np.nan
    q = np.zeros((1, 1, L, 3), np.float32)
    k = np.ones((1, 1, S, 3), np.float32)
    v = np.ones((1, 1, S, 2), np.float32)
    out, lse = np.empty((1, 1, L, 2), np.float32), np.empty((1, 1, L), np.float32)
    _C.attention_forward(q, k, v, mask, False, 1.0, out, lse)
    assert np.isnan(out).all() and np.isnan(lse).all()


@pytest.mark.parametrize("L,S", [(0, 5), (5, 0), (0, 0)])
@pytest.mark.parametrize("causal", [False, True])
def test_empty_sequences(torch, isa, threads, L, S, causal):
    """No queries: empty output; no keys: zero rows and zero gradients, as in torch."""
    arrs = [np.ones((9, 2, n, d), np.float32) for n, d in ((L, 4), (S, 4), (S, 3))]
    tq, tk, tv = (dl.tensor(a, requires_grad=True) for a in arrs)
    o = F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
    o.sum().backward()
    Q, K, V = (torch.tensor(a, requires_grad=True) for a in arrs)
    O = torch.nn.functional.scaled_dot_product_attention(Q, K, V, is_causal=causal)
    O.sum().backward()
    assert o.shape == tuple(O.shape)
    np.testing.assert_array_equal(o.numpy(), O.detach().numpy())
    for a, b in ((tq, Q), (tk, K), (tv, V)):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


@pytest.mark.parametrize("L, S", [(7, 7), (5, 9), (9, 5), (70, 70)])
def test_causal_mask_array_takes_the_causal_path(rng, L, S):
    """A causal mask given as an array (bool or float -inf) runs the kernel's causal mode:
    the same output and gradients, bitwise, as is_causal=True; near-causal masks do not."""
    from dlcore.ops.attention import is_causal_mask
    q, k, v = (rng.standard_normal((2, 3, n, 8)).astype(np.float32) for n in (L, S, S))
    below = np.tril(np.ones((L, S), bool))
    add = np.where(below, 0.0, -np.inf).astype(np.float32)
    g = rng.standard_normal((2, 3, L, 8)).astype(np.float32)

    def run(mask, causal):
        ts = [dl.tensor(a, requires_grad=True) for a in (q, k, v)]
        o = F.scaled_dot_product_attention(*ts, attn_mask=None if mask is None
                                           else dl.tensor(mask), is_causal=causal)
        o.backward(dl.tensor(g))
        return [o.numpy()] + [t.grad.numpy() for t in ts]

    want = run(None, True)
    for mask in (below, add):
        assert is_causal_mask(mask, L, S)
        for got, w in zip(run(mask, False), want):
            np.testing.assert_array_equal(got, w)
    out, _ = ref(q, k, v, add, False, 1 / np.sqrt(8))
    np.testing.assert_allclose(want[0], out, rtol=1e-5, atol=1e-6)
    off = add.copy()
    off[-1, 0] = -1.0                         # one more value: not the causal mask
    assert not is_causal_mask(off, L, S)
    assert not is_causal_mask(below.T.copy(), S, L) or L == S == 1
    assert not is_causal_mask(np.zeros((L, S), np.float32), L, S)
    assert not is_causal_mask(add[None], L, S)  # only the 2-D form is compared


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_into_packed_gradient_views(isa, threads, rng, dtype):
    """dq, dk, dv as views of one packed (B, L, 3, H, D) buffer get exactly what contiguous
    outputs get (every ISA path, both dtypes); overlapping or read-only outputs are refused."""
    B, H, L, D = 2, 3, 37, 20
    x = rng.standard_normal((B, L, 3, H, D)).astype(dtype)
    q, k, v = x.transpose(2, 0, 3, 1, 4)           # strided (B, H, L, D) views
    out, lse = np.empty((B, H, L, D), dtype), np.empty((B, H, L), dtype)
    _C.attention_forward(q, k, v, None, True, D ** -0.5, out, lse)
    g = rng.standard_normal(out.shape).astype(dtype)
    flat = [np.empty((B, H, L, D), dtype) for _ in range(3)]
    _C.attention_backward(q, k, v, None, True, D ** -0.5, out, lse, g, *flat)
    packed = np.full((B, L, 3, H, D), np.nan, dtype)
    views = packed.transpose(2, 0, 3, 1, 4)
    _C.attention_backward(q, k, v, None, True, D ** -0.5, out, lse, g, *views)
    for got, want in zip(views, flat):
        np.testing.assert_array_equal(got, want)
    assert np.isfinite(packed).all()              # every element written
    _, p = ref(q, k, v, None, True, D ** -0.5)
    for got, want in zip(flat, ref_grads(q, k, v, p, g, D ** -0.5)):
        np.testing.assert_allclose(got, want, atol=1e-3 if dtype == np.float32 else 1e-10)
    with pytest.raises(ValueError, match="overlap"):
        _C.attention_backward(q, k, v, None, True, D ** -0.5, out, lse, g, views[0], views[0],
                              views[2])
    ro = np.empty((B, H, L, D), dtype)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        _C.attention_backward(q, k, v, None, True, D ** -0.5, out, lse, g, ro, *flat[1:])
    with pytest.raises(ValueError, match="dk"):
        _C.attention_backward(q, k, v, None, True, D ** -0.5, out, lse, g, flat[0],
                              flat[1][:, :, :-1], flat[2])
