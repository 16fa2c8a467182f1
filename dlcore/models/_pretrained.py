"""Loading a local checkpoint file into a model with torchvision-style keys."""
import os

import numpy as np


def _unwrap(sd):
    # training scripts often save {"state_dict": ...} or {"model": ...}
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(sd.get(key), dict) and not any(isinstance(v, np.ndarray) for v in sd.values()):
            return sd[key]
    return sd


def load_checkpoint(model, path, drop=()):
    """Load a .pth (zip or legacy) / .safetensors file into `model` through dl.weights (no code
    from the file runs).  A DataParallel "module." prefix is removed.  Raises ValueError with
    the key report when keys or shapes differ (keys matching `drop` are skipped)."""
    from ..weights import load_file, load_weights
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError("no checkpoint file at %r" % path)
    sd = _unwrap(load_file(path))
    rules = [(r"^module\.", "")] if all(k.startswith("module.") for k in sd) else []
    report = load_weights(model, sd, rules=rules, drop=drop, strict=not drop)
    model.eval()
    return report
