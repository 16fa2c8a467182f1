"""fuse_modules: merge conv+bn(+relu) and linear(+bn)(+relu) runs into one module before
quantization (torch.ao.quantization.fuse_modules).  BatchNorm is folded into the conv's weight
and bias (eval statistics), so the quantized conv does it for free; the relu becomes part of
the fused module, which convert turns into a quantized ConvReLU2d / LinearReLU."""
import copy

import numpy as np

from .. import nn
from ..tensor import Tensor

__all__ = ["ConvReLU2d", "LinearReLU", "fuse_modules", "fold_bn", "RELUS"]

# activations a conv / linear can absorb: relu, and relu6 (whose upper clip the calibrated
# output range of the fused layer then carries)
RELUS = (nn.ReLU, nn.ReLU6)


class ConvReLU2d(nn.Sequential):
    """A float conv followed by its relu (torch.ao.nn.intrinsic.ConvReLU2d)."""

    def __init__(self, conv, relu):
        super().__init__(conv, relu)


class LinearReLU(nn.Sequential):
    def __init__(self, linear, relu):
        super().__init__(linear, relu)


def fold_bn(layer, bn):
    """A copy of conv/linear `layer` with eval-mode BatchNorm `bn` folded into its weight and
    bias: w' = w * g / sqrt(var + eps), b' = (b - mean) * g / sqrt(var + eps) + beta."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("fuse_modules: %s has no running statistics to fold"
                         % type(bn).__name__)
    new = copy.deepcopy(layer)
    w = layer.weight._data.astype(np.float64)
    n = w.shape[0]
    if bn.running_mean._data.shape != (n,):
        raise ValueError("fuse_modules: %s has %d features, the layer before it %d outputs"
                         % (type(bn).__name__, bn.running_mean._data.shape[0], n))
    inv = 1.0 / np.sqrt(bn.running_var._data.astype(np.float64) + bn.eps)
    g = inv if bn.weight is None else bn.weight._data.astype(np.float64) * inv
    beta = 0.0 if bn.bias is None else bn.bias._data.astype(np.float64)
    b = 0.0 if layer.bias is None else layer.bias._data.astype(np.float64)
    dt = layer.weight._data.dtype
    new.weight = nn.Parameter(Tensor._wrap(
        (w * g.reshape((n,) + (1,) * (w.ndim - 1))).astype(dt)))
    new.bias = nn.Parameter(Tensor._wrap(
        ((b - bn.running_mean._data) * g + beta).astype(dt)))
    return new


def _fuse(mods):
    """The fused module for a list of modules (conv/linear first), and how many it replaces."""
    first, rest = mods[0], list(mods[1:])
    if not isinstance(first, (nn.Conv2d, nn.Linear)):
        raise TypeError("fuse_modules: the first module must be Conv2d or Linear, got %s"
                        % type(first).__name__)
    if rest and isinstance(rest[0], (nn.BatchNorm2d, nn.BatchNorm1d)):
        if first.training or rest[0].training:
            raise ValueError("fuse_modules: folding BatchNorm needs eval mode; call "
                             "model.eval() first (quantization-aware training is not here)")
        first = fold_bn(first, rest.pop(0))
    if rest:
        if len(rest) > 1 or not isinstance(rest[0], RELUS):
            raise TypeError("fuse_modules: expected [conv|linear, (bn), (relu)], got %s"
                            % [type(m).__name__ for m in mods])
        cls = ConvReLU2d if isinstance(first, nn.Conv2d) else LinearReLU
        return cls(first, rest[0])
    return first


def _get(model, path):
    m = model
    for part in path.split("."):
        if part not in m._modules:
            raise KeyError("fuse_modules: %s has no submodule %r" % (type(m).__name__, path))
        m = m._modules[part]
    return m


def _set(model, path, new):
    parent, _, name = path.rpartition(".")
    (_get(model, parent) if parent else model)._modules[name] = new


def fuse_modules(model, modules_to_fuse, inplace=False):
    """Fuse each list of submodule names (e.g. [["conv1", "bn1", "relu1"], ["fc", "relu"]]):
    the first name gets the fused module, the others become Identity.  A single list fuses
    one group.  The model should be in eval mode (BatchNorm is folded)."""
    if not isinstance(model, nn.Module):
        raise TypeError("fuse_modules: model must be a dl.nn.Module, got %s"
                        % type(model).__name__)
    groups = list(modules_to_fuse)
    if groups and isinstance(groups[0], str):
        groups = [groups]
    if not inplace:
        model = copy.deepcopy(model)
    for names in groups:
        if len(names) < 2:
            raise ValueError("fuse_modules: a group needs at least 2 names, got %r" % (names,))
        fused = _fuse([_get(model, n) for n in names])
        _set(model, names[0], fused)
        for n in names[1:]:
            _set(model, n, nn.Identity())
    return model
