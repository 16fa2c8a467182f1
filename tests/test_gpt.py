"""Positional encodings and the decoder-only GPT model: shapes, causality, KV-cache equivalence,
gradients, torch parity on loaded weights."""
import math

import numpy as np
import pytest

import dlcore as dl
import dlcore.nn as nn
from dlcore.models import GPT, GPTConfig


def _cfg(**kw):
    base = dict(vocab_size=13, block_size=12, n_layer=2, n_head=2, n_embd=16)
    base.update(kw)
    return GPTConfig(**base)


def _ids(rng, n, t, v=13):
    return rng.integers(0, v, size=(n, t)).astype(np.int64)


# ---------------------------------------------------------------- positional encodings

def test_sinusoidal_values_and_layouts():
    pe = nn.SinusoidalPositionalEncoding(6, max_len=10)
    x = dl.zeros(2, 4, 6)
    out = pe(x, offset=3).numpy()
    for p in range(4):
        for i in range(3):
            ang = (p + 3) / 10000 ** (2 * i / 6)
            assert out[1, p, 2 * i] == pytest.approx(math.sin(ang), abs=1e-6)
            assert out[1, p, 2 * i + 1] == pytest.approx(math.cos(ang), abs=1e-6)
    seq_first = nn.SinusoidalPositionalEncoding(6, max_len=10, batch_first=False)
    out2 = seq_first(dl.zeros(4, 2, 6), offset=3).numpy()
    np.testing.assert_allclose(out2.transpose(1, 0, 2), out, atol=1e-7)
    assert "pe" not in pe.state_dict()  # a fixed function of position, not a weight
    odd = nn.SinusoidalPositionalEncoding(5, max_len=4)(dl.zeros(4, 5)).numpy()
    assert odd.shape == (4, 5) and odd[1, 4] == pytest.approx(math.sin(1 / 10000 ** 0.8), abs=1e-6)


def test_positional_errors():
    pe = nn.SinusoidalPositionalEncoding(8, max_len=5)
    with pytest.raises(ValueError, match="max_len"):
        pe(dl.zeros(1, 6, 8))
    with pytest.raises(ValueError, match="d_model=8"):
        pe(dl.zeros(1, 3, 7))
    lp = nn.LearnedPositionalEmbedding(5, 8)
    with pytest.raises(ValueError, match="max_len=5"):
        lp(dl.zeros(1, 3, 8), offset=3)
    with pytest.raises(ValueError, match="4-D|2-D or|must be"):
        lp(dl.zeros(1, 1, 3, 8))


def test_learned_positional_gradient():
    lp = nn.LearnedPositionalEmbedding(7, 4)
    x = dl.randn(3, 4, 4, requires_grad=True)
    lp(x, offset=2).sum().backward()
    g = lp.weight.grad.numpy()
    np.testing.assert_allclose(g[2:6], 3.0)  # each used row gets one gradient per batch item
    assert np.all(g[:2] == 0) and np.all(g[6:] == 0)
    np.testing.assert_allclose(x.grad.numpy(), 1.0)
    assert list(lp.state_dict()) == ["weight"]


# ---------------------------------------------------------------- GPT

def test_gpt_shapes_tied_head_and_keys():
    m = GPT(_cfg())
    idx = _ids(np.random.default_rng(0), 3, 7)
    assert tuple(m(idx).shape) == (3, 7, 13)
    assert m.lm_head.weight is m.wte.weight
    params = list(m.parameters())
    assert len(params) == len({id(p) for p in params})
    E, V, L = 16, 13, 2
    per_block = 2 * 2 * E + (3 * E * E + 3 * E) + (E * E + E) + (4 * E * E + 4 * E) + (4 * E * E + E)
    assert m.num_parameters() == V * E + 12 * E + L * per_block + 2 * E
    keys = set(m.state_dict())
    for k in ("wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.1.attn.c_attn.weight",
              "h.1.attn.c_proj.bias", "h.0.mlp.c_fc.weight", "h.0.mlp.c_proj.weight",
              "ln_f.bias", "lm_head.weight"):
        assert k in keys
    untied = GPT(_cfg(tie_weights=False, pos="sinusoidal"))
    assert untied.lm_head.weight is not untied.wte.weight
    assert "wpe.weight" not in untied.state_dict()


