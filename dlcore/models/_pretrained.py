"""Loading a local checkpoint file into a model with torchvision-style keys."""
import os

import numpy as np


def _unwrap(sd):
    # training scripts often save {"state_dict": ...} or {"model": ...}
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(sd.get(key), dict) and not any(isinstance(v, np.ndarray) for v in sd.values()):
            return sd[key]
    return sd


def checkpoint_argument(name, weights, kwargs):
    """The local checkpoint path a torchvision-style constructor loads, or None.

    Takes torchvision's legacy `pretrained` and `progress` out of kwargs (scripts still pass
    them).  Asking for downloaded weights (pretrained=True, weights="DEFAULT" or a weights-enum
    name) raises: dlcore fetches nothing, and silently handing back random weights where a
    script expects ImageNet ones would be a wrong result nobody notices."""
    pretrained = kwargs.pop("pretrained", False)
    kwargs.pop("progress", None)
    if pretrained:
        raise ValueError("%s(pretrained=True): dlcore downloads no weights; pass "
                         "weights=<path to a local checkpoint file> (e.g. torchvision's .pth)"
                         % name)
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise TypeError("%s: weights must be a path to a local checkpoint file or None, got %s"
                        % (name, type(weights).__name__))
    if isinstance(weights, str) and not os.path.exists(weights) and (
            weights == "DEFAULT" or weights.startswith("IMAGENET") or "_Weights" in weights):
        raise ValueError("%s(weights=%r): dlcore downloads no weights; pass the path of a local "
                         "checkpoint file instead" % (name, weights))
    return weights


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
