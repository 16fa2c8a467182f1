"""LlamaForCausalLM as an ordinary nn.Module, on small random configurations (no model file
needed): cached decoding equals the full forward, the differentiable path (rotary module +
scaled_dot_product_attention) equals the cached one and trains, quantised layers inside the
model, state_dict keys and a save/load round trip, generation on token ids."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.models.llama import LlamaConfig, LlamaForCausalLM
from dlcore.ops.quantized import quantize


def config(**kw):
    c = dict(vocab_size=50, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=96,
             context_length=64, norm_eps=1e-5, rope_base=500.0)
    c.update(kw)
    return LlamaConfig(**c)


def float_model(seed=0, **kw):
    dl.manual_seed(seed)
    m = LlamaForCausalLM(config(**kw), max_seq_len=32)
    # larger weights than the default init make the attention pattern matter
    with dl.no_grad():
        for name, p in m.named_parameters():
            if p.ndim == 2:
                p.mul_(3.0)
    return m


IDS = [3, 17, 42, 8, 8, 29, 1, 45, 12]


def test_cached_decoding_equals_full_forward():
    m = float_model()
    with dl.no_grad():
        m.reset()
        full = m.forward(IDS, all_logits=True).numpy()
        m.reset()
        parts = [m.forward(IDS[:4], all_logits=True).numpy(),      # prefill
                 m.forward(IDS[4:7], all_logits=True).numpy()]     # a chunk after a prefix
        parts += [m.forward([t]).numpy()[None] for t in IDS[7:]]   # single steps
    np.testing.assert_allclose(np.concatenate(parts), full, rtol=1e-4, atol=1e-4)
    assert m.pos == len(IDS)


@pytest.mark.parametrize("heads", [(4, 2), (4, 4), (2, 1)])
def test_differentiable_path_equals_cached_path_and_trains(heads):
    m = float_model(n_heads=heads[0], n_kv_heads=heads[1])
    with dl.no_grad():
        m.reset()
        cached = m.forward(IDS, all_logits=True).numpy()
    m.reset()
    logits = m.forward(IDS, all_logits=True)          # grad mode: no cache, composed ops
    np.testing.assert_allclose(logits.detach().numpy(), cached, rtol=1e-4, atol=1e-4)
    target = dl.tensor(np.array(IDS[1:] + [0]))
    loss = dl.nn.functional.cross_entropy(logits, target)
    loss.backward()
    layer = m.model.layers[0]
    for p in (layer.self_attn.qkv_proj.weight, layer.input_layernorm.weight,
              m.model.embed_tokens.weight, layer.mlp.down_proj.weight):
        assert p.grad is not None and np.abs(p.grad.numpy()).max() > 0
    # the lm head is tied only when asked: here it is its own layer
    assert m.lm_head.weight is not m.model.embed_tokens.weight
    with pytest.raises(ValueError, match="cached positions is not available"):
        m.forward([5])


def test_gradient_of_the_differentiable_path_is_right():
    from dlcore.autograd import gradcheck
    m = float_model(n_layers=1, dim=16, n_heads=2, n_kv_heads=1, ffn_dim=16, vocab_size=10)
    m.double()
    layer, rot = m.model.layers[0], m.model.rotary_emb
    assert rot.cos.dtype == np.float64
    x = dl.tensor(np.random.default_rng(0).standard_normal((4, 16)), dtype=dl.float64,
                  requires_grad=True)
    assert gradcheck(lambda x: layer(x, 0, rot), (x,))


def test_quantized_model_equals_float_model_with_the_dequantized_weights():
    f = float_model(seed=3, dim=64, ffn_dim=96)
    q = LlamaForCausalLM(f.config, max_seq_len=32, kind="Q4_1")
    q.int8_prompt = False      # the exact prompt product (int8: test_llama_int8_prompt.py)
    sd = {}
    for k, t in f.state_dict().items():
        mod = q.get_submodule(k.rsplit(".", 1)[0])
        if isinstance(mod, (dl.nn.QuantizedLinear, dl.nn.QuantizedEmbedding)):
            sd[k] = quantize(t, "Q4_1")
            sd[k.rsplit(".", 1)[0] + ".weight_type"] = dl.tensor(np.array(3))
        else:
            sd[k] = t
    q.load_state_dict(sd)
    with dl.no_grad():
        for name, mod in q.named_modules():
            if isinstance(mod, (dl.nn.QuantizedLinear, dl.nn.QuantizedEmbedding)):
                f.get_submodule(name).weight.copy_(mod.dequantize())
        f.reset()
        q.reset()
        a = f.forward(IDS, all_logits=True).numpy()
        b = q.forward(IDS, all_logits=True).numpy()
    np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-3)
    assert "quantised Q4_1" in repr(q)


def test_state_dict_keys_and_round_trip(tmp_path):
    m = float_model()
    keys = list(m.state_dict())
    assert keys[:2] == ["model.embed_tokens.weight", "model.layers.0.input_layernorm.weight"]
    assert "model.layers.1.self_attn.qkv_proj.weight" in keys
    assert "model.layers.1.mlp.gate_up_proj.weight" in keys
    assert keys[-2:] == ["model.norm.weight", "lm_head.weight"]
    assert not any("cache" in k or "rotary" in k for k in keys)      # rebuilt, not saved
    path = str(tmp_path / "llama.safetensors")
    dl.save(m.state_dict(), path)
    fresh = LlamaForCausalLM(m.config, max_seq_len=32)
    fresh.load_state_dict(dl.load(path))
    with dl.no_grad():
        np.testing.assert_array_equal(fresh.forward(IDS).numpy(), m.forward(IDS).numpy())


def test_tied_head_shares_the_embedding():
    m = LlamaForCausalLM(config(), max_seq_len=16, tied=True)
    assert m.lm_head.weight is m.model.embed_tokens.weight
    q = LlamaForCausalLM(config(), max_seq_len=16, kind="Q8_0", tied=True)
    assert q.lm_head.weight is q.model.embed_tokens.weight


def test_generate_on_token_ids():
    m = float_model()
    a = m.generate(IDS[:3], max_new_tokens=6, stop_tokens=[])
    b = m.generate(IDS[:3], max_new_tokens=6, stop_tokens=[], use_cache=False)
    assert a == b and len(a) == 6
    assert m.last_stats["new_tokens"] == 6
    with pytest.raises(ValueError, match="a text prompt needs the tokenizer"):
        m.generate("hello")
    with pytest.raises(ValueError, match="exceed max_seq_len=32"):
        m.generate(IDS, max_new_tokens=30)


def test_constructor_errors():
    with pytest.raises(ValueError, match="head_dim must be even"):
        LlamaConfig(10, 12, 1, 4, 4, 8)
    with pytest.raises(ValueError, match="multiple of n_kv_heads"):
        LlamaConfig(10, 12, 1, 3, 2, 8)
    with pytest.raises(TypeError, match="quantized apply to a GGUF file"):
        LlamaForCausalLM(config(), quantized=True)
    with pytest.raises(ValueError, match="max_seq_len must be >= 1"):
        LlamaForCausalLM(config(), max_seq_len=0)
    m = LlamaForCausalLM(config(), max_seq_len=1000)
    assert m.max_seq_len == 64                      # clipped to the context length
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 50\)"):
        m.forward([50])


def _copy_quantized(f, m, kind):
    """m's quantized layers hold f's weights rounded to `kind`, its norms f's weights"""
    for name, mod in m.named_modules():
        src = f.get_submodule(name) if name else f
        if isinstance(mod, (dl.nn.QuantizedLinear, dl.nn.QuantizedEmbedding)):
            mod._set_blocks(quantize(src.weight, kind))
        elif isinstance(mod, dl.nn.RMSNorm):
            mod.weight = src.weight


