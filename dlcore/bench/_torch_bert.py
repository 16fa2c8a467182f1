"""A direct PyTorch implementation of the BERT + mean-pooling sentence encoder, used as the
reference for tests and benchmarks (torch is an oracle only; dlcore itself never imports it)."""
import math

import numpy as np


def torch_sentence_encoder(state_dict, config):
    """fn(input_ids, attention_mask, token_type_ids) -> (B, C) unit-norm float32 embeddings,
    written with torch ops from the same weights (written independently of dlcore.models)."""
    import torch
    import torch.nn.functional as F
    W = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state_dict.items()}
    H = config["num_attention_heads"]
    C = config["hidden_size"]
    eps = config.get("layer_norm_eps", 1e-12)
    L = config["num_hidden_layers"]

    def lin(x, p):
        return F.linear(x, W[p + ".weight"], W[p + ".bias"])

    def ln(x, p):
        return F.layer_norm(x, (C,), W[p + ".weight"], W[p + ".bias"], eps)

    @torch.no_grad()
    def run(input_ids, attention_mask, token_type_ids):
        ids = torch.as_tensor(input_ids)
        mask = torch.as_tensor(attention_mask)
        types = torch.as_tensor(token_type_ids)
        B, T = ids.shape
        x = (W["embeddings.word_embeddings.weight"][ids]
             + W["embeddings.position_embeddings.weight"][:T][None]
             + W["embeddings.token_type_embeddings.weight"][types])
        x = ln(x, "embeddings.LayerNorm")
        bias = (1.0 - mask.float())[:, None, None, :] * torch.finfo(torch.float32).min
        for i in range(L):
            p = "encoder.layer.%d." % i

            def heads(t):
                return t.view(B, T, H, C // H).transpose(1, 2)

            q = heads(lin(x, p + "attention.self.query"))
            k = heads(lin(x, p + "attention.self.key"))
            v = heads(lin(x, p + "attention.self.value"))
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(C // H) + bias, -1) @ v
            a = a.transpose(1, 2).reshape(B, T, C)
            x = ln(lin(a, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = F.gelu(lin(x, p + "intermediate.dense"))
            x = ln(lin(h, p + "output.dense") + x, p + "output.LayerNorm")
        m = mask.float()[:, :, None]
        e = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return F.normalize(e, p=2, dim=1).numpy()

    return run
