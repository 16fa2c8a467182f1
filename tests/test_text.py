"""dlcore.text (Vocab, sample_logits) and truncated-BPTT helpers in nn.utils.rnn."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.nn.utils.rnn import bptt_batches, detach_state
from dlcore.text import Vocab, sample_logits


def test_char_vocab_roundtrip_and_order():
    v = Vocab.build("abracadabra", specials=("<pad>",))
    assert v.itos == ["<pad>", "a", "b", "r", "c", "d"]
    assert v.pad_index == 0 and v.unk_index is None
    ids = v.encode("cab")
    assert ids.dtype == np.int64 and v.decode(ids) == "cab"
    with pytest.raises(KeyError, match="not in the vocabulary"):
        v.encode("z")


def test_word_vocab_unk_and_limits():
    v = Vocab.build("The cat sat. The cat ran!", level="word", specials=("<unk>",), min_freq=2)
    assert v.itos == ["<unk>", "the", "cat"]
    assert v.encode("the dog").tolist() == [1, 0]
    assert v.decode([1, 2]) == "the cat"
    assert len(Vocab.build("a b c d", level="word", max_size=2)) == 2


def test_sample_logits_temperature_and_top_k():
    logits = np.log(np.array([[0.1, 0.2, 0.7]] * 20000))
    g = dl.Generator().manual_seed(0)
    ids = sample_logits(logits, generator=g)
    freq = np.bincount(ids, minlength=3) / ids.size
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.015)
    assert set(sample_logits(logits, top_k=2, generator=g).tolist()) == {1, 2}
    assert sample_logits(logits[:3], temperature=0).tolist() == [2, 2, 2]
    cold = sample_logits(logits, temperature=0.25, generator=g)
    assert np.mean(cold == 2) > 0.95
    with pytest.raises(ValueError, match="top_k"):
        sample_logits(logits, top_k=4)


def test_bptt_batches_and_detach():
    tokens = np.arange(2 * 11)
    chunks = list(bptt_batches(tokens, batch_size=2, bptt=4))
    assert [tuple(x.shape) for x, _ in chunks] == [(4, 2), (4, 2), (2, 2)]
    x0, y0 = chunks[0]
    assert x0.numpy()[:, 0].tolist() == [0, 1, 2, 3] and y0.numpy()[:, 1].tolist() == [12, 13, 14, 15]
    lstm = dl.nn.LSTM(1, 3)
    _, (h, c) = lstm(dl.randn(4, 2, 1))
    hd, cd = detach_state((h, c))
    assert h.requires_grad and not hd.requires_grad and not cd.requires_grad
    np.testing.assert_array_equal(hd.numpy(), h.numpy())
    with pytest.raises(ValueError, match="too few"):
        list(bptt_batches(np.arange(3), 2, 4))
