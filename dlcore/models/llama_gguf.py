"""Filling a LlamaForCausalLM from a GGUF file (llama.cpp's format, read by dlcore.weights).

GGUF's llama tensors: token_embd, output_norm, output (absent when tied to token_embd) and per
block blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up,
ffn_down}.weight; dl.weights gives their shapes outermost-first, so a linear weight is
(out_features, in_features) as in PyTorch.  q|k|v and gate|up are stacked by rows into one
projection each; a stack stays quantised only when all its parts share one block format.
"""
import numpy as np

from ..nn.modules.linear import Linear
from ..nn.modules.quantized import QuantizedEmbedding, QuantizedLinear
from ..nn.modules.sparse import Embedding
from ..nn.parameter import Parameter
from ..ops.quantized import QUANT_KINDS
from ..text.bpe import BPETokenizer
from ..weights import load_gguf
from .llama_config import LlamaConfig

__all__ = ["load_gguf_into"]

_BLOCK_TENSORS = ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm",
                  "ffn_gate", "ffn_up", "ffn_down")


def _dense_linear(weight):
    """nn.Linear without bias over a loaded float32 (out, in) weight."""
    lin = Linear(0, 0, bias=False)   # sized 0 so that no random init of a big matrix is wasted
    lin.weight = Parameter(np.ascontiguousarray(weight, dtype=np.float32))
    lin.out_features, lin.in_features = weight.shape
    return lin


def _block_kind(gguf, names, quantized):
    kinds = {gguf.tensor_type(n) for n in names}
    if quantized and len(kinds) == 1 and next(iter(kinds)) in QUANT_KINDS:
        return next(iter(kinds))
    return None


def _projection(gguf, names, quantized, in_features):
    """One linear layer from GGUF tensors stacked by rows."""
    kind = _block_kind(gguf, names, quantized)
    if kind is not None:
        # always a copy, even of one part: blocks read straight from the memory-mapped file
        # sit in 4 KiB file pages, and streaming them every token measured ~5% slower decoding
        # than from a copy in anonymous memory
        raw = np.concatenate([np.asarray(gguf.raw(n)) for n in names], axis=0)
        return QuantizedLinear.from_blocks(raw, kind, in_features)
    w = np.concatenate([gguf.tensor(n).astype(np.float32, copy=False) for n in names], axis=0)
    if w.shape[1] != in_features:
        raise ValueError("LlamaForCausalLM: %s has %d inputs, expected %d"
                         % (names[0], w.shape[1], in_features))
    return _dense_linear(w)


def _norm_weight(gguf, name, dim):
    w = np.ascontiguousarray(gguf.tensor(name), dtype=np.float32)
    if w.shape != (dim,):
        raise ValueError("LlamaForCausalLM: %s has shape %s, expected (%d,)"
                         % (name, w.shape, dim))
    return Parameter(w)


def load_gguf_into(model, gguf, max_seq_len=2048, quantized=True, tokenizer=True):
    """Build `model` (a fresh LlamaForCausalLM) from a GGUF path or reader."""
    if not hasattr(gguf, "metadata"):
        gguf = load_gguf(gguf)
    cfg = LlamaConfig.from_gguf_metadata(gguf.metadata)
    have = set(gguf.names)
    need = ["token_embd.weight", "output_norm.weight"] + [
        "blk.%d.%s.weight" % (i, t) for i in range(cfg.n_layers) for t in _BLOCK_TENSORS]
    missing = [n for n in need if n not in have]
    if missing:
        raise ValueError("LlamaForCausalLM: GGUF file lacks %s" % ", ".join(missing[:8]))
    quantized = bool(quantized)
    tied = "output.weight" not in have
    # placeholder layers of zero blocks (never touched, so never paged in), replaced below by
    # the file's: this skips the random init of float layers
    dims = (cfg.dim, cfg.n_heads * cfg.head_dim, cfg.ffn_dim)
    placeholder = "Q8_0" if all(d % 32 == 0 for d in dims) else None
    model._build(cfg, max_seq_len, placeholder, tied=False)
    m = model.model
    kind = _block_kind(gguf, ["token_embd.weight"], quantized)
    if kind is not None:
        # a copy, as for the projections (the tied LM head streams it every token)
        m.embed_tokens = QuantizedEmbedding.from_blocks(np.array(gguf.raw("token_embd.weight")),
                                                        kind, cfg.dim)
    else:
        m.embed_tokens = Embedding.from_pretrained(
            gguf.tensor("token_embd.weight").astype(np.float32, copy=False), freeze=True)
    cfg.vocab_size = m.embed_tokens.weight.shape[0]
    if tied:
        model.lm_head = (QuantizedLinear.from_blocks(m.embed_tokens.weight, kind, cfg.dim)
                         if kind is not None else _dense_linear(m.embed_tokens.weight.numpy()))
        model.lm_head.weight = m.embed_tokens.weight
    else:
        model.lm_head = _projection(gguf, ["output.weight"], quantized, cfg.dim)
    model.tied = tied
    m.norm.weight = _norm_weight(gguf, "output_norm.weight", cfg.dim)
    H, Hk, hd = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
    for i, layer in enumerate(m.layers):
        p = "blk.%d." % i
        layer.input_layernorm.weight = _norm_weight(gguf, p + "attn_norm.weight", cfg.dim)
        layer.post_attention_layernorm.weight = _norm_weight(gguf, p + "ffn_norm.weight", cfg.dim)
        a, f = layer.self_attn, layer.mlp
        a.qkv_proj = _projection(gguf, [p + "attn_q.weight", p + "attn_k.weight",
                                        p + "attn_v.weight"], quantized, cfg.dim)
        a.o_proj = _projection(gguf, [p + "attn_output.weight"], quantized, H * hd)
        f.gate_up_proj = _projection(gguf, [p + "ffn_gate.weight", p + "ffn_up.weight"],
                                     quantized, cfg.dim)
        f.down_proj = _projection(gguf, [p + "ffn_down.weight"], quantized, cfg.ffn_dim)
        want = {"qkv_proj": (a.qkv_proj, (H + 2 * Hk) * hd), "o_proj": (a.o_proj, cfg.dim),
                "gate_up_proj": (f.gate_up_proj, 2 * cfg.ffn_dim),
                "down_proj": (f.down_proj, cfg.dim)}
        for name, (mod, n) in want.items():
            if mod.out_features != n:
                raise ValueError("LlamaForCausalLM: block %d %s has %d outputs, expected %d"
                                 % (i, name, mod.out_features, n))
    if model.lm_head.out_features != cfg.vocab_size:
        raise ValueError("LlamaForCausalLM: output.weight has %d rows, expected the vocabulary's "
                         "%d" % (model.lm_head.out_features, cfg.vocab_size))
    for prm in model.parameters():
        prm.requires_grad_(False)
    model.quantized = quantized
    model.path = gguf.path
    model.tokenizer = None
    if tokenizer:
        model.tokenizer = BPETokenizer.from_gguf(gguf)
    return model
