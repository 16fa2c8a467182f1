"""A direct PyTorch implementation of the BERT + mean-pooling sentence encoder, used as the
reference for tests and benchmarks (torch is an oracle only; dlcore itself never imports it)."""
import math

import numpy as np


def torch_bert_encoder(state_dict, config):
    """A torch nn.Module (input_ids, attention_mask, token_type_ids) -> (B, C) unit-norm float32
    embeddings: BERT, mean pooling over the unmasked tokens, L2 normalisation (the
    sentence-transformers recipe), written with torch ops from the same weights (independently
    of dlcore.models).  state_dict: name -> array; config: BERT's config as a dict.  In eval
    mode; torch.onnx.export can trace it."""
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

    class Encoder(torch.nn.Module):
        def forward(self, ids, mask, types):
            B, T = ids.shape
            pos = torch.arange(T).unsqueeze(0)
            x = (F.embedding(ids, W["embeddings.word_embeddings.weight"])
                 + F.embedding(pos, W["embeddings.position_embeddings.weight"])
                 + F.embedding(types, W["embeddings.token_type_embeddings.weight"]))
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
                x = ln(lin(a, p + "attention.output.dense") + x,
                       p + "attention.output.LayerNorm")
                h = F.gelu(lin(x, p + "intermediate.dense"))
                x = ln(lin(h, p + "output.dense") + x, p + "output.LayerNorm")
            m = mask.float()[:, :, None]
            e = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return F.normalize(e, p=2, dim=1)

    return Encoder().eval()


def torch_sentence_encoder(state_dict, config):
    """fn(input_ids, attention_mask, token_type_ids) -> (B, C) unit-norm float32 embeddings as a
    NumPy array: torch_bert_encoder run without autograd on array inputs."""
    import torch
    encoder = torch_bert_encoder(state_dict, config)

    @torch.no_grad()
    def run(input_ids, attention_mask, token_type_ids):
        return encoder(torch.as_tensor(input_ids), torch.as_tensor(attention_mask),
                       torch.as_tensor(token_type_ids)).numpy()

    return run
