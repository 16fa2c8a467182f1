"""An encoder-decoder Transformer for sequence-to-sequence tasks (translation): token embeddings
scaled by sqrt(d_model) plus sinusoidal positions on both sides, nn.Transformer in the middle
(batch_first), a linear generator over the target vocabulary; teacher-forced training through
forward(), and greedy and beam-search decoding.

Sequences are (batch, seq) int arrays padded with pad_idx; targets are framed with bos/eos.
"""
import math

import numpy as np

from .. import autograd
from ..nn.modules.linear import Linear
from ..nn.modules.module import Module
from ..nn.modules.positional import SinusoidalPositionalEncoding
from ..nn.modules.sparse import Embedding
from ..nn.modules.transformer import Transformer
from ..ops import activation as A
from ..tensor import Tensor

__all__ = ["Seq2SeqTransformer"]


def _ids(x, name):
    a = x._data if isinstance(x, Tensor) else np.asarray(x)
    if a.ndim != 2:
        raise ValueError("Seq2SeqTransformer: %s must be 2-D (batch, seq) token ids, got shape %s"
                         % (name, a.shape))
    if a.dtype.kind not in "iu":
        raise TypeError("Seq2SeqTransformer: %s must hold integer ids, got %s" % (name, a.dtype))
    return a.astype(np.int64, copy=False)


