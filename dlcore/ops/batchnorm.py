"""Batch normalization: one fused C pass for statistics + normalization, one for backward."""
import numpy as np

from .. import _C
from ..autograd import Function
from ..autograd.double_backward import composite_backward
from ..tensor_base import TensorBase, wrap
from .conv import _c, _FLOAT
from .half import via_float32

__all__ = ["batch_norm"]


def check_batch_norm_input(fname, input, dims, num_features):
    """Checks a BatchNorm layer's input: a Tensor of one of the ranks `dims` with
    `num_features` channels in dim 1."""
    if not isinstance(input, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(input).__name__))
    if input.ndim not in dims:
        raise ValueError("%s: expected %s input, got shape %s"
                         % (fname, " or ".join("%d-D" % d for d in dims), tuple(input.shape)))
    if input.shape[1] != num_features:
        raise ValueError("%s: expected %d channels (dim 1), got input of shape %s"
                         % (fname, num_features, tuple(input.shape)))


class BatchNormFn(Function):
    """x (N, C, L); positional weight and bias may be None.  training: normalize with the
    batch's statistics (and update running_mean/var in place when given); otherwise with the
    given running statistics."""

    def forward(self, x, w=None, b=None, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        shape = x.shape
        x3 = _c(x.reshape(shape[0], shape[1], -1))
        w = None if w is None else _c(w)
        b = None if b is None else _c(b)
        C = shape[1]
        y = np.empty_like(x3)
        if training:
            mean = np.empty(C, dtype=x.dtype)
            invstd = np.empty(C, dtype=x.dtype)
            _C.batchnorm_forward(x3, w, b, y, mean, invstd, running_mean, running_var, True,
                                 float(momentum), float(eps))
        else:
            mean = _c(running_mean.astype(x.dtype, copy=False))
            invstd = (1.0 / np.sqrt(running_var.astype(np.float64) + eps)).astype(x.dtype)
            _C.batchnorm_forward(x3, w, b, y, mean, invstd, None, None, False, 0.0, float(eps))
        if self.requires_grad:
            self.x3, self.w, self.mean, self.invstd = x3, w, mean, invstd
            self.training, self.shape = training, shape
        return y.reshape(shape)

    def backward(self, g):
        g3 = _c(g.reshape(self.x3.shape))
        need = self.needs_input_grad
        gx = np.empty_like(self.x3) if need[0] else None
        C = self.x3.shape[1]
        gw = np.empty(C, g.dtype) if len(need) > 1 and need[1] else None
        gb = np.empty(C, g.dtype) if len(need) > 2 and need[2] else None
        _C.batchnorm_backward(self.x3, g3, self.w, self.mean, self.invstd, self.training, gx,
                              gw, gb)
        return (None if gx is None else gx.reshape(self.shape)), gw, gb

    def backward_graph(self, g):
        x, w, b = (list(self.parents) + [None, None])[:3]
        shape, C = tuple(x.shape), x.shape[1]
        eps = self.kwargs.get("eps", 1e-5)

        def same_value():  # the forward as differentiable ops, for gradients of gradients
            x3 = x.reshape(shape[0], C, -1)
            if self.training:
                d = x3 - x3.mean((0, 2), keepdim=True)
                y = d / ((d * d).mean((0, 2), keepdim=True) + eps).sqrt()
            else:
                y = (x3 - wrap(self.mean.reshape(1, C, 1))) * wrap(self.invstd.reshape(1, C, 1))
            if isinstance(w, TensorBase):
                y = y * w.reshape(1, C, 1)
            if isinstance(b, TensorBase):
                y = y + b.reshape(1, C, 1)
            return y.reshape(shape)
        return composite_backward(self, (g,), same_value)


@via_float32(mutated=((1, "running_mean"), (2, "running_var")))
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """F.batch_norm over dim 1 of an (N, C), (N, C, L) or (N, C, H, W) input."""
    if not isinstance(input, TensorBase):
        raise TypeError("batch_norm: input must be a Tensor, got %s" % type(input).__name__)
    if input.dtype not in _FLOAT:
        raise TypeError("batch_norm: expected a float32 or float64 input, got %s" % input.dtype)
    if input.ndim == 1 and input.numel() == 0:  # torch returns an empty result here
        return input * 1.0
    if input.ndim < 2:
        raise ValueError("batch_norm: input must be at least 2-D (N, C, ...), got shape %s"
                         % (tuple(input.shape),))
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if not isinstance(t, TensorBase):
            raise TypeError("batch_norm: %s must be a Tensor or None, got %s"
                            % (name, type(t).__name__))
        if tuple(t.shape) != (C,):
            raise ValueError("batch_norm: %s must have shape (%d,) for input of shape %s, got %s"
                             % (name, C, tuple(input.shape), tuple(t.shape)))
        if name in ("weight", "bias") and t.dtype != input.dtype:
            raise TypeError("batch_norm: %s dtype %s does not match input dtype %s"
                            % (name, t.dtype, input.dtype))
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError("batch_norm: running_mean and running_var are needed when "
                         "training=False")
    per_channel = input.numel() // max(C, 1) if C else 0
    if training and per_channel == 1:  # an empty batch passes, as in torch
        raise ValueError("batch_norm: expected more than 1 value per channel when training, got "
                         "input of shape %s" % (tuple(input.shape),))
    rm = rv = None
    if running_mean is not None:
        rm, rv = running_mean._data, running_var._data
        if training and (rm.dtype != input.dtype or rv.dtype != input.dtype):
            raise TypeError("batch_norm: running stats dtype %s does not match input dtype %s"
                            % (rm.dtype, input.dtype))
        if training and not (rm.flags.c_contiguous and rv.flags.c_contiguous and
                             rm.flags.writeable and rv.flags.writeable):
            raise ValueError("batch_norm: running_mean and running_var must be contiguous and "
                             "writeable to be updated")
    if input.numel() == 0:
        return input * 1.0
    args = [input, weight, bias]
    while args and args[-1] is None:
        args.pop()
    return BatchNormFn.apply(*args, running_mean=rm, running_var=rv, training=bool(training),
                             momentum=0.1 if momentum is None else float(momentum),
                             eps=float(eps))
