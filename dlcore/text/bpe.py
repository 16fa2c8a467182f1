"""Byte-level BPE (GPT-2 style), built from a GGUF file's tokenizer metadata.

Pipeline for one text:
1. special (control) tokens written literally in the text ("<|im_start|>") are split out whole
   when `allow_special` is true;
2. pre-tokenise with the regex the vocabulary was trained with (GGUF `tokenizer.ggml.pre`):
   for 'smollm' (as for StarCoder) every digit is its own piece, then GPT-2's pattern splits
   contractions, letter runs, number runs, punctuation runs and whitespace;
3. each piece's UTF-8 bytes are written as printable characters (GPT-2's byte <-> character
   table, so that every byte has a vocabulary entry) and merged pairwise, always applying the
   lowest-ranked merge present, until none applies;
4. the resulting symbols are looked up in the vocabulary.
Decoding maps the characters back to bytes; `StreamDecoder` holds back incomplete UTF-8.

The `regex` module (Unicode classes \\p{L}, \\p{N}) is used when installed; otherwise the
standard `re` approximates them (letters = [^\\W\\d_], numbers = \\d).
"""
import re as _re

try:
    import regex as _regex
except ImportError:  # pragma: no cover - depends on the environment
    _regex = None

_GPT2_PAT = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")
# the same pattern with the standard library's classes
_GPT2_PAT_RE = r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"

# GGUF tokenizer.ggml.pre -> split digits one by one first?
_DIGIT_SPLIT = {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva"}
_PLAIN_GPT2 = {"gpt2", "default", "gpt-2", None}


def bytes_to_unicode():
    """GPT-2's table: each byte value -> one printable character.  Printable Latin-1 bytes map
    to themselves; the other 68 (controls, space, soft hyphen...) to chr(256 + i) in order."""
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1))
            + list(range(ord("\xae"), ord("\xff") + 1)))
    table = {}
    extra = 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class _PreTokenizer:
    def __init__(self, pre):
        if pre not in _DIGIT_SPLIT and pre not in _PLAIN_GPT2:
            raise ValueError("BPETokenizer: pre-tokenizer %r is not supported (supported: %s)"
                             % (pre, ", ".join(sorted(p for p in _DIGIT_SPLIT | {"gpt2"}))))
        self.split_digits = pre in _DIGIT_SPLIT
        if _regex is not None:
            self._pat = _regex.compile(_GPT2_PAT)
        else:
            self._pat = _re.compile(_GPT2_PAT_RE)

    def __call__(self, text):
        pieces = []
        chunks = _re.split(r"(\d)", text) if self.split_digits else [text]
        for c in chunks:
            if not c:
                continue
            if self.split_digits and len(c) == 1 and c.isdigit():
                pieces.append(c)
                continue
            pieces.extend(self._pat.findall(c))
        return pieces


