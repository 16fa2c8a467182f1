"""Lazy modules: the input size (in_features, in_channels, num_features) is read off the
first input, as torch's Lazy* layers.

Until then the parameters and buffers that depend on it are UninitializedParameter /
UninitializedBuffer; the first call (a forward pre-hook) gives them their shape, runs the
layer's own reset_parameters, and turns the module into the plain layer (cls_to_become), so a
trained LazyLinear is a Linear for pickling, state_dict and repr.  Loading a state_dict into a
lazy module materializes its parameters with the saved shapes (Module.load_state_dict).
"""
from ..parameter import UninitializedBuffer, UninitializedParameter, is_lazy
from .batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from .conv import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d,
                   ConvTranspose3d)
from .instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .linear import Linear

__all__ = ["LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d",
           "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
           "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


def _infer_parameters(module, args):
    module.initialize_parameters(*args)
    if module.has_uninitialized_params():
        raise RuntimeError("%s: initialize_parameters left uninitialized parameters"
                           % type(module).__name__)
    module.__dict__.pop("_lazy_hook").remove()
    if module.cls_to_become is not None:
        module.__class__ = module.cls_to_become


class LazyModuleMixin:
    """What the Lazy* layers share; `_in_attr` names the size read off the input."""

    cls_to_become = None
    _lazy = True
    _in_attr = None

    def _lazy_setup(self, params, buffers):
        """Replaces the named (non-None) parameters and buffers by uninitialized ones of the
        same dtype and hooks the first call."""
        for name in params:
            p = self._parameters.get(name)
            if p is not None:
                setattr(self, name, UninitializedParameter(p.requires_grad, dtype=p._data.dtype))
        for name in buffers:
            b = self._buffers.get(name)
            if b is not None:
                self._buffers[name] = UninitializedBuffer(dtype=b._data.dtype)
        self.__dict__["_lazy_hook"] = self.register_forward_pre_hook(_infer_parameters)

    def has_uninitialized_params(self):
        return any(is_lazy(t) for t in list(self._parameters.values())
                   + list(self._buffers.values()))

    def reset_parameters(self):
        if not self.has_uninitialized_params() and getattr(self, self._in_attr) != 0:
            super().reset_parameters()


class LazyLinear(LazyModuleMixin, Linear):
    """Linear whose in_features is the first input's last dim."""

    cls_to_become = Linear
    _in_attr = "in_features"

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, out_features, bias, device, dtype)
        self._lazy_setup(("weight", "bias"), ())

    def initialize_parameters(self, input):
        if self.in_features == 0:  # (also after a state_dict load gave the shapes)
            self.in_features = int(input.shape[-1])
        if self.has_uninitialized_params():
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()


class _LazyConv(LazyModuleMixin):
    _in_attr = "in_channels"

    def __init__(self, out_channels, kernel_size, *args, **kwargs):
        super().__init__(0, out_channels, kernel_size, *args, **kwargs)
        self._lazy_setup(("weight", "bias"), ())

    def initialize_parameters(self, input, *args):
        if not self.has_uninitialized_params():
            if self.in_channels == 0:  # loaded from a state_dict: the size is known
                self.in_channels = int(self.weight._data.shape[0 if self.transposed else 1]
                                       * (1 if self.transposed else self.groups))
            return
        n = self._n
        if input.ndim not in (n + 1, n + 2):
            raise RuntimeError("Expected %dD (unbatched) or %dD (batched) input to %s, but got "
                               "input of size: %s" % (n + 1, n + 2, type(self).__name__,
                                                      tuple(input.shape)))
        self.in_channels = int(input.shape[1] if input.ndim == n + 2 else input.shape[0])
        if self.in_channels % self.groups:
            raise ValueError("%s: in_channels (%d) must be divisible by groups (%d)"
                             % (type(self).__name__, self.in_channels, self.groups))
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups)
        else:
            shape = (self.out_channels, self.in_channels // self.groups)
        self.weight.materialize(shape + self.kernel_size)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()


class LazyConv1d(_LazyConv, Conv1d):
    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    cls_to_become = Conv2d


class LazyConv3d(_LazyConv, Conv3d):
    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConv, ConvTranspose1d):
    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConv, ConvTranspose2d):
    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConv, ConvTranspose3d):
    cls_to_become = ConvTranspose3d


class _LazyNorm(LazyModuleMixin):
    _in_attr = "num_features"

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__(0, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)
        self._lazy_setup(("weight", "bias"), ("running_mean", "running_var"))

    def initialize_parameters(self, input):
        if not self.has_uninitialized_params():
            if self.num_features == 0:  # loaded from a state_dict: the size is known
                self.num_features = int(input.shape[1])
            return
        self.num_features = int(input.shape[1])
        for t in (self.weight, self.bias, self.running_mean, self.running_var):
            if t is not None:
                t.materialize((self.num_features,))
        self.reset_parameters()


class LazyBatchNorm1d(_LazyNorm, BatchNorm1d):
    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNorm, BatchNorm2d):
    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNorm, BatchNorm3d):
    cls_to_become = BatchNorm3d


class _LazyInstanceNorm(_LazyNorm):
    """torch's LazyInstanceNorm* default to affine=True, track_running_stats=True (the lazy
    norm base's defaults, unlike InstanceNorm*)."""

    def reset_parameters(self):  # InstanceNorm resets only the affine part; stats too here
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()
            if self.running_mean is not None:
                self.running_mean._data[...] = 0
                self.running_var._data[...] = 1


class LazyInstanceNorm1d(_LazyInstanceNorm, InstanceNorm1d):
    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNorm, InstanceNorm2d):
    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyInstanceNorm, InstanceNorm3d):
    cls_to_become = InstanceNorm3d
