"""MultiheadAttention and Transformer stacks: torch parity on loaded weights (forward and
backward), state_dict keys, bad input."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn as nn


def load_from(m, tm):
    sd = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    assert set(m.state_dict()) == set(sd)
    m.load_state_dict(sd)


def check_grads(m, tm, atol=2e-4):
    tp = dict(tm.named_parameters())
    for name, p in m.named_parameters():
        if tp[name].grad is None:
            assert p.grad is None or np.allclose(p.grad.numpy(), 0)
            continue
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), atol=atol,
                                   err_msg=name)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("masks", ["none", "bool", "float", "padding"])
def test_mha_matches_torch(torch, rng, batch_first, need_weights, masks):
    E, H, L, S, N = 16, 4, 5, 7, 3
    tm = torch.nn.MultiheadAttention(E, H, batch_first=batch_first)
    with torch.no_grad():
        tm.in_proj_bias.normal_()
        tm.out_proj.bias.normal_()
    m = nn.MultiheadAttention(E, H, batch_first=batch_first)
    load_from(m, tm)
    shp = (lambda n, s: (n, s, E)) if batch_first else (lambda n, s: (s, n, E))
    q = rng.standard_normal(shp(N, L)).astype(np.float32)
    kv = rng.standard_normal(shp(N, S)).astype(np.float32)
    am = kpm = None
    if masks == "bool":
        am = rng.random((L, S)) > 0.7
        am[:, 0] = False
    elif masks == "float":
        am = rng.standard_normal((N * H, L, S)).astype(np.float32)
    elif masks == "padding":
        kpm = np.zeros((N, S), bool)
        kpm[1, 4:] = True
    tq, tkv = dl.tensor(q, requires_grad=True), dl.tensor(kv, requires_grad=True)
    o, w = m(tq, tkv, tkv, key_padding_mask=None if kpm is None else dl.tensor(kpm),
             need_weights=need_weights, attn_mask=None if am is None else dl.tensor(am))
    Q, KV = torch.tensor(q, requires_grad=True), torch.tensor(kv, requires_grad=True)
    O, W = tm(Q, KV, KV, key_padding_mask=None if kpm is None else torch.tensor(kpm),
              need_weights=need_weights, attn_mask=None if am is None else torch.tensor(am))
    np.testing.assert_allclose(o.numpy(), O.detach().numpy(), atol=1e-5)
    if need_weights:
        np.testing.assert_allclose(w.numpy(), W.detach().numpy(), atol=1e-5)
    else:
        assert w is None and W is None
    g = rng.standard_normal(o.shape).astype(np.float32)
    o.backward(dl.tensor(g))
    O.backward(torch.tensor(g))
    np.testing.assert_allclose(tq.grad.numpy(), Q.grad.numpy(), atol=1e-4)
    np.testing.assert_allclose(tkv.grad.numpy(), KV.grad.numpy(), atol=1e-4)
    check_grads(m, tm)


def test_mha_kdim_vdim_and_bias_kv(torch, rng):
    E, H = 8, 2
    tm = torch.nn.MultiheadAttention(E, H, kdim=5, vdim=3, add_bias_kv=True, add_zero_attn=True)
    m = nn.MultiheadAttention(E, H, kdim=5, vdim=3, add_bias_kv=True, add_zero_attn=True)
    load_from(m, tm)
    q = rng.standard_normal((4, 2, E)).astype(np.float32)
    k = rng.standard_normal((6, 2, 5)).astype(np.float32)
    v = rng.standard_normal((6, 2, 3)).astype(np.float32)
    o, w = m(dl.tensor(q), dl.tensor(k), dl.tensor(v), average_attn_weights=False)
    O, W = tm(torch.tensor(q), torch.tensor(k), torch.tensor(v), average_attn_weights=False)
    np.testing.assert_allclose(o.numpy(), O.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(w.numpy(), W.detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("unbatched", [False, True])
def test_mha_self_attention_packed_matches_torch(torch, rng, batch_first, need_weights,
                                                  unbatched):
    """query is key is value: one stacked projection, heads cut as views (split_heads)."""
    E, H, L, N = 12, 3, 6, 2
    tm = torch.nn.MultiheadAttention(E, H, batch_first=batch_first)
    with torch.no_grad():
        tm.in_proj_bias.normal_()
    m = nn.MultiheadAttention(E, H, batch_first=batch_first)
    load_from(m, tm)
    shape = (L, E) if unbatched else ((N, L, E) if batch_first else (L, N, E))
    x = rng.standard_normal(shape).astype(np.float32)
    mask = np.triu(np.full((L, L), -np.inf, np.float32), 1)
    tx, X = dl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    o, w = m(tx, tx, tx, attn_mask=dl.tensor(mask), need_weights=need_weights)
    O, W = tm(X, X, X, attn_mask=torch.tensor(mask), need_weights=need_weights)
    assert o.shape == tuple(O.shape)
    np.testing.assert_allclose(o.numpy(), O.detach().numpy(), atol=1e-5)
    if need_weights:
        np.testing.assert_allclose(w.numpy(), W.detach().numpy(), atol=1e-5)
    g = rng.standard_normal(o.shape).astype(np.float32)
    o.backward(dl.tensor(g))
    O.backward(torch.tensor(g))
    np.testing.assert_allclose(tx.grad.numpy(), X.grad.numpy(), atol=1e-4)
    check_grads(m, tm)


def test_mha_batch_first_bias_kv_zero_attn_matches_torch(torch, rng):
    E, H = 8, 2
    kw = dict(kdim=5, vdim=3, add_bias_kv=True, add_zero_attn=True, batch_first=True)
    tm = torch.nn.MultiheadAttention(E, H, **kw)
    m = nn.MultiheadAttention(E, H, **kw)
    load_from(m, tm)
    q = rng.standard_normal((2, 4, E)).astype(np.float32)
    k = rng.standard_normal((2, 6, 5)).astype(np.float32)
    v = rng.standard_normal((2, 6, 3)).astype(np.float32)
    tq, Q = dl.tensor(q, requires_grad=True), torch.tensor(q, requires_grad=True)
    o, w = m(tq, dl.tensor(k), dl.tensor(v), average_attn_weights=False)
    O, W = tm(Q, torch.tensor(k), torch.tensor(v), average_attn_weights=False)
    np.testing.assert_allclose(o.numpy(), O.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(w.numpy(), W.detach().numpy(), atol=1e-5)
    o.sum().backward()
    O.sum().backward()
    np.testing.assert_allclose(tq.grad.numpy(), Q.grad.numpy(), atol=1e-4)
    check_grads(m, tm)


def test_split_heads_gradients(rng):
    from dlcore.autograd import gradcheck
    from dlcore.ops.attention_heads import split_heads
    for batch_first in (False, True):
        x = dl.tensor(rng.standard_normal((3, 4, 12)), requires_grad=True)
        heads_shape = (3, 2, 4, 2) if batch_first else (4, 2, 3, 2)  # (N, H, L, hd)
        w = [dl.tensor(rng.standard_normal(heads_shape)) for _ in range(3)]

        def f(t):
            q, k, v = split_heads(t, 3, 2, batch_first)
            return (q * w[0]).sum() + (k * w[1] * k).sum() + (v * w[2]).sum()
        assert gradcheck(f, (x,))
        q, k, v = split_heads(x, 3, 2, batch_first)
        ref = x.numpy().reshape(3, 4, 3, 2, 2)
        ref = ref.transpose((2, 0, 3, 1, 4) if batch_first else (2, 1, 3, 0, 4))
        for i, t in enumerate((q, k, v)):
            np.testing.assert_array_equal(t.numpy(), ref[i])
        # second order through the packed gradient
        (gx,) = dl.autograd.grad(f(x), (x,), create_graph=True)
        (ggx,) = dl.autograd.grad((gx * gx).sum(), (x,))
        # d/dx sum(gx^2): only k's slots depend on x there, gx_k = 2 w1 k -> 8 w1^2 k
        gq, gk, gv = (t.numpy() for t in split_heads(ggx, 3, 2, batch_first))
        np.testing.assert_allclose(gk, 8 * w[1].numpy() ** 2 * k.numpy(), rtol=1e-10)
        assert not gq.any() and not gv.any()
    with pytest.raises(ValueError, match="split_heads"):
        split_heads(dl.zeros(2, 3, 10), 3, 2, True)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch(torch, rng, norm_first, activation):
    tm = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation=activation,
                                          norm_first=norm_first, batch_first=True)
    m = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation=activation,
                                   norm_first=norm_first, batch_first=True)
    load_from(m, tm)
    x = rng.standard_normal((2, 9, 16)).astype(np.float32)
    mask = nn.Transformer.generate_square_subsequent_mask(9)
    tx, X = dl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = m(tx, src_mask=mask, is_causal=True)
    Y = tm(X, src_mask=torch.nn.Transformer.generate_square_subsequent_mask(9), is_causal=True)
    np.testing.assert_allclose(y.numpy(), Y.detach().numpy(), atol=1e-4)
    y.sum().backward()
    Y.sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), X.grad.numpy(), atol=1e-4)
    check_grads(m, tm)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(torch, rng, norm_first):
    tm = torch.nn.TransformerDecoderLayer(16, 2, 24, dropout=0.0, norm_first=norm_first)
    m = nn.TransformerDecoderLayer(16, 2, 24, dropout=0.0, norm_first=norm_first)
    load_from(m, tm)
    t = rng.standard_normal((6, 2, 16)).astype(np.float32)
    mem = rng.standard_normal((8, 2, 16)).astype(np.float32)
    kpm = np.zeros((2, 8), bool)
    kpm[0, 5:] = True
    tt, tmem = dl.tensor(t, requires_grad=True), dl.tensor(mem, requires_grad=True)
    y = m(tt, tmem, tgt_mask=nn.Transformer.generate_square_subsequent_mask(6),
          memory_key_padding_mask=dl.tensor(kpm))
    T, MEM = torch.tensor(t, requires_grad=True), torch.tensor(mem, requires_grad=True)
    Y = tm(T, MEM, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(6),
           memory_key_padding_mask=torch.tensor(kpm))
    np.testing.assert_allclose(y.numpy(), Y.detach().numpy(), atol=1e-4)
    y.sum().backward()
    Y.sum().backward()
    np.testing.assert_allclose(tt.grad.numpy(), T.grad.numpy(), atol=1e-4)
    np.testing.assert_allclose(tmem.grad.numpy(), MEM.grad.numpy(), atol=1e-4)
    check_grads(m, tm)


def test_full_transformer_matches_torch(torch, rng):
    tm = torch.nn.Transformer(16, 2, 2, 2, 32, dropout=0.0, batch_first=True)
    m = nn.Transformer(16, 2, 2, 2, 32, dropout=0.0, batch_first=True)
    load_from(m, tm)
    assert "encoder.layers.1.self_attn.in_proj_weight" in m.state_dict()
    assert "decoder.norm.weight" in m.state_dict()
    src = rng.standard_normal((2, 7, 16)).astype(np.float32)
    tgt = rng.standard_normal((2, 5, 16)).astype(np.float32)
    y = m(dl.tensor(src), dl.tensor(tgt), tgt_mask=m.generate_square_subsequent_mask(5))
    Y = tm(torch.tensor(src), torch.tensor(tgt),
           tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(5))
    np.testing.assert_allclose(y.numpy(), Y.detach().numpy(), atol=1e-4)


def test_bad_input():
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 3)
    m = nn.MultiheadAttention(8, 2)
    with pytest.raises(ValueError, match="embed_dim=8"):
        m(dl.randn(3, 2, 7), dl.randn(3, 2, 7), dl.randn(3, 2, 7))
    with pytest.raises(ValueError, match="attn_mask must be"):
        m(dl.randn(3, 2, 8), dl.randn(4, 2, 8), dl.randn(4, 2, 8),
          attn_mask=dl.tensor(np.zeros((3, 3), bool)))
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="swishy")
