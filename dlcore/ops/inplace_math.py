"""The in-place forms (exp_, sqrt_, tanh_, pow_, lerp_, eq_, tril_, cumsum_, ...) of Tensor
methods that exist out of place, with torch's semantics.

Each computes the out-of-place op and writes the result into the tensor's own storage.  On the
autograd graph it is recorded through dlcore.autograd.inplace as that op applied to the old
value (the version counter then catches a saved tensor changed this way); off the graph the
result is copied in.  As in torch the result must fit the tensor: the same shape (no
broadcasting the tensor itself up) and a dtype that casts to its own (float into an integer
tensor is refused; a comparison's bools become 0/1 of the tensor's dtype).
"""
import numpy as np

from ..autograd import inplace as IP
from ..autograd import no_grad
from ..tensor_base import TensorBase, raw, wrap
from .shape import Cast


def _fits(t, res, name):
    if tuple(res.shape) != tuple(t.shape):
        raise RuntimeError("%s: the result of shape %s does not fit the tensor of shape %s "
                           "(an in-place op cannot change its tensor's shape)"
                           % (name, tuple(res.shape), tuple(t.shape)))
    src, dst = res.dtype, t._data.dtype
    if src != dst and src != np.bool_ and not np.can_cast(src, dst, "same_kind"):
        raise RuntimeError("%s: result type %s can't be cast to the desired output type %s"
                           % (name, src, dst))


def _in_place(name, method):
    """Tensor.<name>(...): Tensor.<method>(...) written into self."""

    def run(self, *args, **kwargs):
        others = [a for a in list(args) + list(kwargs.values()) if isinstance(a, TensorBase)]
        if IP.recording(self, others):
            def compute(old):
                res = getattr(old, method)(*args, **kwargs)
                _fits(self, res, name)
                return res if res.dtype == self.dtype else Cast.apply(res, dtype=self.dtype)
            return IP.run_recorded(self, name, compute, keep_old=True)
        with no_grad():
            res = getattr(wrap(self._data), method)(*args, **kwargs)
        _fits(self, res, name)
        out = raw(res)
        return IP.run_direct(self, name, lambda a: np.copyto(a, out, casting="unsafe"))

    run.__name__ = name
    run.__doc__ = "In place: self.%s(...) written into this tensor (torch's %s)." % (method, name)
    return run


# name_ -> the out-of-place method it updates with
_NAMES = (
    "abs absolute acos acosh arccos arccosh arcsin arcsinh arctan arctanh arctan2 asin asinh "
    "atan atanh atan2 ceil floor round trunc cos cosh sin sinh tan tanh exp exp2 expm1 log "
    "log10 log1p log2 neg negative reciprocal rsqrt sqrt square sigmoid sign clamp_min "
    "clamp_max lerp addcmul addcdiv pow fmod remainder hypot nan_to_num floor_divide "
    "true_divide multiply divide subtract eq ne lt le gt ge greater greater_equal less "
    "less_equal not_equal logical_and logical_or logical_xor logical_not cumsum cumprod tril "
    "triu addmm scatter_add erf erfc erfinv lgamma digamma polygamma mvlgamma i0 xlogy sinc "
    "logit deg2rad rad2deg fix frac sgn copysign float_power heaviside gcd lcm addmv addr "
    "addbmm baddbmm ldexp nextafter igamma igammac").split()


class InplaceMathMethods:
    """exp_ sqrt_ ... : see the module docstring."""

    __slots__ = ()


for _m in _NAMES:
    setattr(InplaceMathMethods, _m + "_", _in_place(_m + "_", _m))
