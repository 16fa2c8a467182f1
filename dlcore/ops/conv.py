"""Convolutions: conv2d, conv_transpose2d (its adjoint) and conv1d (conv2d on a 1-row image).

The C kernels (csrc/conv.c) do the work: im2col + GEMM tiled over the batch, a pointwise
path without im2col, a direct SIMD depthwise kernel, and Winograd F(4x4, 3x3) / F(2x2, 3x3)
(csrc/winograd.c, the weight gradient in csrc/winograd_wgrad.c) for float32 3x3 stride-1
convolutions where a cost model says it is faster.  A float32 forward whose shape an inference
plan runs on one of the executor's kernels runs that kernel too (csrc/conv_routes.c): the
direct kernels (stride 2 on at most 4 input channels, a network's first layer; stride 1 with
few output channels on a small map) and, for one image on a small map, the transposed product
col^T W^T, so eager and planned inference take the same algorithm.
conv_transpose2d's forward is conv2d's input-gradient kernel and its backward is conv2d's
forward plus weight gradient.

The algorithm choice can be overridden for tests and benchmarks: set_conv_algorithm(name),
the conv_algorithm(name) context manager, or DLCORE_CONV_ALGO at start-up; name is 'auto'
(the default), 'im2col', 'winograd' (wherever it applies, the cheaper tile size),
'winograd2x2' or 'winograd4x4'.
"""
import contextlib
import numbers

import numpy as np

from .. import _C
from ..autograd import Function, function as _function, is_grad_enabled, sealed
from ..dtypes import float16, is_bf16
from ..tensor_base import TensorBase
from . import bf16_matmul
from .half import via_float32
from .half_convert import convert, widen
from .autocast import lower_precision

__all__ = ["conv1d", "conv2d", "conv_transpose2d"]

_FLOAT = (np.dtype(np.float32), np.dtype(np.float64))


def winograd_cache_info(clear=False):
    """The Winograd filter-transform cache that inference (calls recording no gradient)
    uses: dict(entries, bytes, hits, misses, trusted); clear=True empties it first.  An entry
    is reused only while the weights equal those it was made from: proved by the weight's
    seal (dlcore.autograd.sealed; `trusted` counts those hits) or else compared byte for byte."""
    return _C.winograd_cache_info(clear)


def get_conv_algorithm():
    """The convolution algorithm setting in force ('auto', 'im2col', 'winograd', ...)."""
    return _C.conv_algo()


def set_conv_algorithm(name):
    """Sets which algorithm float32 convolutions use (see the module docstring); returns the
    previous setting."""
    prev = _C.conv_algo()
    _C.conv_algo(name)
    return prev


@contextlib.contextmanager
def conv_algorithm(name):
    """Runs the block with the convolution algorithm set to `name`, then restores it."""
    prev = set_conv_algorithm(name)
    try:
        yield name
    finally:
        _C.conv_algo(prev)


