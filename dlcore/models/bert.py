"""BERT encoder (Devlin et al. 2018) with Hugging Face's module and state_dict key names, so a
`BertModel` checkpoint (e.g. all-MiniLM-L6-v2's model.safetensors) loads key for key.

    cfg = BertConfig.from_json("config.json")
    model = BertModel(cfg)
    model.load_hf_state_dict(dl.weights.load_safetensors("model.safetensors"))
    hidden, pooled = model(input_ids, attention_mask, token_type_ids)

Built from the shared layers: nn.Embedding, nn.LayerNorm (fused C kernel), nn.GELU (exact erf)
and the fused scaled-dot-product attention kernel.
"""
import json
import os
from dataclasses import dataclass, fields

import numpy as np

from .. import autograd
from ..autograd import is_grad_enabled
from ..tensor import Tensor
from ..ops.matmul import mm
from .. import nn
from ..nn import functional as F
from ..nn.quantized.dynamic import stacked_linear
from ._bert_int8 import int8_layer_forward


@dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        cfg = cls(**{k: v for k, v in d.items() if k in names})
        if cfg.hidden_size % cfg.num_attention_heads:
            raise ValueError("BertConfig: hidden_size %d is not a multiple of "
                             "num_attention_heads %d" % (cfg.hidden_size,
                                                         cfg.num_attention_heads))
        if cfg.hidden_act not in ("gelu", "relu"):
            raise ValueError("BertConfig: hidden_act %r not supported (gelu, relu)"
                             % cfg.hidden_act)
        pe = d.get("position_embedding_type", "absolute")
        if pe != "absolute":
            raise ValueError("BertConfig: position_embedding_type %r not supported" % pe)
        return cfg

    @classmethod
    def from_json(cls, path):
        with open(os.fspath(path), encoding="utf-8") as f:
            return cls.from_dict(json.load(f))


def _fast():
    return not is_grad_enabled()


# ---- BERT ------------------------------------------------------------------------------------
class BertEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids):
        T = input_ids.shape[1]
        if T > self.position_embeddings.num_embeddings:
            raise ValueError("BertModel: sequence length %d exceeds max_position_embeddings %d"
                             % (T, self.position_embeddings.num_embeddings))
        pos = np.arange(T, dtype=np.int64)[None, :]
        x = (self.word_embeddings(input_ids) + self.position_embeddings(pos)
             + self.token_type_embeddings(token_type_ids))
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.num_heads = cfg.num_attention_heads
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.dropout = nn.Dropout(cfg.attention_probs_dropout_prob)

    def forward(self, x, mask_bias):
        B, T, C = x.shape
        H, D = self.num_heads, self.head_dim

        def heads(t):
            return t.reshape(B, T, H, D).permute(0, 2, 1, 3)

        # a dynamically quantized model: q, k and v from one int8 call (x quantized once)
        qkv = stacked_linear(self, (self.query, self.key, self.value), x)
        if qkv is None:
            q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        elif _fast() and autograd._tracer is None:
            # inference: the heads as NumPy views of the one output, no op per head split
            a = qkv._data.reshape(B, T, 3, H, D).transpose(2, 0, 3, 1, 4)
            q, k, v = Tensor._wrap(a[0]), Tensor._wrap(a[1]), Tensor._wrap(a[2])
        else:
            a = qkv.reshape(B, T, 3, H, D).permute(2, 0, 3, 1, 4)
            q, k, v = a[0], a[1], a[2]
        p = self.dropout.p if self.training else 0.0
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask_bias, dropout_p=p)
        return ctx.permute(0, 2, 1, 3).reshape(B, T, C)


class BertSelfOutput(nn.Module):
    def __init__(self, cfg, inner):
        super().__init__()
        self.dense = nn.Linear(inner, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, h, residual):
        return self.LayerNorm(self.dropout(self.dense(h)) + residual)


class BertAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertSelfOutput(cfg, cfg.hidden_size)

    def forward(self, x, mask_bias):
        return self.output(self.self(x, mask_bias), x)


