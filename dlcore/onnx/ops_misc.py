"""Converters of ONNX ops torch.onnx.export writes and dlcore has no kernel for: LpPool
(nn.LPPool1d/2d), LpNormalization, Det (torch.det), Col2Im (F.fold), BitCast, DFT (torch.fft,
stft).  Each is a NumPy step (numpy_misc.py).  Found missing by ONNX's node conformance
cases."""
import numpy as np

from .numpy_misc import IMPLS as MISC_IMPLS
from .numpy_ops import IMPLS
from .ops_nn import _pool_out, _spatial_attrs, _spatial_dims
from .reader import np_dtype
from .registry import converter

IMPLS.update(MISC_IMPLS)

__all__ = []


def _float(node, x, what="X"):
    if x.dtype.kind != "f":
        raise node.error("%s must be a float tensor, got %s" % (what, x.dtype))


@converter("LpPool", since=11)
def lp_pool(b, node):
    x = node.need_input(0, "X")
    _float(node, x)
    dims = _spatial_dims(node, x)
    k = list(node.attr("kernel_shape"))
    if len(k) != dims or any(v < 1 for v in k):
        raise node.error("kernel_shape %s must have %d entries >= 1" % (k, dims))
    p = int(node.attr("p", 2))
    if p < 1:
        raise node.error("p must be >= 1, got %d" % p)
    strides, dil, begin, end = _spatial_attrs(node, x, k, dims)
    ceil_mode = int(node.attr("ceil_mode", 0))
    out = _pool_out(node, x, k, strides, dil, begin, end, ceil_mode)
    return [b.numpy1("LpPool", [x], (x.shape[0], x.shape[1]) + tuple(out), x.dtype, p=p,
                     kernel=tuple(k), strides=tuple(strides), dilations=tuple(dil),
                     begin=tuple(begin), end=tuple(end), out=tuple(out))]


@converter("LpNormalization", since=1)
def lp_normalization(b, node):
    x = node.need_input(0, "input")
    _float(node, x, "input")
    p = int(node.attr("p", 2))
    if p not in (1, 2):
        raise node.error("p must be 1 or 2, got %d" % p)
    axis = node.axis(node.attr("axis", -1), x.ndim)
    return [b.numpy1("LpNormalization", [x], x.shape, x.dtype, axis=axis, p=p)]


@converter("Det", since=11)
def det(b, node):
    x = node.need_input(0, "X")
    _float(node, x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise node.error("X must be (..., M, M), got shape %s" % (tuple(x.shape),))
    return [b.numpy1("Det", [x], tuple(x.shape[:-2]), x.dtype)]


@converter("Col2Im", since=18)
def col2im(b, node):
    x = node.need_input(0, "input")
    image, block = node.ints(1, "image_shape"), node.ints(2, "block_shape")
    nd = len(image)
    if x.ndim != 3 or nd < 1 or len(block) != nd or any(v < 1 for v in image + block):
        raise node.error("input must be (N, C * prod(block_shape), L) with image_shape and "
                         "block_shape of one length >= 1, got %s, %s, %s"
                         % (tuple(x.shape), image, block))
    strides = list(node.attr("strides", [1] * nd))
    dil = list(node.attr("dilations", [1] * nd))
    pads = list(node.attr("pads", [0] * 2 * nd))
    if len(strides) != nd or len(dil) != nd or len(pads) != 2 * nd or \
            min(strides + dil) < 1 or min(pads) < 0:
        raise node.error("strides/dilations/pads must have %d/%d/%d entries (>= 1, >= 1, "
                         ">= 0), got %s/%s/%s" % (nd, nd, 2 * nd, strides, dil, pads))
    K = int(np.prod(block, dtype=np.int64))
    L = 1
    for i in range(nd):
        span = image[i] + pads[i] + pads[nd + i] - ((block[i] - 1) * dil[i] + 1)
        if span < 0:
            raise node.error("block %s does not fit the padded image" % (block,))
        L *= span // strides[i] + 1
    if x.shape[1] % K or x.shape[2] != L:
        raise node.error("input %s must be (N, C * %d, %d) for these image and block shapes"
                         % (tuple(x.shape), K, L))
    shape = (x.shape[0], x.shape[1] // K) + tuple(image)
    return [b.numpy1("Col2Im", [x], shape, x.dtype, image=tuple(image), block=tuple(block),
                     strides=tuple(strides), dilations=tuple(dil), begin=tuple(pads[:nd]),
                     end=tuple(pads[nd:]))]


@converter("BitCast", since=26)
def bitcast(b, node):
    x = node.need_input(0, "input")
    to = np_dtype(node.attr("to"), node.where() + " attribute 'to'")
    if to.itemsize != x.dtype.itemsize:
        raise node.error("BitCast needs two types of one size, got %s to %s"
                         % (x.dtype, to))
    return [b.numpy1("BitCast", [x], x.shape, to, to=to.name)]


@converter("DFT", since=17)
def dft(b, node):
    x = node.need_input(0, "input")
    _float(node, x, "input")
    if x.ndim < 2 or x.shape[-1] not in (1, 2):
        raise node.error("input must be (..., 1) real or (..., 2) complex, got shape %s"
                         % (tuple(x.shape),))
    n = None
    if node.input(1) is not None:
        n = node.ints(1, "dft_length")[0]
        if n < 1:
            raise node.error("dft_length must be >= 1, got %d" % n)
    if node.opset >= 20:
        axis = node.ints(2, "axis", [-2])[0]
    else:
        axis = int(node.attr("axis", 1))
    # the axis counts the input's dims, the last (re/im) one excluded
    axis = node.axis(axis if axis >= 0 else axis + 1, x.ndim - 1)
    inverse, onesided = int(node.attr("inverse", 0)), int(node.attr("onesided", 0))
    shape = list(x.shape[:-1]) + [2]
    if inverse and onesided:
        # IRFFT: a one-sided complex spectrum in, the full real signal (..., n, ..., 1) out;
        # without dft_length n is the even length 2 * (bins - 1), as ONNX's reference reads it
        if x.shape[-1] != 2:
            raise node.error("an inverse one-sided DFT takes a complex (..., 2) input")
        if n is None:
            n = 2 * (x.shape[axis] - 1)
            if n < 1:
                raise node.error("an inverse one-sided DFT of %d bins has no default "
                                 "dft_length; give one" % x.shape[axis])
        shape[-1], shape[axis] = 1, n
        return [b.numpy1("DFT", [x], tuple(shape), x.dtype, axis=axis, n=n, inverse=1,
                         onesided=1)]
    bins = x.shape[axis] if n is None else n
    shape[axis] = bins // 2 + 1 if onesided else bins
    return [b.numpy1("DFT", [x], tuple(shape), x.dtype, axis=axis, n=n, inverse=inverse,
                     onesided=onesided)]
