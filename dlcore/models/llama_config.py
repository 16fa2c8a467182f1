"""LlamaConfig: the shape of a Llama-family decoder, from arguments or GGUF metadata."""

__all__ = ["LlamaConfig"]


class LlamaConfig:
    def __init__(self, vocab_size, dim, n_layers, n_heads, n_kv_heads, ffn_dim, head_dim=None,
                 rope_base=10000.0, rope_scale=1.0, norm_eps=1e-5, context_length=2048):
        self.vocab_size = int(vocab_size)
        self.dim = int(dim)
        self.n_layers = int(n_layers)
        self.n_heads = int(n_heads)
        self.n_kv_heads = int(n_kv_heads)
        self.ffn_dim = int(ffn_dim)
        self.head_dim = int(head_dim) if head_dim else self.dim // max(self.n_heads, 1)
        self.rope_base = float(rope_base)
        self.rope_scale = float(rope_scale)
        self.norm_eps = float(norm_eps)
        self.context_length = int(context_length)
        for name in ("vocab_size", "dim", "n_layers", "n_heads", "n_kv_heads", "ffn_dim",
                     "head_dim", "context_length"):
            if getattr(self, name) < 1:
                raise ValueError("LlamaConfig: %s must be a positive int, got %d"
                                 % (name, getattr(self, name)))
        if self.n_heads % self.n_kv_heads:
            raise ValueError("LlamaConfig: n_heads (%d) must be a multiple of n_kv_heads (%d)"
                             % (self.n_heads, self.n_kv_heads))
        if self.head_dim % 2:
            raise ValueError("LlamaConfig: head_dim must be even for RoPE, got %d" % self.head_dim)

    @classmethod
    def from_gguf_metadata(cls, md):
        arch = md.get("general.architecture")
        if arch != "llama":
            raise ValueError("LlamaForCausalLM: the GGUF file's architecture is %r, not 'llama'"
                             % (arch,))

        def get(key, default=None):
            v = md.get("llama." + key, default)
            if v is None:
                raise ValueError("LlamaForCausalLM: GGUF metadata lacks llama.%s" % key)
            return v
        n_heads = get("attention.head_count")
        dim = get("embedding_length")
        scale = 1.0
        stype = md.get("llama.rope.scaling.type")
        if stype not in (None, "none", "linear"):
            raise ValueError("LlamaForCausalLM: RoPE scaling %r is not supported (none, linear)"
                             % (stype,))
        if stype == "linear":
            scale = float(md.get("llama.rope.scaling.factor", 1.0))
        vocab = md.get("llama.vocab_size") or len(md.get("tokenizer.ggml.tokens", ()))
        return cls(vocab, dim, get("block_count"), n_heads,
                   md.get("llama.attention.head_count_kv", n_heads), get("feed_forward_length"),
                   head_dim=md.get("llama.rope.dimension_count", dim // max(int(n_heads), 1)),
                   rope_base=md.get("llama.rope.freq_base", 10000.0), rope_scale=scale,
                   norm_eps=get("attention.layer_norm_rms_epsilon", 1e-5),
                   context_length=md.get("llama.context_length", 2048))

    def __repr__(self):
        return ("LlamaConfig(dim=%d, layers=%d, heads=%d, kv_heads=%d, ffn=%d, vocab=%d, "
                "rope_base=%g)" % (self.dim, self.n_layers, self.n_heads, self.n_kv_heads,
                                   self.ffn_dim, self.vocab_size, self.rope_base))
