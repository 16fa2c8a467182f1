"""FractionalMaxPool2d / FractionalMaxPool3d (torch's arguments; dlcore.ops.fractional_pool)."""
from ...ops.fractional_pool import fractional_max_pool2d, fractional_max_pool3d
from .module import Module

__all__ = ["FractionalMaxPool2d", "FractionalMaxPool3d"]


class FractionalMaxPool2d(Module):
    _fn = staticmethod(fractional_max_pool2d)
    _n = 2

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        name = type(self).__name__
        if output_size is None and output_ratio is None:
            raise ValueError("%s requires specifying either an output size, or a pooling ratio"
                             % name)
        if output_size is not None and output_ratio is not None:
            raise ValueError("%s: only one of output_size and output_ratio may be specified"
                             % name)
        if output_ratio is not None:
            ratio = output_ratio if isinstance(output_ratio, (tuple, list)) \
                else (output_ratio,) * self._n
            if not all(0 < float(r) < 1 for r in ratio):
                raise ValueError("%s: output_ratio must be between 0 and 1 (got %r)"
                                 % (name, output_ratio))
            output_ratio = tuple(ratio)
        self.kernel_size, self.output_size, self.output_ratio = kernel_size, output_size, \
            output_ratio
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)  # in state_dict, as torch

    def forward(self, input):
        return self._fn(input, self.kernel_size, self.output_size, self.output_ratio,
                        self.return_indices, _random_samples=self._random_samples)


class FractionalMaxPool3d(FractionalMaxPool2d):
    _fn = staticmethod(fractional_max_pool3d)
    _n = 3