def conv2d_algorithm(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1,
                     input_grad=False, weight_grad=False, cached=False):
    """What a float32 conv2d of these shapes (int padding) runs under the current setting:
    'im2col' (also the pointwise, depthwise, direct and small-map transposed paths of
    csrc/conv_routes.c: none of them transforms anything), 'winograd2x2' or 'winograd4x4'; with
    input_grad (weight_grad), what its input (weight) gradient runs; with cached, what a
    forward whose filter transform is already made runs (inference on the same weights)."""
    stride = _pair(stride, "stride", "conv2d_algorithm")
    pad = _pair(padding, "padding", "conv2d_algorithm")
    dil = _pair(dilation, "dilation", "conv2d_algorithm")
    N, C, H, W = x_shape
    K, _, R, S = w_shape
    out_hw = ((H + 2 * pad[0] - dil[0] * (R - 1) - 1) // stride[0] + 1,
              (W + 2 * pad[1] - dil[1] * (S - 1) - 1) // stride[1] + 1)
    return _C.conv2d_algo_for(tuple(x_shape), tuple(w_shape), out_hw, stride, pad, dil,
                              int(groups), bool(input_grad), bool(weight_grad), bool(cached))


def _pair(v, name, fname, n=2):
    """An int or a sequence of n ints (or of one, which ATen repeats) -> tuple of n ints."""
    # the forms layers pass, without numbers.Integral's isinstance (an ABC check costs ~1 us,
    # and a batch-1 conv2d call made nine: a fifth of its Python time)
    if type(v) is tuple and len(v) == n and all([type(e) is int for e in v]):
        return v
    if type(v) is int:
        return (v,) * n
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return (int(v),) * n
    try:
        t = tuple(v)
    except TypeError:
        t = None
    if t is not None and len(t) == 1:
        t = t * n
    if t is None or len(t) != n or not all(isinstance(e, numbers.Integral) and
                                            not isinstance(e, bool) for e in t):
        raise TypeError("%s: %s must be an int or a tuple of %d ints, got %r" % (fname, name, n, v))
    return tuple(int(e) for e in t)


def _check_window(fname, k, s, p, d):
    """A sliding window's kernel size, stride and dilation (tuples) must be positive, its
    padding non-negative."""
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError("%s: kernel_size %s, stride %s and dilation %s must be positive"
                         % (fname, k, s, d))
    if min(p) < 0:
        raise ValueError("%s: padding must be non-negative, got %s" % (fname, p))


def _c(a):
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _bf16_forward(x, w, b, y, conf, out_hw):
    """bf16 conv2d forward: im2col + the bf16 GEMM where the float32 engine itself would run
    im2col on one group of at least 8 channels (there the bf16 GEMM made the forward 1.6x
    faster here); elsewhere (Winograd, depthwise/grouped, few channels, where NumPy's gather is
    the cost) the float32 kernels on widened values.  float32 sums, one rounding, either way."""
    if not y.size:
        return y
    stride, padding, dilation, groups = conf
    if groups == 1 and x.shape[1] >= 8 and _C.conv2d_algo_for(
            tuple(x.shape), tuple(w.shape), out_hw, stride, padding, dilation, groups,
            False) == "im2col":
        return bf16_matmul.Conv2dBF16(x.shape, w.shape, stride, padding, dilation, groups,
                                      out_hw).forward(x, w, b)
    y32 = np.empty(y.shape, np.float32)
    _C.conv2d_forward(widen(x), widen(w), None if b is None else widen(b), y32, stride, padding,
                      dilation, groups)
    return convert(y32, x.dtype)


class _ConvPairFn(Function):
    """What conv2d and conv_transpose2d share: each one's forward is the other's data gradient,
    so both keep (x, w, whether there is a bias) and the settings (stride, padding, dilation,
    groups) the same way, and each one's graph-mode backward applies the other."""
    _adjoint = None     # the other op of the pair (set below both)
    _transposed = False

    def _kernels(self):
        """(this op's kernel, its data gradient's kernel): each is the other's."""
        if self._transposed:
            return _C.conv2d_backward_data, _C.conv2d_forward
        return _C.conv2d_forward, _C.conv2d_backward_data

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                out_hw=None, wtoken=0):
        x, w = _c(x), _c(w)
        b = None if b is None else _c(b)
        out_channels = w.shape[1] * groups if self._transposed else w.shape[0]
        y = np.empty((x.shape[0], out_channels) + out_hw, dtype=x.dtype)
        self.conf = (stride, padding, dilation, groups)
        if self.requires_grad:
            self.x, self.w, self.has_b = x, w, b is not None
        if is_bf16(x.dtype) and not self._transposed:
            return _bf16_forward(x, w, b, y, self.conf, out_hw)
        if y.size:
            # nothing recorded (inference): Winograd may reuse w's filter transform
            # (wtoken is w's seal token: the cache trusts an entry under it unread)
            self._kernels()[0](x, w, b, y, *self.conf, not self.requires_grad, wtoken)
        return y

    def backward(self, g):
        if is_bf16(g.dtype):
            # the float32 kernels on widened values, rounded back: measured here 2.5x faster
            # than the bf16 GEMM on NumPy-gathered columns (the transposes the weight gradient
            # needs dominate)
            x, w = self.x, self.w
            self.x, self.w = widen(x), widen(w)
            grads = self.backward(widen(g))
            return tuple(None if r is None else convert(r, g.dtype) for r in grads)
        g = _c(g)
        if g.shape[0] == 0:      # an empty batch: zero gradients of each input's shape
            return (np.zeros_like(self.x) if self.needs_input_grad[0] else None,
                    np.zeros_like(self.w) if self.needs_input_grad[1] else None,
                    np.zeros((g.shape[1],), self.w.dtype) if self.has_b else None)
        gx = None
        if self.needs_input_grad[0]:
            gx = np.empty_like(self.x)
            self._kernels()[1](g, self.w, None, gx, *self.conf)
        return (gx,) + self._param_grads(g)

    def backward_graph(self, g):
        x, w = self.parents[0], self.parents[1]
        kw = self.kwargs
        conf = dict(stride=kw.get("stride", (1, 1)), padding=kw.get("padding", (0, 0)),
                    dilation=kw.get("dilation", (1, 1)), groups=kw.get("groups", 1))
        need = self.needs_input_grad
        gx = self._adjoint.apply(g, w, out_hw=tuple(x.shape[2:]), **conf) if need[0] else None
        # the weight gradient of the conv2d from (its input, its output gradient)
        operands = (g, x) if self._transposed else (x, g)
        gw = Conv2dWeightGrad.apply(*operands, wshape=tuple(w.shape), conf=tuple(conf.values())) \
            if need[1] else None
        gb = g.sum((0, 2, 3)) if len(need) > 2 and need[2] else None
        return gx, gw, gb