class BPETokenizer:
    """encode(text) -> list of ids, decode(ids) -> text, apply_chat_template(messages)."""

    def __init__(self, tokens, merges, token_types=None, pre="gpt2", bos_token_id=None,
                 eos_token_id=None, add_bos=False, chat_template=None):
        self.tokens = list(tokens)
        self.vocab = {t: i for i, t in enumerate(self.tokens)}
        self.ranks = {}
        for r, m in enumerate(merges):
            a, sep, b = m.partition(" ")
            if not sep:
                raise ValueError("BPETokenizer: merge %d %r is not two symbols" % (r, m))
            self.ranks.setdefault((a, b), r)
        types = list(token_types) if token_types is not None else [1] * len(self.tokens)
        # type 3 = control, 4 = user-defined: matched whole in the text, never merged into
        self.special = {t: i for i, (t, k) in enumerate(zip(self.tokens, types)) if k in (3, 4)}
        self._special_ids = frozenset(self.special.values())
        if self.special:
            alts = sorted(self.special, key=len, reverse=True)
            self._special_pat = _re.compile("(" + "|".join(_re.escape(s) for s in alts) + ")")
        else:
            self._special_pat = None
        self._pre = _PreTokenizer(pre)
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {c: b for b, c in self.byte_encoder.items()}
        self._tok_bytes = [self._symbol_bytes(t, i) for i, t in enumerate(self.tokens)]
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_id
        self.add_bos = bool(add_bos)
        self.chat_template = chat_template
        self._cache = {}

    @classmethod
    def from_gguf(cls, gguf):
        """From a dl.weights.GGUFFile (or a path to a .gguf file)."""
        if not hasattr(gguf, "metadata"):
            from ..weights import load_gguf
            gguf = load_gguf(gguf)
        md = gguf.metadata
        model = md.get("tokenizer.ggml.model")
        if model != "gpt2":
            raise ValueError("BPETokenizer.from_gguf: tokenizer.ggml.model is %r; only byte-level "
                             "BPE ('gpt2') is supported" % (model,))
        missing = [k for k in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges") if k not in md]
        if missing:
            raise ValueError("BPETokenizer.from_gguf: the GGUF metadata lacks %s (a byte-level "
                             "BPE tokenizer needs its tokens and merges)" % ", ".join(missing))
        return cls(md["tokenizer.ggml.tokens"], md["tokenizer.ggml.merges"],
                   md.get("tokenizer.ggml.token_type"), pre=md.get("tokenizer.ggml.pre", "gpt2"),
                   bos_token_id=md.get("tokenizer.ggml.bos_token_id"),
                   eos_token_id=md.get("tokenizer.ggml.eos_token_id"),
                   add_bos=md.get("tokenizer.ggml.add_bos_token", False),
                   chat_template=md.get("tokenizer.chat_template"))

    def __len__(self):
        return len(self.tokens)

    @property
    def vocab_size(self):
        return len(self.tokens)

    def _symbol_bytes(self, tok, i):
        if i in self._special_ids:
            return tok.encode("utf-8")
        try:
            return bytes(self.byte_decoder[c] for c in tok)
        except KeyError:  # a token outside the byte alphabet: keep its text
            return tok.encode("utf-8")

    # ---- encoding ----
    def _bpe(self, piece):
        ids = self._cache.get(piece)
        if ids is not None:
            return ids
        word = [self.byte_encoder[b] for b in piece.encode("utf-8")]
        ranks = self.ranks
        while len(word) > 1:
            best, best_rank = -1, None
            for i in range(len(word) - 1):
                r = ranks.get((word[i], word[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best < 0:
                break
            a, b = word[best], word[best + 1]
            merged = a + b
            out = []
            i = 0
            # merge every occurrence of the best pair, left to right
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        ids = []
        for sym in word:
            j = self.vocab.get(sym)
            if j is None:  # cannot happen with a complete byte alphabet; fall back to bytes
                ids.extend(self.vocab[c] for c in sym)
            else:
                ids.append(j)
        if len(self._cache) < 100000:
            self._cache[piece] = ids
        return ids

    def encode(self, text, allow_special=True, add_bos=None):
        """Token ids of `text`.  allow_special: control tokens written in the text become their
        ids (otherwise they are tokenised as plain text).  add_bos: None follows the file."""
        if not isinstance(text, str):
            raise TypeError("encode: text must be a str, got %s" % type(text).__name__)
        ids = []
        if (self.add_bos if add_bos is None else add_bos) and self.bos_token_id is not None:
            ids.append(self.bos_token_id)
        parts = (self._special_pat.split(text) if allow_special and self._special_pat
                 else [text])
        for k, part in enumerate(parts):
            if not part:
                continue
            if k % 2 == 1:  # a captured special token
                ids.append(self.special[part])
                continue
            for piece in self._pre(part):
                ids.extend(self._bpe(piece))
        return ids

    def __call__(self, text, **kw):
        return self.encode(text, **kw)

    # ---- decoding ----
    def id_to_bytes(self, i):
        i = int(i)
        if not 0 <= i < len(self.tokens):
            raise ValueError("decode: token id %d is outside the vocabulary [0, %d)"
                             % (i, len(self.tokens)))
        return self._tok_bytes[i]

    def decode(self, ids, skip_special=False):
        out = b"".join(self.id_to_bytes(i) for i in ids
                       if not (skip_special and int(i) in self._special_ids))
        return out.decode("utf-8", errors="replace")

    def is_special(self, i):
        return int(i) in self._special_ids

    def stream_decoder(self, skip_special=True):
        return StreamDecoder(self, skip_special)

    # ---- chat ----
    def default_system_prompt(self):
        """The system message the chat template inserts when the conversation has none."""
        if not self.chat_template:
            return None
        m = _re.search(r"<\|im_start\|>system\\?\n(.*?)<\|im_end\|>", self.chat_template,
                       _re.S)
        return m.group(1) if m else None

    def apply_chat_template(self, messages, add_generation_prompt=True, tokenize=False):
        """ChatML, as SmolLM2's template declares:
        <|im_start|>{role}\\n{content}<|im_end|>\\n per message, the template's default system
        message first when the conversation does not start with one, and
        <|im_start|>assistant\\n to prompt a reply."""
        if self.chat_template is not None and "<|im_start|>" not in self.chat_template:
            raise ValueError("apply_chat_template: only ChatML-style templates are supported")
        for m in messages:
            if not isinstance(m, dict) or "role" not in m or "content" not in m:
                raise ValueError("apply_chat_template: each message must be a dict with 'role' "
                                 "and 'content', got %r" % (m,))
        text = ""
        system = self.default_system_prompt()
        if messages and messages[0]["role"] != "system" and system is not None:
            text += "<|im_start|>system\n%s<|im_end|>\n" % system
        for m in messages:
            text += "<|im_start|>%s\n%s<|im_end|>\n" % (m["role"], m["content"])
        if add_generation_prompt:
            text += "<|im_start|>assistant\n"
        return self.encode(text) if tokenize else text


class StreamDecoder:
    """Turns ids into text one at a time, holding back bytes of an unfinished UTF-8 character."""

    def __init__(self, tok, skip_special=True):
        self.tok = tok
        self.skip_special = skip_special
        self._buf = b""

    def push(self, i):
        if self.skip_special and self.tok.is_special(i):
            return ""
        self._buf += self.tok.id_to_bytes(i)
        # longest prefix that is complete UTF-8 (an unfinished character is at most 3 bytes)
        for cut in range(len(self._buf), max(len(self._buf) - 4, -1), -1):
            try:
                text = self._buf[:cut].decode("utf-8")
            except UnicodeDecodeError:
                continue
            self._buf = self._buf[cut:]
            return text
        text = self._buf.decode("utf-8", errors="replace")
        self._buf = b""
        return text

    def flush(self):
        text = self._buf.decode("utf-8", errors="replace")
        self._buf = b""
        return text
