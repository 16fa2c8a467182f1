"""Token-by-token generation for causal language models that keep a key/value cache: sampling
(greedy, temperature, top-k, top-p), generate / complete / chat with streaming, and timings.

A model using GenerationMixin provides `forward(ids)` (feeds token ids after the cached ones and
returns the last position's logits), `reset()` (empties the cache), `max_seq_len` and
`tokenizer` (a dlcore.text.BPETokenizer or None).
"""
import time

import numpy as np

from ..autograd import no_grad
from ..random import rng as _rng

__all__ = ["sample_next_token", "GenerationMixin"]


def sample_next_token(logits, temperature=0.0, top_k=None, top_p=None, generator=None):
    """One token id from a (V,) row of logits: the argmax when temperature == 0, else a draw
    from softmax(logits / temperature) restricted to the top_k most likely tokens and then to
    the smallest set whose probability reaches top_p (nucleus sampling)."""
    z = np.asarray(logits).reshape(-1)
    if temperature is None or temperature == 0:
        return int(np.argmax(z))
    if temperature < 0:
        raise ValueError("sample_next_token: temperature must be >= 0, got %r" % (temperature,))
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError("sample_next_token: top_p must be in (0, 1], got %r" % (top_p,))
    V = z.shape[0]
    k = V if top_k is None or top_k <= 0 else min(int(top_k), V)
    if k < V:
        idx = np.argpartition(z, V - k)[V - k:]
    else:
        idx = np.arange(V)
    zz = z[idx].astype(np.float64) / float(temperature)
    order = np.argsort(-zz, kind="stable")
    idx, zz = idx[order], zz[order]
    p = np.exp(zz - zz[0])
    p /= p.sum()
    if top_p is not None and top_p < 1.0:
        # keep tokens until the cumulative probability reaches top_p (at least one)
        keep = int(np.searchsorted(np.cumsum(p), top_p) + 1)
        idx, p = idx[:keep], p[:keep] / p[:keep].sum()
    u = _rng(generator).random()
    j = min(int(np.searchsorted(np.cumsum(p), u, side="right")), len(p) - 1)
    return int(idx[j])


class GenerationMixin:
    """generate, complete and chat over a model's cached forward (see the module doc)."""

    def _encode(self, prompt):
        if isinstance(prompt, str):
            if self.tokenizer is None:
                raise ValueError("generate: a text prompt needs the tokenizer")
            return self.tokenizer.encode(prompt)
        return [int(t) for t in np.asarray(prompt).reshape(-1)]

    def _default_stop_tokens(self):
        stop = set()
        if self.tokenizer is not None:
            if self.tokenizer.eos_token_id is not None:
                stop.add(self.tokenizer.eos_token_id)
            for t in ("<|im_end|>", "<|endoftext|>"):
                if t in self.tokenizer.special:
                    stop.add(self.tokenizer.special[t])
        return stop

    def generate(self, prompt, max_new_tokens=64, temperature=0.0, top_k=None, top_p=None,
                 stop_tokens=None, callback=None, generator=None, use_cache=True,
                 repetition_penalty=1.0):
        """Continue `prompt` (text or token ids) from an empty cache; returns the new token ids.

        temperature=0 is greedy decoding; otherwise top_k / top_p restrict the draw
        (see sample_next_token).  stop_tokens: ids that end generation (default: the
        tokenizer's end-of-sequence, <|im_end|> and <|endoftext|>), not included in the result.
        callback(id, text): called for every new token as soon as it is chosen, with the decoded
        piece ('' while a UTF-8 character is incomplete) — streaming; a final call with id -1
        flushes held-back bytes.  use_cache=False recomputes the whole sequence every step
        (slow; a check of the cache).  repetition_penalty > 1 divides the positive logits
        (multiplies the negative ones) of tokens already in the sequence.
        Timings of the call are left in `self.last_stats`.
        """
        if max_new_tokens < 0:
            raise ValueError("generate: max_new_tokens must be >= 0, got %r" % (max_new_tokens,))
        ids = self._encode(prompt)
        if not ids:
            raise ValueError("generate: empty prompt")
        if len(ids) + max_new_tokens > self.max_seq_len:
            raise ValueError("generate: prompt (%d) + max_new_tokens (%d) exceed max_seq_len=%d"
                             % (len(ids), max_new_tokens, self.max_seq_len))
        stop = self._default_stop_tokens() if stop_tokens is None else stop_tokens
        stop = set(int(t) for t in stop)
        dec = self.tokenizer.stream_decoder() if (callback and self.tokenizer) else None
        with no_grad():
            out, t0, t1, t2 = self._decode(ids, max_new_tokens, temperature, top_k, top_p, stop,
                                           callback, dec, generator, use_cache,
                                           repetition_penalty)
        if dec is not None:
            rest = dec.flush()
            if rest:
                callback(-1, rest)
        # decode steps = forward calls after the prompt (the last token needs none)
        steps = max(len(out) - 1, 0) if len(out) == max_new_tokens else len(out)
        self.last_stats = {"prompt_tokens": len(ids), "new_tokens": len(out),
                           "prefill_s": t1 - t0, "decode_s": t2 - t1,
                           "tokens_per_s": steps / (t2 - t1) if steps and t2 > t1 else 0.0}
        return out

    def _decode(self, ids, max_new_tokens, temperature, top_k, top_p, stop, callback, dec,
                generator, use_cache, repetition_penalty):
        seq = list(ids)
        out = []
        self.reset()
        t0 = time.perf_counter()
        logits = self.forward(ids).numpy()
        t1 = time.perf_counter()
        for step in range(max_new_tokens):
            z = logits
            if repetition_penalty != 1.0:
                z = z.copy()
                prev = np.unique(np.asarray(seq, dtype=np.int64))
                zp = z[prev]
                z[prev] = np.where(zp > 0, zp / repetition_penalty, zp * repetition_penalty)
            tok = sample_next_token(z, temperature, top_k, top_p, generator)
            if tok in stop:
                break
            out.append(tok)
            seq.append(tok)
            if callback is not None:
                callback(tok, dec.push(tok) if dec else "")
            if step + 1 == max_new_tokens:
                break
            if use_cache:
                logits = self.forward([tok]).numpy()
            else:
                self.reset()
                logits = self.forward(seq).numpy()
        return out, t0, t1, time.perf_counter()

    def complete(self, prompt, **kw):
        """Text continuation of a text prompt."""
        return self.tokenizer.decode(self.generate(prompt, **kw))

    def chat(self, messages, max_new_tokens=256, stream=None, **kw):
        """Reply to a conversation [{"role": "user", "content": ...}, ...] with the tokenizer's
        chat template; stream(text) receives the reply as it is generated.  Returns the reply
        text."""
        if self.tokenizer is None:
            raise ValueError("chat: needs the tokenizer")
        prompt = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True)

        def cb(_tok, text):
            if text:
                stream(text)
        ids = self.generate(self.tokenizer.encode(prompt), max_new_tokens=max_new_tokens,
                            callback=cb if stream is not None else None, **kw)
        return self.tokenizer.decode(ids, skip_special=True)