class Conv2dFn(_ConvPairFn):
    """y = conv2d(x, w) + b; `out_hw` fixes the output size (asymmetric 'same' padding)."""

    def _param_grads(self, g):
        x, w = self.x, self.w
        gw = gb = None
        want_b = self.has_b and self.needs_input_grad[2]
        if self.needs_input_grad[1] or want_b:
            gw = np.empty_like(w) if self.needs_input_grad[1] else None
            gb = np.empty((w.shape[0],), w.dtype) if want_b else None
            _C.conv2d_backward_weight(x, g, gw, gb, w.shape, *self.conf)
        return gw, gb


class ConvTranspose2dFn(_ConvPairFn):
    """y = conv_transpose2d(x, w) + b with w (C_in, C_out/groups, R, S): the adjoint of the
    conv2d that maps y's shape to x's shape."""
    _transposed = True

    def _param_grads(self, g):
        x, w = self.x, self.w
        gw = gb = None
        if self.needs_input_grad[1]:
            gw = np.empty_like(w)
            _C.conv2d_backward_weight(g, x, gw, None, w.shape, *self.conf)
        if self.has_b and self.needs_input_grad[2]:
            gb = np.empty((g.shape[1],), g.dtype)
            _C.channel_sum(g, gb)
        return gw, gb


Conv2dFn._adjoint = ConvTranspose2dFn
ConvTranspose2dFn._adjoint = Conv2dFn


class Conv2dWeightGrad(Function):
    """conv2d's weight gradient from input x and output gradient g, as an op (for gradients
    of gradients).  Bilinear: its backward is conv2d's data gradient and conv2d itself."""

    def forward(self, x, g, wshape=None, conf=None):
        x, g = _c(x), _c(g)
        gw = np.zeros(wshape, dtype=x.dtype)
        if g.shape[0]:
            _C.conv2d_backward_weight(x, g, gw, None, wshape, *conf)
        if self.requires_grad:
            self.x, self.g, self.conf = x, g, conf
        return gw

    def backward(self, ggw):
        ggw = _c(ggw)
        gx = gg = None
        if self.needs_input_grad[0]:
            gx = np.zeros_like(self.x)
            if self.g.shape[0]:
                _C.conv2d_backward_data(self.g, ggw, None, gx, *self.conf)
        if self.needs_input_grad[1]:
            gg = np.zeros_like(self.g)
            if gg.size:
                _C.conv2d_forward(self.x, ggw, None, gg, *self.conf)
        return gx, gg


def _seal_kwargs(input, weight, bias, stride, dilation, groups):
    """{'wtoken': the weight's seal token} for a float32 3x3 stride-1 convolution that
    records nothing (the calls whose Winograd filter transform the cache keeps), else {}.
    Sealing makes the weight's array read-only until a writer unseals it (see
    dlcore.autograd.sealed); only weights the cache can serve are sealed."""
    if weight.dtype != np.float32 or groups != 1 or weight.shape[2:] != (3, 3) or \
            stride != (1, 1) or dilation != (1, 1):
        return {}
    if _function._tracer is not None:
        # a trace (grad on, nothing differentiated) records no token, but seals the weight
        # while it still may: its plan then holds the array, and an array held elsewhere
        # cannot be sealed, which left eager calls on a traced model comparing the cached
        # Winograd transforms with the weights byte for byte (38 MB per ResNet-18 forward)
        sealed.token(weight)
        return {}
    if is_grad_enabled() and (input.requires_grad or weight.requires_grad or
                              (bias is not None and bias.requires_grad)):
        return {}
    tok = sealed.token(weight)
    return {"wtoken": tok} if tok else {}