@pytest.mark.parametrize("kind", [None, "Q4_1", "Q8_0"])
def test_fused_inference_path_equals_the_sublayer_by_sublayer_path(kind):
    f = float_model(seed=5)
    m = f if kind is None else LlamaForCausalLM(f.config, max_seq_len=32, kind=kind)
    # the sublayers (QuantizedLinear) multiply prompts exactly: the fused path's exact mode
    # (its int8 prompts: test_llama_int8_prompt.py)
    m.int8_prompt = False
    if kind is not None:
        _copy_quantized(f, m, kind)
    calls = []
    m.model.layers[0].mlp.down_proj.register_forward_hook(lambda *a: calls.append(1))
    out = {}
    with dl.no_grad():
        for fused in (True, False):
            for layer in m.model.layers:
                layer.fused = fused
            m.reset()
            first = m.forward(IDS[:5], all_logits=True).numpy()
            steps = [m.forward([t]).numpy() for t in IDS[5:]]
            out[fused] = (first, steps, len(calls))
            calls.clear()
    np.testing.assert_allclose(out[True][0], out[False][0], rtol=1e-4, atol=1e-4)
    for a, b in zip(out[True][1], out[False][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    # the fused path ran (it bypasses the sublayers' hooks), the other called every sublayer
    assert out[True][2] == 0 and out[False][2] == 1 + len(IDS[5:])


@pytest.mark.parametrize("kind,int8", [(None, False), ("Q4_1", False), ("Q4_1", True)])
def test_next_token_logits_from_the_last_row_alone(kind, int8):
    # forward() without all_logits runs the last layer's sublayers after the attention on the
    # last row only, with the prompt's products: the same logits as the last row of all (to
    # float32 rounding: the head runs packed, test_packed_head_equals_the_head_layer), and
    # the same cache (the next step's logits)
    f = float_model(seed=11)
    m = f if kind is None else LlamaForCausalLM(f.config, max_seq_len=32, kind=kind)
    if kind is not None:
        _copy_quantized(f, m, kind)
    m.int8_prompt = int8
    tol = 1e-5
    with dl.no_grad():
        m.reset()
        full = m.forward(IDS, all_logits=True).numpy()
        after_full = m.forward([7]).numpy()
        m.reset()
        last = m.forward(IDS).numpy()
        after_last = m.forward([7]).numpy()
    assert last.shape == (50,)
    scale = np.abs(full[-1]).max()
    assert np.abs(last - full[-1]).max() <= tol * scale
    np.testing.assert_array_equal(after_last, after_full)
    # the sublayer-by-sublayer path gives the last row too
    for layer in m.model.layers:
        layer.fused = False
    with dl.no_grad():
        m.reset()
        plain = m.forward(IDS).numpy()
    assert np.abs(plain - full[-1]).max() <= (5e-2 if int8 else 1e-4) * scale


def test_packed_layer_follows_replaced_weights():
    f = float_model(seed=7)
    with dl.no_grad():
        f.reset()
        a = f.forward(IDS[:4]).numpy()
        layer = f.model.layers[1]
        packed = layer.__dict__["_packed"]
        layer.mlp.down_proj.weight = dl.nn.Parameter(layer.mlp.down_proj.weight.numpy() * 0.5)
        f.reset()
        b = f.forward(IDS[:4]).numpy()
        assert layer.__dict__["_packed"] is not packed          # packed again
        for lay in f.model.layers:
            lay.fused = False
        f.reset()
        c = f.forward(IDS[:4]).numpy()
    assert not np.allclose(a, b)
    np.testing.assert_allclose(b, c, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", ["Q4_1", "Q8_0"])
def test_packed_head_equals_the_head_layer(kind):
    # one-position logits go through a packed copy of a quantised head (PackedGEMV); all
    # positions through the layer itself: the last row of both agrees to float32 rounding
    f = float_model(seed=3)
    m = LlamaForCausalLM(f.config, max_seq_len=32, kind=kind)
    for name, mod in m.named_modules():
        src = f.get_submodule(name) if name else f
        if isinstance(mod, (dl.nn.QuantizedLinear, dl.nn.QuantizedEmbedding)):
            mod._set_blocks(quantize(src.weight, kind))
    with dl.no_grad():
        m.reset()
        last = m.forward(IDS[:5]).numpy()
        packed = m.__dict__["_packed_head"]
        m.reset()
        every = m.forward(IDS[:5], all_logits=True).numpy()
        np.testing.assert_allclose(last, every[-1], rtol=1e-5, atol=1e-5)
        # a replaced head weight is packed again
        m.lm_head._set_blocks(quantize(f.lm_head.weight * 0.5, kind))
        m.reset()
        half = m.forward(IDS[:5]).numpy()
        assert m.__dict__["_packed_head"] is not packed
        m.reset()
        np.testing.assert_allclose(half, m.forward(IDS[:5], all_logits=True).numpy()[-1],
                                   rtol=1e-5, atol=1e-5)
