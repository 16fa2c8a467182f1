"""dl.weights: reading pretrained weights from local files, never running code from them.

- safetensors: load_safetensors / save_safetensors (own validating reader)
- PyTorch checkpoints (zip and legacy formats): load_torch, through a restricted unpickler
- GGUF: load_gguf (needs the optional `gguf` package) with Q4_0/Q4_1/Q8_0 dequantisation
- remap_keys / compare_keys / load_weights: foreign key names to dlcore modules, with a report
"""
import os
import zipfile

from .safetensors_file import load_safetensors, save_safetensors, safetensors_metadata  # noqa: F401
from .torch_file import load_torch, UnsafeCheckpointError  # noqa: F401
from .gguf_file import load_gguf, GGUFFile  # noqa: F401
from .quant import dequantize  # noqa: F401
from .keymap import remap_keys, compare_keys, load_weights, KeyReport  # noqa: F401


def load_file(path):
    """A flat or nested dict of arrays from a .safetensors, torch.save or .gguf file, by content."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if head[:4] == b"GGUF":
        return load_gguf(path).state_dict()
    if zipfile.is_zipfile(path) or head[:1] == b"\x80":
        return load_torch(path)
    return load_safetensors(path)