def test_gpt_bad_input():
    m = GPT(_cfg())
    with pytest.raises(ValueError, match="block_size=12"):
        m(np.zeros((1, 13), np.int64))
    with pytest.raises(ValueError, match=r"\[0, 13\)"):
        m(np.full((1, 3), 13, np.int64))
    with pytest.raises(ValueError, match="2-D"):
        m(np.zeros(3, np.int64))
    with pytest.raises(TypeError, match="integer"):
        m(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(vocab_size=5, n_embd=10, n_head=3)


def test_gpt_causal_output_independent_of_future():
    m = GPT(_cfg(dropout=0.0))
    rng = np.random.default_rng(1)
    a = _ids(rng, 2, 10)
    t = 4
    b = a.copy()
    b[:, t + 1:] = _ids(rng, 2, 10 - t - 1)
    la, lb = m(a).numpy(), m(b).numpy()
    np.testing.assert_allclose(la[:, :t + 1], lb[:, :t + 1], rtol=1e-5, atol=1e-6)
    assert np.abs(la[:, t + 1:] - lb[:, t + 1:]).max() > 1e-4
    # and through the gradient: logit at t has no gradient path to embeddings after t
    m.zero_grad()
    m(a)[:, t].sum().backward()
    g = m.wpe.weight.grad.numpy()
    assert np.all(g[t + 1:] == 0) and np.abs(g[:t + 1]).sum() > 0


def test_gpt_gradient_reaches_every_parameter():
    m = GPT(_cfg())
    rng = np.random.default_rng(2)
    idx = _ids(rng, 4, 12)
    loss = m.loss(idx[:, :-1], idx[:, 1:])
    assert loss.item() == pytest.approx(math.log(13), rel=0.1)  # small init: near uniform
    loss.backward()
    for name, p in m.named_parameters():
        assert p.grad is not None, name
        assert np.isfinite(p.grad.numpy()).all(), name
        if name != "wpe.weight":
            assert np.abs(p.grad.numpy()).max() > 0, name


def test_gpt_block_gradcheck_float64():
    from dlcore.models.gpt import GPTBlock
    block = GPTBlock(_cfg(n_embd=8)).double()
    x = dl.tensor(np.random.default_rng(3).normal(size=(2, 5, 8)), requires_grad=True)
    assert dl.autograd.gradcheck(lambda x: block(x), (x,))


def test_gpt_learns_a_repeating_pattern():
    m = GPT(_cfg(block_size=16))
    opt = dl.optim.Adam(m.parameters(), lr=1e-2)
    seq = np.tile(np.array([1, 5, 2, 7, 3], np.int64), 8)[None, :17].repeat(4, 0)
    first = None
    for _ in range(60):
        loss = m.loss(seq[:, :-1], seq[:, 1:])
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first
    out = m.generate(seq[:1, :5], 10, greedy=True).numpy()[0]
    np.testing.assert_array_equal(out, np.tile([1, 5, 2, 7, 3], 3))


@pytest.mark.parametrize("pos", ["learned", "sinusoidal"])
def test_kv_cache_generation_matches_uncached(pos):
    m = GPT(_cfg(pos=pos)).double()
    # give the random model sharper distributions so greedy/sampled paths are non-trivial
    for p in m.parameters():
        p._data *= 8.0 if p.ndim == 2 else 1.0
    rng = np.random.default_rng(4)
    prompt = _ids(rng, 3, 4)
    # 20 new tokens overflow block_size=12: the window slides and the cache is refilled
    a = m.generate(prompt, 20, greedy=True, use_cache=True).numpy()
    b = m.generate(prompt, 20, greedy=True, use_cache=False).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3, 24) and len(np.unique(a[:, 4:])) > 1
    dl.manual_seed(7)
    c = m.generate(prompt, 20, temperature=0.9, top_k=5, use_cache=True).numpy()
    dl.manual_seed(7)
    d = m.generate(prompt, 20, temperature=0.9, top_k=5, use_cache=False).numpy()
    np.testing.assert_array_equal(c, d)
    assert not np.array_equal(a, c)
    assert m.training  # generate restores the mode it found


def test_kv_cache_logits_match_full_forward():
    m = GPT(_cfg())
    idx = _ids(np.random.default_rng(5), 2, 11)
    full = m(idx).numpy()
    cache = m.new_cache(2)
    parts = [m(idx[:, :3], cache), m(idx[:, 3:4], cache), m(idx[:, 4:8], cache),
             m(idx[:, 8:9], cache), m(idx[:, 9:], cache)]
    assert cache.length == 11
    stepped = np.concatenate([p.numpy() for p in parts], axis=1)
    np.testing.assert_allclose(stepped, full, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="block_size"):
        m(idx[:, :2], cache)


def test_gpt_parity_with_torch_on_loaded_weights(torch):
    cfg = _cfg(tie_weights=True)
    m = GPT(cfg).double()
    sd = {k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()}
    idx = _ids(np.random.default_rng(6), 2, 9)
    ti = torch.tensor(idx)
    E, H = cfg.n_embd, cfg.n_head
    Fn = torch.nn.functional
    with torch.no_grad():
        x = sd["wte.weight"][ti] + sd["wpe.weight"][:9]
        for i in range(cfg.n_layer):
            p = "h.%d." % i
            h = Fn.layer_norm(x, (E,), sd[p + "ln_1.weight"], sd[p + "ln_1.bias"])
            qkv = Fn.linear(h, sd[p + "attn.c_attn.weight"], sd[p + "attn.c_attn.bias"])
            q, k, v = (t.reshape(2, 9, H, E // H).transpose(1, 2) for t in qkv.split(E, -1))
            y = Fn.scaled_dot_product_attention(q, k, v, is_causal=True)
            y = y.transpose(1, 2).reshape(2, 9, E)
            x = x + Fn.linear(y, sd[p + "attn.c_proj.weight"], sd[p + "attn.c_proj.bias"])
            h = Fn.layer_norm(x, (E,), sd[p + "ln_2.weight"], sd[p + "ln_2.bias"])
            h = Fn.gelu(Fn.linear(h, sd[p + "mlp.c_fc.weight"], sd[p + "mlp.c_fc.bias"]),
                        approximate="tanh")
            x = x + Fn.linear(h, sd[p + "mlp.c_proj.weight"], sd[p + "mlp.c_proj.bias"])
        x = Fn.layer_norm(x, (E,), sd["ln_f.weight"], sd["ln_f.bias"])
        ref = Fn.linear(x, sd["wte.weight"]).numpy()
    np.testing.assert_allclose(m(idx).numpy(), ref, rtol=1e-9, atol=1e-10)
