"""NumPy implementations of ONNX ops torch.onnx.export writes that dlcore has no kernel for
(LpPool, LpNormalization, Det, Col2Im, BitCast): Python steps of a plan, folded at load
time on constants (ops_misc.py converts them)."""
import numpy as np

from .numpy_nd import _windows

__all__ = ["IMPLS"]


def lp_pool(x, p=2, kernel=(), strides=(), dilations=(), begin=(), end=(), out=()):
    """(sum over each window of |x|^p)^(1/p), zero padding (ONNX LpPool)."""
    nd = x.ndim - 2
    eff = [(kernel[i] - 1) * dilations[i] + 1 for i in range(nd)]
    extra = [max((out[i] - 1) * strides[i] + eff[i] - (x.shape[2 + i] + begin[i] + end[i]), 0)
             for i in range(nd)]
    pads = [(0, 0), (0, 0)] + [(begin[i], end[i] + extra[i]) for i in range(nd)]
    xp = np.pad(np.abs(x.astype(np.float64)) ** p, pads)
    s = _windows(xp, eff, strides, dilations).sum(axis=tuple(range(2 + nd, 2 + 2 * nd)))
    s = s[(slice(None), slice(None)) + tuple(slice(0, o) for o in out)]
    return (s ** (1.0 / p)).astype(x.dtype)


def lp_normalization(x, axis=-1, p=2):
    norm = (np.abs(x.astype(np.float64)) ** p).sum(axis=axis, keepdims=True) ** (1.0 / p)
    with np.errstate(divide="ignore", invalid="ignore"):
        # a zero vector stays zero (ONNX's reference), not 0/0
        return np.where(norm == 0, 0, x / norm).astype(x.dtype)


def det(x):
    return np.linalg.det(x.astype(np.float64)).astype(x.dtype)


def col2im(x, image=(), block=(), strides=(), dilations=(), begin=(), end=()):
    """Sums the columns (N, C * prod(block), L) back into (N, C, *image) (ONNX Col2Im)."""
    nd = len(image)
    N = x.shape[0]
    K = int(np.prod(block, dtype=np.int64))
    C = x.shape[1] // K
    padded = [image[i] + begin[i] + end[i] for i in range(nd)]
    outs = [(padded[i] - ((block[i] - 1) * dilations[i] + 1)) // strides[i] + 1
            for i in range(nd)]
    cols = x.reshape((N, C) + tuple(block) + tuple(outs)).astype(np.float64)
    y = np.zeros((N, C) + tuple(padded))
    for k in np.ndindex(*block):
        sl = tuple(slice(k[i] * dilations[i], k[i] * dilations[i] + (outs[i] - 1) * strides[i]
                         + 1, strides[i]) for i in range(nd))
        y[(slice(None), slice(None)) + sl] += cols[(slice(None), slice(None)) + k]
    crop = tuple(slice(begin[i], begin[i] + image[i]) for i in range(nd))
    return y[(slice(None), slice(None)) + crop].astype(x.dtype)


def bitcast(x, to="float32"):
    y = np.array(x, order="C").view(np.dtype(to))   # np.array keeps a 0-d shape
    return y.view(np.uint8) != 0 if y.dtype == np.bool_ else y


IMPLS = {"LpPool": lp_pool, "LpNormalization": lp_normalization, "Det": det,
         "Col2Im": col2im, "BitCast": bitcast}


def dft(x, axis=1, n=None, inverse=0, onesided=0):
    """ONNX DFT along `axis` of x (..., 1 real or 2 re/im): (..., bins, ..., 2)."""
    # in the input's precision (NumPy's FFT keeps float32), as ONNX's reference computes it
    ct = np.complex64 if x.dtype == np.float32 else np.complex128
    c = x[..., 0].astype(ct) if x.shape[-1] == 1 else \
        x[..., 0].astype(ct) + np.complex64(1j).astype(ct) * x[..., 1].astype(ct)
    n = c.shape[axis] if n is None else n
    if inverse and onesided:
        # IRFFT: the conjugate-symmetric half spectrum (truncated or zero-padded to n // 2 + 1
        # bins) to n real values
        return np.fft.irfft(c, n=n, axis=axis)[..., None].astype(x.dtype)
    y = np.fft.ifft(c, n=n, axis=axis) if inverse else np.fft.fft(c, n=n, axis=axis)
    if onesided:
        y = np.take(y, np.arange(n // 2 + 1), axis=axis)
    return np.stack([y.real, y.imag], axis=-1).astype(x.dtype)


IMPLS["DFT"] = dft