def _check_common(fname, input, weight, bias):
    if not isinstance(input, TensorBase) or not isinstance(weight, TensorBase):
        raise TypeError("%s: input and weight must be Tensors, got %s and %s"
                        % (fname, type(input).__name__, type(weight).__name__))
    if bias is not None and not isinstance(bias, TensorBase):
        raise TypeError("%s: bias must be a Tensor or None, got %s" % (fname, type(bias).__name__))
    if input.dtype not in _FLOAT and (fname != "conv2d" or not is_bf16(input.dtype)):
        raise TypeError("%s: expected a float32 or float64 input, got %s" % (fname, input.dtype))
    if weight.dtype != input.dtype or (bias is not None and bias.dtype != input.dtype):
        raise TypeError("%s: input (%s), weight (%s) and bias (%s) must share a dtype"
                        % (fname, input.dtype, weight.dtype,
                           None if bias is None else bias.dtype))


def _batched(fname, input, nd):
    """(input with a batch dim, whether one was added) for a (C, *sp) or (N, C, *sp) input."""
    if input.ndim == nd + 1:
        return input.unsqueeze(0), True
    if input.ndim != nd + 2:
        dims = "(N, C, H, W)" if nd == 2 else "(N, C, L)"
        raise ValueError("%s: input must be %d-D %s (or %d-D without the batch dim), got shape %s"
                         % (fname, nd + 2, dims, nd + 1, tuple(input.shape)))
    return input, False


def _conv_inputs(fname, input, weight, bias, nd, weight_layout):
    """The checks every convolution starts with: Tensor arguments of one float dtype, an
    (N, C, *nd spatial) input (or one without N: then returned with it, and True) and an
    (nd + 2)-D weight laid out as weight_layout says."""
    _check_common(fname, input, weight, bias)
    x, unbatched = _batched(fname, input, nd)
    if weight.ndim != nd + 2:
        raise ValueError("%s: weight must be %d-D %s, got shape %s"
                         % (fname, nd + 2, weight_layout, tuple(weight.shape)))
    return x, unbatched