class BertIntermediate(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.act = cfg.hidden_act
        self.intermediate_act_fn = nn.GELU() if cfg.hidden_act == "gelu" else nn.ReLU()

    def forward(self, x):
        fused = getattr(self.dense, "forward_with_activation", None)
        if fused is not None and _fast():
            # a layer dl.quantization.quantize_dynamic swapped in: its kernel applies the
            # activation in the same pass
            return fused(x, self.act)
        if _fast() and x.dtype == np.float32 and type(self.dense) is nn.Linear:
            # inference: the activation runs in the GEMM's epilogue (exact erf GELU / ReLU)
            x2 = x._data.reshape(-1, x.shape[-1])
            y = mm(x2, self.dense.weight._data, transb=True, bias=self.dense.bias._data,
                   act=2 if self.act == "gelu" else 1)
            return Tensor._wrap(y.reshape(x.shape[:-1] + (y.shape[-1],)))
        return self.intermediate_act_fn(self.dense(x))


class BertLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertSelfOutput(cfg, cfg.intermediate_size)

    def forward(self, x, mask_bias):
        # a dynamically quantized model at inference: the layer's kernels in one call
        y = int8_layer_forward(self, x, mask_bias)
        if y is not None:
            return y
        a = self.attention(x, mask_bias)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(cfg) for _ in range(cfg.num_hidden_layers)])

    def forward(self, x, mask_bias):
        for layer in self.layer:
            x = layer(x, mask_bias)
        return x


class BertPooler(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, h):
        return self.activation(self.dense(h[:, 0]))


# keys other checkpoints use for the same tensors: BertFor* heads prefix "bert.", old TF
# conversions say gamma/beta; position_ids is a buffer of 0..511 that we compute instead
HF_RULES = [(r"^bert\.", ""), (r"\.gamma$", ".weight"), (r"\.beta$", ".bias")]
HF_DROP = [r"^embeddings\.position_ids$", r"^(cls|classifier|qa_outputs)\."]


class BertModel(nn.Module):
    """forward(input_ids, attention_mask=None, token_type_ids=None) -> (hidden (B, T, C),
    pooled (B, C) or None). input_ids etc. are int arrays or Tensors of shape (B, T)."""

    def __init__(self, config=None, add_pooling_layer=True, **kwargs):
        super().__init__()
        if config is None:
            config = BertConfig(**kwargs)
        elif isinstance(config, dict):
            config = BertConfig.from_dict(config)
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        if add_pooling_layer:
            self.pooler = BertPooler(config)
        else:
            self.pooler = None

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        ids = np.asarray(getattr(input_ids, "_data", input_ids))
        if ids.ndim != 2:
            raise ValueError("BertModel: input_ids must be 2-D (batch, seq), got shape %s"
                             % (ids.shape,))
        if token_type_ids is None:
            types = np.zeros_like(ids)
        else:
            types = np.asarray(getattr(token_type_ids, "_data", token_type_ids))
            if types.shape != ids.shape:
                raise ValueError("BertModel: token_type_ids shape %s != input_ids shape %s"
                                 % (types.shape, ids.shape))
        mask_bias = None
        if attention_mask is not None:
            m = np.asarray(getattr(attention_mask, "_data", attention_mask))
            if m.shape != ids.shape:
                raise ValueError("BertModel: attention_mask shape %s != input_ids shape %s"
                                 % (m.shape, ids.shape))
            # 0 where attended, a large negative number at padding (broadcast over heads/queries)
            dt = self.embeddings.word_embeddings.weight.dtype
            mask_bias = ((1.0 - m.astype(dt)) * np.finfo(dt).min)[:, None, None, :].astype(dt)
        h = self.encoder(self.embeddings(ids, types), mask_bias)
        pooled = self.pooler(h) if self.pooler is not None else None
        return h, pooled

    def load_hf_state_dict(self, state_dict, strict=True):
        """Load a Hugging Face BertModel/BertFor* state_dict (keys remapped, heads dropped);
        returns the KeyReport, raising ValueError listing every mismatch when strict."""
        from ..weights import load_weights
        drop = list(HF_DROP)
        if self.pooler is None:
            drop.append(r"^pooler\.")
        return load_weights(self, state_dict, HF_RULES, drop, strict=strict)

    @classmethod
    def from_pretrained(cls, directory, add_pooling_layer=True):
        """From a local directory with config.json and model.safetensors (or pytorch_model.bin)."""
        from ..weights import load_safetensors, load_torch
        d = os.fspath(directory)
        # every parameter is overwritten by the strict load below: no random draws first
        model = nn.utils.skip_init(cls, BertConfig.from_json(os.path.join(d, "config.json")),
                                   add_pooling_layer)
        st = os.path.join(d, "model.safetensors")
        pt = os.path.join(d, "pytorch_model.bin")
        if os.path.exists(st):
            sd = load_safetensors(st)
        elif os.path.exists(pt):
            sd = load_torch(pt)
        else:
            raise FileNotFoundError("%s has neither model.safetensors nor pytorch_model.bin" % d)
        model.load_hf_state_dict(sd)
        return model.eval()
