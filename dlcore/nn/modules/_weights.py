"""The weight-and-bias parameters of Linear and the convolution layers, made and initialised
once for all of them as PyTorch does."""
import math

import numpy as np

from ...tensor import _check_device, get_default_dtype
from .. import init
from ..parameter import Parameter


def make_weight_and_bias(module, weight_shape, bias_size, bias, device, dtype):
    """Gives `module` an uninitialised `weight` Parameter of weight_shape and, when `bias`, a
    `bias` of shape (bias_size,) (else registers bias as None), in `dtype` (None: the default
    dtype); `device` must name the CPU."""
    _check_device(device)
    dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
    module.weight = Parameter(np.empty(weight_shape, dtype=dt))
    if bias:
        module.bias = Parameter(np.empty((bias_size,), dtype=dt))
    else:
        module.register_parameter("bias", None)


def reset_kaiming_uniform(weight, bias, fan_in):
    """PyTorch's default init of Linear and convolution layers: weight by kaiming_uniform_ with
    a = sqrt(5), bias (if any) uniform in +-1/sqrt(fan_in) (zeros when fan_in is 0)."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)
