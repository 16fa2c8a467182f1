"""The parameters and buffers the normalization layers share, with PyTorch's names: the
optional affine weight (ones) and bias (zeros), and the running statistics."""
import numpy as np

from ...tensor import Tensor
from .. import init
from ..parameter import Parameter


def register_affine(module, shape, dtype, weight, bias=None):
    """module.weight (ones of `shape`) when `weight`, else a None parameter, as torch registers
    it for affine=False; likewise module.bias (zeros), which is left out when bias is None."""
    wanted = (("weight", weight, np.ones),) if bias is None else \
        (("weight", weight, np.ones), ("bias", bias, np.zeros))
    for name, on, fill in wanted:
        module.register_parameter(name, Parameter(fill(shape, dtype=dtype)) if on else None)


def reset_affine(module):
    """Weight back to ones and bias to zeros, where the module has them."""
    if module.weight is not None:
        init.ones_(module.weight)
    if getattr(module, "bias", None) is not None:
        init.zeros_(module.bias)


def register_running_stats(module, num_features, dtype, track):
    """running_mean (zeros), running_var (ones) and num_batches_tracked buffers, or None buffers
    when the layer does not track them."""
    if track:
        module.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dtype)))
        module.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dtype)))
        module.register_buffer("num_batches_tracked", Tensor(np.zeros((), dtype=np.int64)))
    else:
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            module.register_buffer(name, None)
