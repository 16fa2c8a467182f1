"""Padding layers: ZeroPad, ConstantPad, ReflectionPad, ReplicationPad and CircularPad in 1, 2
and 3 dims, each F.pad with its mode and the padding given as an int or a tuple."""
import numbers

from ...ops.shape_fn import pad as _pad
from .module import Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d",
           "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d"]


class _PadNd(Module):
    _n = 1
    _mode = "constant"

    def __init__(self, padding, value=0.0):
        super().__init__()
        n2 = 2 * self._n
        if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
            padding = (int(padding),) * n2
        padding = tuple(padding)
        if len(padding) != n2 or not all(isinstance(p, numbers.Integral) for p in padding):
            raise ValueError("%s: padding must be an int or a tuple of %d ints, got %r"
                             % (type(self).__name__, n2, padding))
        self.padding, self.value = padding, value

    def forward(self, input):
        if input.ndim not in (self._n + 1, self._n + 2):
            raise ValueError("%s: input must be %d-D or %d-D, got shape %s"
                             % (type(self).__name__, self._n + 1, self._n + 2,
                                tuple(input.shape)))
        if self._mode == "constant":
            return _pad(input, self.padding, "constant", self.value)
        return _pad(input, self.padding, self._mode)

    def extra_repr(self):
        return "%s" % (self.padding,) + (", value=%s" % self.value if self._mode == "constant"
                                         else "")


def _make(name, n, mode, zero=False):
    def __init__(self, padding, value=None):
        if zero:
            _PadNd.__init__(self, padding, 0.0)
        else:
            _PadNd.__init__(self, padding, 0.0 if value is None else value)
    if mode != "constant":
        def __init__(self, padding):  # noqa: F811  (no value for the non-constant modes)
            _PadNd.__init__(self, padding)
    cls = type(name, (_PadNd,), {"_n": n, "_mode": mode, "__init__": __init__})
    cls.__module__ = __name__
    return cls


ZeroPad1d = _make("ZeroPad1d", 1, "constant", zero=True)
ZeroPad2d = _make("ZeroPad2d", 2, "constant", zero=True)
ZeroPad3d = _make("ZeroPad3d", 3, "constant", zero=True)
ConstantPad1d = _make("ConstantPad1d", 1, "constant")
ConstantPad2d = _make("ConstantPad2d", 2, "constant")
ConstantPad3d = _make("ConstantPad3d", 3, "constant")
ReflectionPad1d = _make("ReflectionPad1d", 1, "reflect")
ReflectionPad2d = _make("ReflectionPad2d", 2, "reflect")
ReflectionPad3d = _make("ReflectionPad3d", 3, "reflect")
ReplicationPad1d = _make("ReplicationPad1d", 1, "replicate")
ReplicationPad2d = _make("ReplicationPad2d", 2, "replicate")
ReplicationPad3d = _make("ReplicationPad3d", 3, "replicate")
CircularPad1d = _make("CircularPad1d", 1, "circular")
CircularPad2d = _make("CircularPad2d", 2, "circular")
CircularPad3d = _make("CircularPad3d", 3, "circular")
