"""Multi-head attention and the Transformer stacks, with PyTorch's parameter names and layouts
(in_proj_weight, out_proj, layers.0.self_attn..., linear1, norm1...), so state_dicts move
between the two."""
import copy
import math

import numpy as np

from ...tensor import Tensor, _check_device, get_default_dtype
from ...ops.matmul import linear
from ...functions import cat
from ...ops.attention import check_mha_args, scaled_dot_product_attention
from ...ops.attention_heads import split_heads
from ...ops import activation as A
from ...ops.dropout import dropout
from .. import init
from ..parameter import Parameter
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear, NonDynamicallyQuantizableLinear
from .module import Module
from .normalization import LayerNorm

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
           "TransformerDecoderLayer", "TransformerDecoder", "Transformer"]


def _get_activation(activation):
    if callable(activation):
        return activation
    if activation == "relu":
        return A.relu
    if activation == "gelu":
        return A.gelu
    raise ValueError("activation must be 'relu', 'gelu' or a callable, got %r" % (activation,))


class MultiheadAttention(Module):
    """PyTorch's nn.MultiheadAttention: in_proj_weight (3E, E) or q/k/v_proj_weight when
    kdim/vdim differ from embed_dim, in_proj_bias (3E), out_proj Linear(E, E)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        _check_device(device)
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError("MultiheadAttention: embed_dim and num_heads must be positive, "
                             "got %r and %r" % (embed_dim, num_heads))
        if embed_dim % num_heads:
            raise ValueError("MultiheadAttention: embed_dim (%d) must be divisible by num_heads "
                             "(%d)" % (embed_dim, num_heads))
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        self.head_dim = embed_dim // num_heads
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(np.empty((E, E), dt))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dt))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dt))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * E, dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(E, E, bias=bias, dtype=dt)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, E), dt))
            self.bias_v = Parameter(np.empty((1, 1, E), dt))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _proj(self, x, i):
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight[i * E:(i + 1) * E]
        else:
            w = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[i]
        b = None if self.in_proj_bias is None else self.in_proj_bias[i * E:(i + 1) * E]
        return linear(x, w, b)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        extra_keys = (self.bias_k is not None) + bool(self.add_zero_attn)
        # batched batch_first inputs stay (N, seq, E): heads are cut from them as views, so no
        # transposed copy is made on the way in or out
        packed = self._qkv_same_embed_dim and query is key and key is value
        query, key, value, mask, unbatched = check_mha_args(
            "MultiheadAttention", query, key, value, attn_mask, key_padding_mask,
            self.embed_dim, self.kdim, self.vdim, self.num_heads, self.batch_first, extra_keys,
            keep_batch_first=True)
        bf = self.batch_first and not unbatched
        if bf:
            N, L, E = query.shape
        else:
            L, N, E = query.shape
        H, hd = self.num_heads, self.head_dim
        dt = np.dtype(query.dtype)
        if packed and self.bias_k is None:
            # self-attention: one projection with the stacked weight, q|k|v cut as head views
            qkv = linear(query, self.in_proj_weight, self.in_proj_bias)
            q, k, v = split_heads(qkv, 3, H, bf)
            S = L
        else:
            q, k, v = self._proj(query, 0), self._proj(key, 1), self._proj(value, 2)
            if self.bias_k is not None:  # one more key and value per batch row
                N1 = (N, 1, E) if bf else (1, N, E)
                k = cat([k, self.bias_k.reshape(1, 1, E).expand(*N1)], 1 if bf else 0)
                v = cat([v, self.bias_v.reshape(1, 1, E).expand(*N1)], 1 if bf else 0)
            S = k.shape[1] if bf else k.shape[0]
            q, k, v = (split_heads(t, 1, H, bf)[0] for t in (q, k, v))
        if self.add_zero_attn:
            k = cat([k, Tensor._wrap(np.zeros((N, H, 1, hd), dt))], 2)
            v = cat([v, Tensor._wrap(np.zeros((N, H, 1, hd), dt))], 2)
            S += 1
        causal = bool(is_causal) and attn_mask is None
        p_drop = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
            add = np.zeros((L, S), dt) if mask is None else mask
            if causal:
                add = add + np.where(np.tril(np.ones((L, S), bool)), 0.0, -np.inf).astype(dt)
            p = A.softmax(scores + Tensor._wrap(np.asarray(add, dt)), dim=-1)
            weights = p
            if p_drop > 0:
                p = dropout(p, p_drop, training=True)
            o = p @ v
        else:
            m = None if mask is None else Tensor._wrap(np.ascontiguousarray(mask))
            o = scaled_dot_product_attention(q, k, v, m, p_drop, causal)
        o = o.permute(0, 2, 1, 3).reshape(N, L, E) if bf else o.permute(2, 0, 1, 3).reshape(L, N, E)
        out = self.out_proj(o)
        if unbatched:
            out = out.squeeze(1)
        if weights is not None:
            if average_attn_weights:
                weights = weights.mean(1)
            if unbatched:
                weights = weights.squeeze(0)
        return out, weights


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: self-attention, then (the decoder's
    cross-attention, then) a feed-forward block, each with dropout, a residual and a LayerNorm;
    parts registered in PyTorch's order, so state_dict keys come in the same order."""
    _blocks = 2          # LayerNorm/Dropout pairs: 2 in the encoder layer, 3 in the decoder's

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        _check_device(device)
        def attention():
            return MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                      batch_first=batch_first, dtype=dtype)
        self.self_attn = attention()
        if self._blocks == 3:
            self.multihead_attn = attention()      # the decoder's attention over memory
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        for i in range(1, self._blocks + 1):
            setattr(self, "norm%d" % i, LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                  dtype=dtype))
        for i in range(1, self._blocks + 1):
            setattr(self, "dropout%d" % i, Dropout(dropout))
        self.activation = _get_activation(activation)

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        last_dropout = getattr(self, "dropout%d" % self._blocks)
        return last_dropout(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention block then feed-forward block, each with dropout, residual and LayerNorm
    (norm_first applies the norm before each block instead of after)."""

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, cross-attention over memory, feed-forward; PyTorch's layout."""
    _blocks = 3

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask,
                                               memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """num_layers deep copies of encoder_layer, then an optional final norm."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        if self.norm is not None:
            x = self.norm(x)
        return x


class TransformerDecoder(Module):
    """num_layers deep copies of decoder_layer, then an optional final norm."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        if self.norm is not None:
            x = self.norm(x)
        return x


class Transformer(Module):
    """Encoder-decoder Transformer with PyTorch's defaults and state_dict keys."""

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        _check_device(device)
        def stack(custom, layer_cls, stack_cls, num_layers):
            if custom is not None:
                return custom
            layer = layer_cls(d_model, nhead, dim_feedforward, dropout, activation,
                              layer_norm_eps, batch_first, norm_first, bias, dtype=dtype)
            return stack_cls(layer, num_layers,
                             LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self.encoder = stack(custom_encoder, TransformerEncoderLayer, TransformerEncoder,
                             num_encoder_layers)
        self.decoder = stack(custom_decoder, TransformerDecoderLayer, TransformerDecoder,
                             num_decoder_layers)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        self._reset_parameters()

    def _reset_parameters(self):
        # torch's nn.Transformer re-initialises every matrix (not the biases or the LayerNorm
        # vectors) with xavier-uniform after building its layers; the same script then trains
        # the same way here
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """(sz, sz) float mask: 0 on and below the diagonal, -inf above."""
        _check_device(device)
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        m = np.triu(np.full((sz, sz), -np.inf, dtype=dt), k=1)
        return Tensor._wrap(m)
