"""Seq2SeqTransformer: teacher forcing is causal, greedy == beam of width 1, beam search finds
the exhaustive optimum when nothing is pruned, cross-attention weights are a distribution over
real source tokens."""
import itertools

import numpy as np
import pytest

import dlcore as dl
from dlcore.models import Seq2SeqTransformer

PAD, BOS, EOS = 0, 1, 2


def _model(tgt_vocab=6, sharpen=3.0):
    dl.manual_seed(3)
    m = Seq2SeqTransformer(9, tgt_vocab, d_model=16, nhead=2, num_encoder_layers=1,
                           num_decoder_layers=2, dim_feedforward=32, dropout=0.0, max_len=16)
    m = m.double()
    for p in m.generator.parameters():  # peakier next-token distributions than at init
        p._data *= sharpen
    return m


def _src():
    return np.array([[3, 4, 5, 6, 0, 0], [7, 8, 3, 4, 5, 6], [5, 0, 0, 0, 0, 0]], np.int64)


def _seq_logprob(m, src_row, y):
    """Sum of log p(y_t | y_<t, src) by teacher forcing (y ends with eos)."""
    tgt_in = np.array([[BOS] + list(y[:-1])], np.int64)
    m.eval()
    with dl.no_grad():
        logits = m(src_row[None], tgt_in).numpy()[0].astype(np.float64)
    lp = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1,
                                                                          keepdims=True)) \
        - logits.max(-1, keepdims=True)
    return float(sum(lp[t, tok] for t, tok in enumerate(y)))


def test_teacher_forcing_shapes_and_causality():
    m = _model()
    src = _src()
    tgt = np.array([[1, 3, 4, 5], [1, 5, 5, 3], [1, 4, 3, 3]], np.int64)
    m.eval()
    a = m(src, tgt).numpy()
    assert a.shape == (3, 4, 6)
    tgt2 = tgt.copy()
    tgt2[:, 2:] = 4
    b = m(src, tgt2).numpy()
    np.testing.assert_allclose(a[:, :2], b[:, :2], rtol=1e-10, atol=1e-12)
    assert np.abs(a[:, 2:] - b[:, 2:]).max() > 1e-6
    # padding in the source is invisible: extra pad columns change nothing
    c = m(np.concatenate([src, np.zeros((3, 3), np.int64)], 1), tgt).numpy()
    np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-11)


def test_greedy_equals_beam_of_one():
    m = _model()
    g = m.greedy_decode(_src(), BOS, EOS, max_len=5)
    b, _ = m.beam_search(_src(), BOS, EOS, max_len=5, beam_size=1)
    assert g.shape == b.shape
    np.testing.assert_array_equal(g, b)


@pytest.mark.parametrize("row", [0, 1, 2])
def test_beam_search_finds_exhaustive_best(row):
    V, max_len = 5, 3
    m = _model(tgt_vocab=V, sharpen=4.0)
    src = _src()[row:row + 1]
    cands = []
    body = [t for t in range(V) if t not in (PAD, EOS)]
    for n in range(max_len):
        for prefix in itertools.product(body, repeat=n):
            y = list(prefix) + [EOS]
            cands.append((_seq_logprob(m, src[0], y), y))
    best_score, best = max(cands)
    ids, score = m.beam_search(src, BOS, EOS, max_len=max_len, beam_size=64)
    got = [int(t) for t in ids[0] if t != PAD]
    assert got == best
    assert score[0] == pytest.approx(best_score, rel=1e-9, abs=1e-9)
    # a narrow beam never beats the optimum
    _, s2 = m.beam_search(src, BOS, EOS, max_len=max_len, beam_size=2)
    assert s2[0] <= best_score + 1e-9


def test_cross_attention_weights():
    m = _model()
    src = _src()
    w = m.cross_attention(src, np.array([[1, 3, 4]] * 3, np.int64))
    assert w.shape == (3, 3, 6)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-9)
    assert np.all(w[0, :, 4:] == 0) and np.all(w[2, :, 1:] == 0)
    assert m.training  # decoding helpers restore the mode


def test_bad_input():
    m = _model()
    with pytest.raises(ValueError, match="2-D"):
        m(np.zeros(4, np.int64), np.zeros((1, 2), np.int64))
    with pytest.raises(TypeError, match="integer"):
        m(np.zeros((1, 4), np.float32), np.zeros((1, 2), np.int64))
    with pytest.raises(ValueError, match="beam_size"):
        m.beam_search(_src(), BOS, EOS, 3, beam_size=0)
