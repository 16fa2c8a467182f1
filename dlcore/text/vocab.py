"""Small text utilities for sequence models: a character/word vocabulary and sampling of the
next token from a model's logits (temperature, top-k)."""
import re
from collections import Counter

import numpy as np

from .. import random as R
from ..tensor import Tensor

__all__ = ["Vocab", "sample_logits"]


class Vocab:
    """Maps tokens (characters or words) to ids 0..len-1 and back.

    Vocab.build(text, level="char") or level="word" (lower-cased runs of letters/digits and
    single punctuation marks); specials (e.g. "<pad>", "<unk>") come first, then tokens by
    decreasing frequency (ties in first-seen order); min_freq and max_size trim rare tokens,
    which then encode as "<unk>" when it is a special, else raise KeyError.
    """

    WORD = re.compile(r"[A-Za-z0-9']+|[^\sA-Za-z0-9']")

    def __init__(self, tokens, specials=(), level="char"):
        if level not in ("char", "word"):
            raise ValueError("Vocab: level must be 'char' or 'word', got %r" % (level,))
        self.level = level
        self.itos = list(specials) + [t for t in tokens if t not in specials]
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("Vocab: tokens must be distinct")
        self.unk_index = self.stoi.get("<unk>")
        self.pad_index = self.stoi.get("<pad>")

    @classmethod
    def tokenize(cls, text, level="char"):
        if level == "char":
            return list(text)
        if level == "word":
            return [w.lower() for w in cls.WORD.findall(text)]
        raise ValueError("Vocab: level must be 'char' or 'word', got %r" % (level,))

    @classmethod
    def build(cls, text, level="char", specials=(), min_freq=1, max_size=None):
        counts = Counter(cls.tokenize(text, level))
        order = {t: i for i, t in enumerate(dict.fromkeys(cls.tokenize(text, level)))}
        toks = sorted((t for t, c in counts.items() if c >= min_freq and t not in specials),
                      key=lambda t: (-counts[t], order[t]))
        if max_size is not None:
            toks = toks[:max(0, max_size - len(specials))]
        return cls(toks, specials, level)

    def __len__(self):
        return len(self.itos)

    def __contains__(self, token):
        return token in self.stoi

    def encode(self, text_or_tokens):
        """ids (int64 array) of a string (tokenized at this vocab's level) or a token list."""
        toks = self.tokenize(text_or_tokens, self.level) if isinstance(text_or_tokens, str) \
            else list(text_or_tokens)
        out = np.empty(len(toks), dtype=np.int64)
        for i, t in enumerate(toks):
            j = self.stoi.get(t, self.unk_index)
            if j is None:
                raise KeyError("Vocab.encode: token %r is not in the vocabulary (and there is "
                               "no '<unk>' special)" % (t,))
            out[i] = j
        return out

    def decode(self, ids):
        arr = ids._data if isinstance(ids, Tensor) else np.asarray(ids)
        toks = [self.itos[int(i)] for i in arr.reshape(-1)]
        return "".join(toks) if self.level == "char" else " ".join(toks)


def sample_logits(logits, temperature=1.0, top_k=None, generator=None):
    """Draw one token id per row of `logits` (..., V): softmax(logits / temperature), keeping
    only the top_k most likely tokens when given.  temperature=0 picks the argmax."""
    z = logits._data if isinstance(logits, Tensor) else np.asarray(logits)
    z = z.astype(np.float64)
    if temperature < 0:
        raise ValueError("sample_logits: temperature must be >= 0, got %r" % (temperature,))
    if temperature == 0:
        return z.argmax(axis=-1)
    z = z / temperature
    V = z.shape[-1]
    if top_k is not None:
        if not 1 <= top_k <= V:
            raise ValueError("sample_logits: top_k must be in [1, %d], got %r" % (V, top_k))
        kth = np.partition(z, V - top_k, axis=-1)[..., V - top_k:V - top_k + 1]
        z = np.where(z < kth, -np.inf, z)
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    flat = p.reshape(-1, V)
    u = R.rng(generator).random(flat.shape[0])
    ids = (flat.cumsum(axis=1) < u[:, None]).sum(axis=1)
    return np.minimum(ids, V - 1).reshape(p.shape[:-1])
