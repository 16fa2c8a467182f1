"""BERT's WordPiece tokenizer, written to give the same ids as Hugging Face `tokenizers`
(BertNormalizer + BertPreTokenizer + WordPiece + the [CLS] A [SEP] B [SEP] template).

Pipeline for one text:
1. special tokens written literally in the text ("[SEP]") are split out untouched;
2. normalise: drop NUL / U+FFFD / control characters, map whitespace to ' ', put spaces around
   CJK ideographs, strip accents (NFD, drop combining marks), lower-case character by character;
3. pre-tokenise: split on whitespace, isolate every punctuation character;
4. WordPiece: greedy longest-match-first against the vocabulary, continuation pieces prefixed
   '##'; a word with no full cover (or longer than 100 characters) becomes [UNK].
"""
import json
import os
import re
import unicodedata

import numpy as np

# Unicode White_Space (what Rust's char::is_whitespace tests), which the reference tokenizer uses
_WHITESPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                        "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
_ASCII_PUNCT = frozenset('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')


def _is_whitespace(c):
    return c in _WHITESPACE


def _is_control(c):
    if c in "\t\n\r":
        return False
    return unicodedata.category(c)[0] == "C"


def _is_cjk(c):
    cp = ord(c)
    return any(lo <= cp <= hi for lo, hi in _CJK)


def _is_punct(c):
    return c in _ASCII_PUNCT or unicodedata.category(c)[0] == "P"


class BasicTokenizer:
    """Normalisation and splitting into words and punctuation (steps 2-3 above)."""

    def __init__(self, lowercase=True, strip_accents=None, handle_chinese_chars=True,
                 clean_text=True):
        self.lowercase = bool(lowercase)
        # like BERT: accents follow lower-casing unless set explicitly
        self.strip_accents = self.lowercase if strip_accents is None else bool(strip_accents)
        self.handle_chinese_chars = bool(handle_chinese_chars)
        self.clean_text = bool(clean_text)

    def normalize(self, text):
        if self.clean_text:
            text = "".join(" " if _is_whitespace(c) else c for c in text
                           if not (c == "\0" or c == "\ufffd" or _is_control(c)))
        if self.handle_chinese_chars:
            text = "".join(" %s " % c if _is_cjk(c) else c for c in text)
        if self.strip_accents:
            text = "".join(c for c in unicodedata.normalize("NFD", text)
                           if unicodedata.category(c) != "Mn")
        if self.lowercase:
            # per character, as the reference does (no context-dependent final sigma)
            text = "".join(c.lower() for c in text)
        return text

    def split(self, text):
        words, cur = [], []
        for c in text:
            if _is_whitespace(c):
                if cur:
                    words.append("".join(cur))
                    cur = []
            elif _is_punct(c):
                if cur:
                    words.append("".join(cur))
                    cur = []
                words.append(c)
            else:
                cur.append(c)
        if cur:
            words.append("".join(cur))
        return words

    def tokenize(self, text):
        return self.split(self.normalize(text))


