"""dl.vision: torchvision's shape over dlcore (`import dlcore.vision as torchvision` works for
`transforms`, `datasets`, `utils` and `models`, the last being dlcore.models)."""
import importlib as _importlib

from . import datasets, transforms, utils  # noqa: F401

__all__ = ["datasets", "transforms", "utils", "models"]


def __getattr__(name):
    if name == "models":  # the reference architectures, loaded on first use
        return _importlib.import_module("..models", __name__)
    raise AttributeError("module 'dlcore.vision' has no attribute %r" % name)