@lower_precision
@via_float32(only=float16)  # bfloat16 has its own path (bf16_matmul.conv2d)
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """F.conv2d: input (N, C_in, H, W), weight (C_out, C_in/groups, kH, kW), bias (C_out).

    padding: int, (pad_h, pad_w), 'valid' (none) or 'same' (output size = input size; needs
    stride 1; an odd total padding puts the extra row/column at the bottom/right, as PyTorch).
    """
    fname = "conv2d"
    x, unbatched = _conv_inputs(fname, input, weight, bias, 2, "(C_out, C_in/groups, kH, kW)")
    stride = _pair(stride, "stride", fname)
    dilation = _pair(dilation, "dilation", fname)
    if type(groups) is not int and not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError("conv2d: groups must be a positive int, got %r" % (groups,))
    groups = int(groups)
    if min(stride) < 1:
        raise ValueError("conv2d: stride must be >= 1, got %s" % (stride,))
    if min(dilation) < 1:
        raise ValueError("conv2d: dilation must be >= 1, got %s" % (dilation,))
    N, C, H, W = x.shape
    K, Cg, R, S = weight.shape
    if min(K, R, S) < 1:
        raise ValueError("conv2d: weight shape %s has an empty dimension" % (tuple(weight.shape),))
    if K % groups:
        raise ValueError("conv2d: out_channels (weight.shape[0] = %d) must be divisible by "
                         "groups=%d" % (K, groups))
    if C % groups or Cg * groups != C:
        raise ValueError("conv2d: input of shape %s has %d channels, expected weight.shape[1] * "
                         "groups = %d * %d = %d (weight shape %s)"
                         % (tuple(input.shape), C, Cg, groups, Cg * groups, tuple(weight.shape)))
    if bias is not None and tuple(bias.shape) != (K,):
        raise ValueError("conv2d: bias must have shape (%d,), got %s" % (K, tuple(bias.shape)))
    eff = (dilation[0] * (R - 1) + 1, dilation[1] * (S - 1) + 1)
    if isinstance(padding, str):
        if padding == "valid":
            pad = (0, 0)
            out_hw = None
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError("conv2d: padding='same' is not supported for strided "
                                 "convolutions (stride %s)" % (stride,))
            pad = ((eff[0] - 1) // 2, (eff[1] - 1) // 2)
            out_hw = (H, W)
        else:
            raise ValueError("conv2d: padding must be an int, a tuple, 'valid' or 'same', got %r"
                             % (padding,))
    else:
        pad = _pair(padding, "padding", fname)
        out_hw = None
        if min(pad) < 0:
            raise ValueError("conv2d: padding must be non-negative, got %s" % (pad,))
    if out_hw is None:
        if H + 2 * pad[0] < eff[0] or W + 2 * pad[1] < eff[1]:
            raise ValueError("conv2d: kernel size %s (dilated: %s) is larger than the padded "
                             "input size (%d, %d) for input of shape %s and padding %s"
                             % ((R, S), eff, H + 2 * pad[0], W + 2 * pad[1], tuple(input.shape), pad))
        out_hw = ((H + 2 * pad[0] - eff[0]) // stride[0] + 1,
                  (W + 2 * pad[1] - eff[1]) // stride[1] + 1)
    if min(out_hw) < 1 or min(H, W) < 1:
        raise ValueError("conv2d: output size %s would be empty for input of shape %s"
                         % (out_hw, tuple(input.shape)))
    args = (x, weight) if bias is None else (x, weight, bias)
    y = Conv2dFn.apply(*args, stride=stride, padding=pad, dilation=dilation, groups=groups,
                       out_hw=out_hw, **_seal_kwargs(x, weight, bias, stride, dilation, groups))
    return y.squeeze(0) if unbatched else y


@lower_precision
@via_float32
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """F.conv_transpose2d: input (N, C_in, H, W), weight (C_in, C_out/groups, kH, kW);
    output size (H-1)*stride - 2*padding + dilation*(kH-1) + output_padding + 1."""
    fname = "conv_transpose2d"
    x, unbatched = _conv_inputs(fname, input, weight, bias, 2, "(C_in, C_out/groups, kH, kW)")
    stride = _pair(stride, "stride", fname)
    pad = _pair(padding, "padding", fname)
    opad = _pair(output_padding, "output_padding", fname)
    dilation = _pair(dilation, "dilation", fname)
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError("conv_transpose2d: groups must be a positive int, got %r" % (groups,))
    groups = int(groups)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError("conv_transpose2d: stride and dilation must be >= 1, got %s and %s"
                         % (stride, dilation))
    if min(pad) < 0 or min(opad) < 0:
        raise ValueError("conv_transpose2d: padding %s and output_padding %s must be non-negative"
                         % (pad, opad))
    for i in range(2):
        if opad[i] >= max(stride[i], dilation[i]):
            raise ValueError("conv_transpose2d: output_padding %s must be smaller than stride %s "
                             "or dilation %s" % (opad, stride, dilation))
    N, C, H, W = x.shape
    Cin, Kg, R, S = weight.shape
    if Cin != C:
        raise ValueError("conv_transpose2d: input of shape %s has %d channels, weight of shape %s "
                         "expects %d" % (tuple(input.shape), C, tuple(weight.shape), Cin))
    if C % groups:
        raise ValueError("conv_transpose2d: in_channels=%d must be divisible by groups=%d"
                         % (C, groups))
    if min(Kg, R, S) < 1:
        raise ValueError("conv_transpose2d: weight shape %s has an empty dimension"
                         % (tuple(weight.shape),))
    K = Kg * groups
    if bias is not None and tuple(bias.shape) != (K,):
        raise ValueError("conv_transpose2d: bias must have shape (%d,), got %s"
                         % (K, tuple(bias.shape)))
    out_hw = ((H - 1) * stride[0] - 2 * pad[0] + dilation[0] * (R - 1) + opad[0] + 1,
              (W - 1) * stride[1] - 2 * pad[1] + dilation[1] * (S - 1) + opad[1] + 1)
    if min(out_hw) < 1 or min(H, W) < 1:
        raise ValueError("conv_transpose2d: output size %s is not positive for input of shape %s, "
                         "kernel %s, stride %s, padding %s"
                         % (out_hw, tuple(input.shape), (R, S), stride, pad))
    args = (x, weight) if bias is None else (x, weight, bias)
    y = ConvTranspose2dFn.apply(*args, stride=stride, padding=pad, dilation=dilation,
                                groups=groups, out_hw=out_hw,
                                **_seal_kwargs(x, weight, bias, stride, dilation, groups))
    return y.squeeze(0) if unbatched else y


@lower_precision
@via_float32
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """F.conv1d: input (N, C_in, L), weight (C_out, C_in/groups, k): conv2d on a 1-row image."""
    fname = "conv1d"
    x, unbatched = _conv_inputs(fname, input, weight, bias, 1, "(C_out, C_in/groups, k)")
    s = _pair(stride, "stride", fname, 1)[0]
    d = _pair(dilation, "dilation", fname, 1)[0]
    p = padding if isinstance(padding, str) else _pair(padding, "padding", fname, 1)[0]
    p2 = p if isinstance(p, str) else (0, p)
    y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), p2, (1, d), groups)
    y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y