class WordPieceTokenizer:
    """BERT tokenizer: text -> ids with [CLS]/[SEP], pairs, truncation, padding, batches.

        tok = WordPieceTokenizer.from_vocab_file("vocab.txt")
        batch = tok(["a sentence", "another one"], max_length=128)
        batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]  # int64 (B, T)
    """

    def __init__(self, vocab, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                 pad_token="[PAD]", mask_token="[MASK]", lowercase=True, strip_accents=None,
                 handle_chinese_chars=True, clean_text=True, continuing_prefix="##",
                 max_input_chars_per_word=100, model_max_length=512, special_tokens=None):
        if isinstance(vocab, (list, tuple)):
            vocab = {t: i for i, t in enumerate(vocab)}
        if not isinstance(vocab, dict) or not vocab:
            raise ValueError("WordPieceTokenizer: vocab must be a non-empty dict token -> id")
        self.vocab = dict(vocab)
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}
        for name, tok in (("unk_token", unk_token), ("cls_token", cls_token),
                          ("sep_token", sep_token), ("pad_token", pad_token)):
            if tok not in self.vocab:
                raise ValueError("WordPieceTokenizer: %s %r is not in the vocabulary"
                                 % (name, tok))
        self.unk_token, self.cls_token, self.sep_token = unk_token, cls_token, sep_token
        self.pad_token, self.mask_token = pad_token, mask_token
        self.unk_id, self.cls_id = self.vocab[unk_token], self.vocab[cls_token]
        self.sep_id, self.pad_id = self.vocab[sep_token], self.vocab[pad_token]
        self.basic = BasicTokenizer(lowercase, strip_accents, handle_chinese_chars, clean_text)
        self.prefix = continuing_prefix
        self.max_input_chars_per_word = int(max_input_chars_per_word)
        self.model_max_length = int(model_max_length)
        if special_tokens is None:
            special_tokens = [t for t in (pad_token, unk_token, cls_token, sep_token, mask_token)
                              if t in self.vocab]
        self.special_tokens = list(special_tokens)
        self._special_re = (re.compile("(%s)" % "|".join(
            re.escape(t) for t in sorted(self.special_tokens, key=len, reverse=True)))
            if self.special_tokens else None)
        self._cache = {}

    # ---- construction ----------------------------------------------------------------------
    @classmethod
    def from_vocab_file(cls, path, **kwargs):
        """From a BERT vocab.txt (one token per line, id = line number)."""
        with open(os.fspath(path), encoding="utf-8") as f:
            tokens = [line.rstrip("\r\n") for line in f]
        # a trailing newline must not add an empty token
        while tokens and tokens[-1] == "":
            tokens.pop()
        return cls(tokens, **kwargs)

    @classmethod
    def from_tokenizer_json(cls, path, **kwargs):
        """From a Hugging Face tokenizer.json whose model is WordPiece (BERT-style)."""
        with open(os.fspath(path), encoding="utf-8") as f:
            spec = json.load(f)
        model = spec.get("model") or {}
        if model.get("type") != "WordPiece":
            raise ValueError("%s: tokenizer model is %r, expected 'WordPiece'"
                             % (path, model.get("type")))
        norm = spec.get("normalizer") or {}
        if norm and norm.get("type") != "BertNormalizer":
            raise ValueError("%s: normalizer %r is not supported (expected BertNormalizer)"
                             % (path, norm.get("type")))
        args = dict(unk_token=model.get("unk_token", "[UNK]"),
                    continuing_prefix=model.get("continuing_subword_prefix", "##"),
                    max_input_chars_per_word=model.get("max_input_chars_per_word", 100),
                    lowercase=norm.get("lowercase", True),
                    strip_accents=norm.get("strip_accents"),
                    handle_chinese_chars=norm.get("handle_chinese_chars", True),
                    clean_text=norm.get("clean_text", True),
                    special_tokens=[t["content"] for t in spec.get("added_tokens", [])
                                    if t.get("special")] or None)
        trunc = spec.get("truncation")
        if trunc and trunc.get("max_length"):
            args["model_max_length"] = trunc["max_length"]
        args.update(kwargs)
        return cls(model["vocab"], **args)

    @classmethod
    def from_pretrained(cls, directory, **kwargs):
        """From a model directory holding tokenizer.json or vocab.txt (+ tokenizer_config.json)."""
        d = os.fspath(directory)
        cfg = {}
        cfg_path = os.path.join(d, "tokenizer_config.json")
        if os.path.exists(cfg_path):
            with open(cfg_path, encoding="utf-8") as f:
                cfg = json.load(f)
        if os.path.exists(os.path.join(d, "tokenizer.json")):
            tok = cls.from_tokenizer_json(os.path.join(d, "tokenizer.json"), **kwargs)
        elif os.path.exists(os.path.join(d, "vocab.txt")):
            args = {"lowercase": cfg.get("do_lower_case", True),
                    "strip_accents": cfg.get("strip_accents"),
                    "handle_chinese_chars": cfg.get("tokenize_chinese_chars", True)}
            args.update(kwargs)
            tok = cls.from_vocab_file(os.path.join(d, "vocab.txt"), **args)
        else:
            raise FileNotFoundError("%s has neither tokenizer.json nor vocab.txt" % d)
        if "model_max_length" in cfg and "model_max_length" not in kwargs:
            tok.model_max_length = int(cfg["model_max_length"])
        return tok

    def __len__(self):
        return len(self.vocab)

    # ---- tokenisation ----------------------------------------------------------------------
    def _wordpiece(self, word):
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        if len(word) > self.max_input_chars_per_word:
            out = [self.unk_id]
        else:
            out, start, n = [], 0, len(word)
            while start < n:
                end = n
                piece = None
                while start < end:
                    sub = word[start:end]
                    if start > 0:
                        sub = self.prefix + sub
                    pid = self.vocab.get(sub)
                    if pid is not None:
                        piece = pid
                        break
                    end -= 1
                if piece is None:
                    out = [self.unk_id]
                    break
                out.append(piece)
                start = end
        if len(self._cache) < 100000:
            self._cache[word] = out
        return out

    def _ids(self, text):
        if not isinstance(text, str):
            raise TypeError("WordPieceTokenizer: expected a str, got %s" % type(text).__name__)
        parts = self._special_re.split(text) if self._special_re else [text]
        ids = []
        for i, part in enumerate(parts):
            if i % 2:  # a literal special token
                ids.append(self.vocab[part])
                continue
            for w in self.basic.tokenize(part):
                ids.extend(self._wordpiece(w))
        return ids

    def tokenize(self, text):
        """Word pieces (strings) of `text`, without special tokens."""
        return [self.ids_to_tokens[i] for i in self._ids(text)]

    def convert_tokens_to_ids(self, tokens):
        return [self.vocab.get(t, self.unk_id) for t in tokens]

    def convert_ids_to_tokens(self, ids):
        return [self.ids_to_tokens.get(int(i), self.unk_token) for i in ids]

    def decode(self, ids, skip_special_tokens=True):
        toks = self.convert_ids_to_tokens(ids)
        if skip_special_tokens:
            toks = [t for t in toks if t not in self.special_tokens]
        text = " ".join(toks).replace(" " + self.prefix, "")
        return re.sub(r" ([.,!?'])", r"\1", text)

    @staticmethod
    def _truncate_pair(n1, n2, budget):
        # the reference's LongestFirst: keep the shorter whole when it fits in half, else halve
        swap = n1 > n2
        if swap:
            n1, n2 = n2, n1
        n2 = n1 if n1 > budget else max(n1, budget - n1)
        if n1 + n2 > budget:
            n1 = budget // 2
            n2 = n1 + budget % 2
        return (n2, n1) if swap else (n1, n2)

    def encode(self, text, pair=None, max_length=None, truncation=True,
               add_special_tokens=True):
        """(input_ids, token_type_ids) lists for one text or pair."""
        a = self._ids(text)
        b = self._ids(pair) if pair is not None else None
        extra = (3 if b is not None else 2) if add_special_tokens else 0
        if max_length is None:
            max_length = self.model_max_length
        if truncation and len(a) + (len(b) if b else 0) + extra > max_length:
            budget = max(max_length - extra, 0)
            if b is None:
                a = a[:budget]
            else:
                n1, n2 = self._truncate_pair(len(a), len(b), budget)
                a, b = a[:n1], b[:n2]
        if not add_special_tokens:
            ids = a + (b or [])
            return ids, [0] * len(a) + [1] * len(b or [])
        ids = [self.cls_id] + a + [self.sep_id]
        types = [0] * len(ids)
        if b is not None:
            ids += b + [self.sep_id]
            types += [1] * (len(b) + 1)
        return ids, types

    def __call__(self, texts, pairs=None, padding="longest", truncation=True, max_length=None,
                 add_special_tokens=True):
        """Batch encoding: dict of int64 arrays input_ids, attention_mask, token_type_ids.

        padding: "longest" (to the longest in the batch), "max_length", or False (then every
        text must have the same length). A single str is treated as a batch of one.
        """
        if isinstance(texts, str):
            texts = [texts]
            if isinstance(pairs, str):
                pairs = [pairs]
        texts = list(texts)
        if pairs is not None:
            pairs = list(pairs)
            if len(pairs) != len(texts):
                raise ValueError("WordPieceTokenizer: %d texts but %d pairs"
                                 % (len(texts), len(pairs)))
        if padding not in ("longest", "max_length", True, False, None):
            raise ValueError("WordPieceTokenizer: padding must be 'longest', 'max_length' or "
                             "False, got %r" % (padding,))
        if max_length is None:
            max_length = self.model_max_length
        enc = [self.encode(t, pairs[i] if pairs is not None else None, max_length, truncation,
                           add_special_tokens) for i, t in enumerate(texts)]
        lens = [len(ids) for ids, _ in enc]
        if padding == "max_length":
            width = max([max_length] + lens)
        elif padding:
            width = max(lens, default=0)
        else:
            if len(set(lens)) > 1:
                raise ValueError("WordPieceTokenizer: texts have different lengths %s; use "
                                 "padding='longest'" % sorted(set(lens)))
            width = lens[0] if lens else 0
        n = len(enc)
        input_ids = np.full((n, width), self.pad_id, dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        types = np.zeros((n, width), dtype=np.int64)
        for i, (ids, tt) in enumerate(enc):
            input_ids[i, :len(ids)] = ids
            mask[i, :len(ids)] = 1
            types[i, :len(tt)] = tt
        return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": types}