class Seq2SeqTransformer(Module):
    def __init__(self, src_vocab, tgt_vocab, d_model=64, nhead=4, num_encoder_layers=2,
                 num_decoder_layers=2, dim_feedforward=256, dropout=0.1, max_len=128,
                 pad_idx=0, norm_first=True, activation="relu"):
        super().__init__()
        self.d_model, self.pad_idx, self.max_len = d_model, pad_idx, max_len
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self.src_emb = Embedding(src_vocab, d_model, padding_idx=pad_idx)
        self.tgt_emb = Embedding(tgt_vocab, d_model, padding_idx=pad_idx)
        for e in (self.src_emb, self.tgt_emb):  # N(0, 1/d) so that sqrt(d) scaling gives O(1)
            e.weight._data *= 1.0 / math.sqrt(d_model)
        self.pos = SinusoidalPositionalEncoding(d_model, max_len, dropout, batch_first=True,
                                                scale=math.sqrt(d_model))
        self.transformer = Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers,
                                       dim_feedforward, dropout, activation, batch_first=True,
                                       norm_first=norm_first)
        self.generator = Linear(d_model, tgt_vocab)

    def src_padding(self, src):
        return _ids(src, "src") == self.pad_idx

    def encode(self, src):
        """memory (N, S, d_model) and the source padding mask (N, S), True = padding."""
        s = _ids(src, "src")
        pad = s == self.pad_idx
        x = self.pos(self.src_emb(Tensor._wrap(s)))
        mem = self.transformer.encoder(x, src_key_padding_mask=pad)
        return mem, pad

    def decode(self, tgt_in, memory, src_pad):
        """Logits (N, T, tgt_vocab) of the next target token at each position of tgt_in."""
        t = _ids(tgt_in, "tgt_in")
        y = self.pos(self.tgt_emb(Tensor._wrap(t)))
        h = self.transformer.decoder(y, memory, memory_key_padding_mask=src_pad,
                                     tgt_is_causal=True)
        return self.generator(h)

    def forward(self, src, tgt_in):
        """Teacher forcing: logits for every next token of tgt_in given the true prefix."""
        mem, pad = self.encode(src)
        return self.decode(tgt_in, mem, pad)

    def _eval_mode(self):
        was = self.training
        self.eval()
        return was

    def greedy_decode(self, src, bos, eos, max_len):
        """(N, <= max_len) ids without bos, each row cut after its first eos (eos kept);
        finished rows are padded with pad_idx, which is never emitted as a token."""
        was = self._eval_mode()
        try:
            with autograd.no_grad():
                mem, pad = self.encode(src)
                N = mem.shape[0]
                ys = np.full((N, 1), bos, np.int64)
                done = np.zeros(N, bool)
                for _ in range(max_len):
                    logits = self.decode(ys, mem, pad)._data[:, -1].copy()
                    logits[:, self.pad_idx] = -np.inf  # pad only fills finished rows
                    nxt = np.where(done, self.pad_idx, logits.argmax(-1))
                    ys = np.concatenate([ys, nxt[:, None]], 1)
                    done |= nxt == eos
                    if done.all():
                        break
        finally:
            self.train(was)
        return ys[:, 1:]

    def beam_search(self, src, bos, eos, max_len, beam_size=4, length_penalty=0.0):
        """Beam search per source row: keep the beam_size best prefixes by summed log
        probability; a hypothesis that emits eos is finished and keeps its score.  The best
        finished one wins, its score divided by length ** length_penalty (0 = plain sum).
        Returns (ids (N, <= max_len) without bos, padded with pad_idx; scores (N,))."""
        if beam_size < 1:
            raise ValueError("beam_search: beam_size must be >= 1, got %r" % (beam_size,))
        was = self._eval_mode()
        K = beam_size
        try:
            with autograd.no_grad():
                mem, pad = self.encode(src)
                N, S, D = mem.shape
                # every source row repeated K times: row b*K + j is beam j of source b
                memk = Tensor._wrap(np.repeat(mem._data, K, axis=0))
                padk = np.repeat(pad, K, axis=0)
                ys = np.full((N * K, 1), bos, np.int64)
                score = np.full((N, K), -np.inf)
                score[:, 0] = 0.0  # one live hypothesis at the start, not K copies of it
                finished = np.zeros((N, K), bool)
                lengths = np.zeros((N, K), np.int64)
                for _ in range(max_len):
                    logits = self.decode(ys, memk, padk)
                    logp = A.log_softmax(Tensor._wrap(logits._data[:, -1].astype(np.float64)),
                                         dim=-1)._data.reshape(N, K, -1)
                    V = logp.shape[-1]
                    # a finished hypothesis continues only with pad at no cost
                    cont = np.where(finished[..., None], -np.inf, logp)
                    cont[..., self.pad_idx] = np.where(finished, 0.0, -np.inf)
                    cand = (score[..., None] + cont).reshape(N, K * V)
                    top = np.argsort(-cand, axis=1, kind="stable")[:, :K]
                    new_score = np.take_along_axis(cand, top, 1)
                    src_beam, tok = top // V, top % V
                    rows = (np.arange(N)[:, None] * K + src_beam).reshape(-1)
                    ys = np.concatenate([ys[rows], tok.reshape(-1, 1)], 1)
                    prev_fin = np.take_along_axis(finished, src_beam, 1)
                    lengths = np.take_along_axis(lengths, src_beam, 1) + ~prev_fin
                    finished = prev_fin | (tok == eos)
                    score = new_score
                    if finished[np.isfinite(score)].all():
                        break
                norm = score / np.maximum(lengths, 1) ** length_penalty if length_penalty \
                    else score.copy()
                norm = np.where(finished, norm, norm - 1e9)  # prefer finished hypotheses
                best = norm.argmax(1)
                out = ys.reshape(N, K, -1)[np.arange(N), best, 1:]
                return out, score[np.arange(N), best]
        finally:
            self.train(was)

    def cross_attention(self, src, tgt_in, layer=-1):
        """Head-averaged cross-attention weights (N, T, S) of one decoder layer for the given
        target prefix (the picture of which source tokens each output position reads)."""
        was = self._eval_mode()
        try:
            with autograd.no_grad():
                mem, pad = self.encode(src)
                t = _ids(tgt_in, "tgt_in")
                x = self.pos(self.tgt_emb(Tensor._wrap(t)))
                layers = list(self.transformer.decoder.layers)
                stop = layer % len(layers)
                for i, lyr in enumerate(layers):
                    if i < stop:
                        x = lyr(x, mem, memory_key_padding_mask=pad, tgt_is_causal=True)
                        continue
                    if lyr.norm_first:
                        x = x + lyr._sa_block(lyr.norm1(x), None, None, True)
                        q = lyr.norm2(x)
                    else:
                        q = lyr.norm1(x + lyr._sa_block(x, None, None, True))
                    _, w = lyr.multihead_attn(q, mem, mem, key_padding_mask=pad,
                                              need_weights=True)
                    return w.numpy()
        finally:
            self.train(was)
