"""dl.weights: reading pretrained weights from local files, never running code from them.

- load_file: any of the formats below, recognised by content (magic bytes and structure)
- safetensors: load_safetensors / read_safetensors / save_safetensors, the one reader and the
  one (atomic) writer that dl.load / dl.save use too
- PyTorch checkpoints (zip and legacy formats): load_torch, through a restricted unpickler
- GGUF: load_gguf (needs the optional `gguf` package) with Q4_0/Q4_1/Q8_0 dequantisation
- remap_keys / compare_keys / load_weights: foreign key names to dlcore modules, with a report
"""
import os

from .safetensors_file import (load_safetensors, read_safetensors, save_safetensors,  # noqa: F401
                               safetensors_metadata, looks_like_safetensors)
from .torch_file import load_torch, UnsafeCheckpointError  # noqa: F401
from .gguf_file import load_gguf, GGUFFile  # noqa: F401
from .quant import dequantize  # noqa: F401
from .keymap import remap_keys, compare_keys, load_weights, KeyReport  # noqa: F401

FORMATS = ("safetensors", "torch-zip", "torch-legacy", "gguf")


def detect_format(path):
    """'safetensors', 'torch-zip', 'torch-legacy' or 'gguf' from a file's first bytes.

    safetensors: a little-endian u64 header length that fits in the file, then '{'.  Checked
    first: no GGUF, zip or pickle file starts that way (byte 8 is never '{' in them), while the
    legacy pickle's first byte (0x80, PROTO) is also the low byte of every safetensors header
    length that is 128 mod 256.  GGUF: its magic.  torch zip: the zip local-file magic
    PK\\x03\\x04.  Legacy torch: pickle PROTO 2-5.  Anything else is a ValueError naming the file.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(9)
    if looks_like_safetensors(head, size):
        return "safetensors"
    if head[:4] == b"GGUF":
        return "gguf"
    if head[:4] == b"PK\x03\x04":
        return "torch-zip"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "torch-legacy"
    if head[8:9] == b"{":   # a safetensors header whose length does not fit: truncated
        return "safetensors"
    raise ValueError("load_file: %s is not a safetensors, PyTorch (zip or legacy) or GGUF file "
                     "(it starts with %r)" % (path, head[:8]))


def load_file(path, names=None):
    """{name: ndarray} from a .safetensors, torch.save or .gguf file, recognised by content.

    safetensors and GGUF give a flat dict; a torch checkpoint gives what was saved (a nested
    dict when it holds more than a state_dict), tensors as arrays.  bfloat16 comes back as
    float32.  `names` selects some tensors of a flat file (KeyError naming missing ones).
    """
    path = os.fspath(path)
    kind = detect_format(path)
    if kind == "safetensors":
        return load_safetensors(path, names)
    if kind == "gguf":
        g = load_gguf(path)
        if names is None:
            return g.state_dict()
        missing = [n for n in names if n not in g.names]
        if missing:
            raise KeyError("GGUF file %s has no tensor(s) %s" % (path, missing))
        return {n: g.tensor(n) for n in names}
    obj = load_torch(path)
    if names is None:
        return obj
    missing = [n for n in names if not isinstance(obj, dict) or n not in obj]
    if missing:
        raise KeyError("checkpoint %s has no top-level entry %s" % (path, missing))
    return {n: obj[n] for n in names}
