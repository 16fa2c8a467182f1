"""The image operations behind dl.vision.transforms, on NumPy arrays in CHW layout.

Every public function accepts a PIL image, a CHW Tensor or a CHW ndarray (uint8 or float) and
returns the same kind.  Pillow is only used to turn a PIL image into an array and back (and is
optional: without it, tensors and arrays work).  Interpolation is separable resampling with a
weight matrix per axis: bilinear uses the triangle filter, widened by the scale factor when
shrinking (antialiasing, as PIL and torchvision's antialias=True do); nearest picks the source
pixel whose centre is nearest ((i + 0.5) * scale).
"""
import math
import numbers

import numpy as np

from ...tensor import Tensor

try:  # Pillow only converts PIL images to arrays and back
    from PIL import Image as _PILImage
except ImportError:  # pragma: no cover - Pillow is optional
    _PILImage = None

__all__ = ["InterpolationMode", "to_tensor", "pil_to_tensor", "to_pil_image", "normalize",
           "resize", "crop", "center_crop", "pad", "hflip", "vflip", "resized_crop", "rotate",
           "rgb_to_grayscale", "adjust_brightness", "adjust_contrast", "adjust_saturation",
           "adjust_hue", "get_image_size", "get_dimensions"]


class InterpolationMode:
    NEAREST = "nearest"
    BILINEAR = "bilinear"


_PIL_CODES = {0: "nearest", 2: "bilinear"}  # PIL.Image.NEAREST / BILINEAR


def _mode(interpolation, fname):
    m = _PIL_CODES.get(interpolation, interpolation) if isinstance(interpolation, int) \
        else getattr(interpolation, "value", interpolation)
    if m not in ("nearest", "bilinear"):
        raise ValueError("%s: interpolation must be 'nearest' or 'bilinear' (bicubic and "
                         "others are not implemented), got %r" % (fname, interpolation))
    return m


# ---- kinds of image ------------------------------------------------------------------------
def _is_pil(img):
    return _PILImage is not None and isinstance(img, _PILImage.Image)


def _unpack(img, fname):
    """(CHW array, a function that turns a CHW array back into img's kind)."""
    if _is_pil(img):
        mode = img.mode
        a = np.asarray(img)
        if a.ndim == 2:
            return a[None], lambda out: _PILImage.fromarray(out[0], mode=mode)
        return a.transpose(2, 0, 1), lambda out: _PILImage.fromarray(
            np.ascontiguousarray(out.transpose(1, 2, 0)), mode=mode)
    if isinstance(img, Tensor):
        a = img.detach().numpy()
        if a.ndim < 2:
            raise ValueError("%s: expected a (..., C, H, W) or (H, W) tensor, got shape %s"
                             % (fname, a.shape))
        return a, lambda out: Tensor(np.ascontiguousarray(out))
    if isinstance(img, np.ndarray):
        if img.ndim < 2:
            raise ValueError("%s: expected a (..., C, H, W) or (H, W) array, got shape %s"
                             % (fname, img.shape))
        return img, lambda out: np.ascontiguousarray(out)
    raise TypeError("%s: expected a PIL image, a Tensor or an ndarray, got %s"
                    % (fname, type(img).__name__))


def get_dimensions(img):
    """[channels, height, width]."""
    a, _ = _unpack(img, "get_dimensions")
    return [a.shape[-3] if a.ndim >= 3 else 1, a.shape[-2], a.shape[-1]]


def get_image_size(img):
    """[width, height] (torchvision's order)."""
    _, h, w = get_dimensions(img)
    return [w, h]


def _finish_like(out, like):
    """Float results back to the input dtype (integers rounded and clipped)."""
    if like.dtype.kind in "ui":
        info = np.iinfo(like.dtype)
        return np.clip(np.round(out), info.min, info.max).astype(like.dtype)
    return out.astype(like.dtype, copy=False)


def _max_value(a):
    return float(np.iinfo(a.dtype).max) if a.dtype.kind in "ui" else 1.0


# ---- conversions -----------------------------------------------------------------------------
def to_tensor(pic):
    """PIL image or HWC ndarray -> float32 CHW Tensor; uint8 data scaled to [0, 1]."""
    if _is_pil(pic):
        a = np.asarray(pic)
        if pic.mode == "1":
            a = a.astype(np.uint8) * 255
    elif isinstance(pic, np.ndarray):
        a = pic
    else:
        raise TypeError("to_tensor: pic should be a PIL image or an ndarray, got %s"
                        % type(pic).__name__)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ValueError("to_tensor: pic should be 2-D or 3-D (H, W, C), got shape %s"
                         % (a.shape,))
    chw = np.ascontiguousarray(a.transpose(2, 0, 1))
    if chw.dtype == np.uint8:
        return Tensor(chw.astype(np.float32) / np.float32(255))
    if chw.dtype.kind == "f":
        return Tensor(chw)
    return Tensor(chw.astype(np.float32))


def pil_to_tensor(pic):
    """PIL image -> CHW Tensor of its own dtype (uint8 stays uint8, unscaled)."""
    if not _is_pil(pic):
        raise TypeError("pil_to_tensor: pic should be a PIL image, got %s" % type(pic).__name__)
    a = np.asarray(pic)
    if a.ndim == 2:
        a = a[:, :, None]
    return Tensor(np.ascontiguousarray(a.transpose(2, 0, 1)))


def to_pil_image(pic, mode=None):
    if _PILImage is None:
        raise ImportError("to_pil_image needs Pillow (pip install pillow)")
    a = pic.detach().numpy() if isinstance(pic, Tensor) else np.asarray(pic)
    if isinstance(pic, Tensor):
        if a.ndim == 3:
            a = a.transpose(1, 2, 0)
        if a.dtype.kind == "f":
            a = np.clip(a * 255, 0, 255).round().astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    return _PILImage.fromarray(np.ascontiguousarray(a), mode=mode)


def normalize(tensor, mean, std, inplace=False):
    """(x - mean[c]) / std[c] per channel of a float CHW (or NCHW) tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError("normalize: expected a Tensor, got %s" % type(tensor).__name__)
    if tensor.dtype.kind != "f":
        raise TypeError("normalize: expected a float tensor, got %s (use ToTensor first)"
                        % tensor.dtype)
    if tensor.ndim < 3:
        raise ValueError("normalize: expected a (..., C, H, W) tensor, got shape %s"
                         % (tuple(tensor.shape),))
    m = np.asarray(mean, dtype=tensor.dtype).reshape(-1, 1, 1)
    s = np.asarray(std, dtype=tensor.dtype).reshape(-1, 1, 1)
    if (s == 0).any():
        raise ValueError("normalize: std evaluated to zero, leading to division by zero")
    C = tensor.shape[-3]
    if m.shape[0] not in (1, C) or s.shape[0] not in (1, C):
        raise ValueError("normalize: mean and std need 1 or %d values, got %d and %d"
                         % (C, m.shape[0], s.shape[0]))
    out = (tensor._data - m) / s
    if inplace:
        tensor._data[...] = out
        return tensor
    return Tensor(out.astype(tensor.dtype))


# ---- resampling --------------------------------------------------------------------------
def _weights(n_in, n_out, mode, antialias):
    """(n_out, n_in) resampling matrix along one axis."""
    scale = n_in / n_out
    centers = (np.arange(n_out) + 0.5) * scale
    W = np.zeros((n_out, n_in))
    if mode == "nearest":
        src = np.minimum(np.floor(centers).astype(np.int64), n_in - 1)
        W[np.arange(n_out), src] = 1.0
        return W
    support = max(scale, 1.0) if antialias else 1.0
    j = np.arange(n_in) + 0.5  # source pixel centres
    d = np.abs(j[None, :] - centers[:, None]) / support
    W = np.maximum(0.0, 1.0 - d)
    W /= W.sum(1, keepdims=True)
    return W


def _resample(a, out_hw, mode, antialias=True):
    H, W = a.shape[-2:]
    oh, ow = out_hw
    x = a.astype(np.float64)
    if (oh, ow) != (H, W):
        wy = _weights(H, oh, mode, antialias)
        wx = _weights(W, ow, mode, antialias)
        x = np.einsum("oh,...hw->...ow", wy, x)
        x = np.einsum("pw,...ow->...op", wx, x)
    return _finish_like(x, a)


def _size_pair(size, fname):
    if isinstance(size, numbers.Integral):
        return (int(size),)
    t = tuple(int(s) for s in size)
    if len(t) not in (1, 2) or min(t) < 1:
        raise ValueError("%s: size must be an int or a sequence of 1 or 2 positive ints, got %r"
                         % (fname, size))
    return t


def _resize_hw(h, w, size, max_size):
    if len(size) == 2:
        return size
    short, long = (h, w) if h <= w else (w, h)
    new_short = size[0]
    new_long = int(new_short * long / short)
    if max_size is not None:
        if max_size <= new_short:
            raise ValueError("resize: max_size (%d) must be larger than the requested size "
                             "(%d)" % (max_size, new_short))
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_short, new_long) if h <= w else (new_long, new_short)


def resize(img, size, interpolation="bilinear", max_size=None, antialias=True):
    """To (h, w), or with an int size the smaller edge to size keeping the aspect ratio."""
    mode = _mode(interpolation, "resize")
    size = _size_pair(size, "resize")
    a, back = _unpack(img, "resize")
    oh, ow = _resize_hw(a.shape[-2], a.shape[-1], size, max_size)
    return back(_resample(a, (oh, ow), mode, antialias if antialias is not None else True))


# ---- geometry ----------------------------------------------------------------------------------
def crop(img, top, left, height, width):
    """The (height, width) window at (top, left); parts outside the image are zeros."""
    a, back = _unpack(img, "crop")
    H, W = a.shape[-2:]
    out = np.zeros(a.shape[:-2] + (height, width), dtype=a.dtype)
    t0, l0 = max(top, 0), max(left, 0)
    t1, l1 = min(top + height, H), min(left + width, W)
    if t1 > t0 and l1 > l0:
        out[..., t0 - top:t1 - top, l0 - left:l1 - left] = a[..., t0:t1, l0:l1]
    return back(out)


def center_crop(img, output_size):
    size = _size_pair(output_size, "center_crop")
    th, tw = (size[0], size[0]) if len(size) == 1 else size
    _, h, w = get_dimensions(img)
    top = int(round((h - th) / 2.0))
    left = int(round((w - tw) / 2.0))
    return crop(img, top, left, th, tw)


def resized_crop(img, top, left, height, width, size, interpolation="bilinear",
                 antialias=True):
    return resize(crop(img, top, left, height, width), size, interpolation,
                  antialias=antialias)


def pad(img, padding, fill=0, padding_mode="constant"):
    """padding: an int, (left/right, top/bottom) or (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral):
        l = t = r = b = int(padding)
    else:
        p = tuple(int(v) for v in padding)
        if len(p) == 1:
            l = t = r = b = p[0]
        elif len(p) == 2:
            l, t = p
            r, b = p
        elif len(p) == 4:
            l, t, r, b = p
        else:
            raise ValueError("pad: padding must be an int or a sequence of 1, 2 or 4 ints, got "
                             "%r" % (padding,))
    modes = {"constant": "constant", "edge": "edge", "reflect": "reflect",
             "symmetric": "symmetric"}
    if padding_mode not in modes:
        raise ValueError("pad: padding_mode must be constant, edge, reflect or symmetric, got %r"
                         % (padding_mode,))
    a, back = _unpack(img, "pad")
    widths = [(0, 0)] * (a.ndim - 2) + [(t, b), (l, r)]
    if padding_mode == "constant":
        return back(np.pad(a, widths, constant_values=fill))
    return back(np.pad(a, widths, mode=modes[padding_mode]))


def hflip(img):
    a, back = _unpack(img, "hflip")
    return back(a[..., ::-1])


def vflip(img):
    a, back = _unpack(img, "vflip")
    return back(a[..., ::-1, :])


def rotate(img, angle, interpolation="nearest", expand=False, center=None, fill=0):
    """Counter-clockwise by `angle` degrees about the centre (or `center`, (x, y) in pixels)."""
    mode = _mode(interpolation, "rotate")
    a, back = _unpack(img, "rotate")
    H, W = a.shape[-2:]
    cx, cy = ((W - 1) / 2.0, (H - 1) / 2.0) if center is None else (float(center[0]),
                                                                    float(center[1]))
    th = math.radians(angle)
    c, s = math.cos(th), math.sin(th)
    oh, ow = H, W
    ox, oy = cx, cy
    if expand:
        corners = np.array([[0, 0], [W - 1, 0], [0, H - 1], [W - 1, H - 1]], dtype=np.float64)
        rx = (corners[:, 0] - cx) * c + (corners[:, 1] - cy) * s
        ry = -(corners[:, 0] - cx) * s + (corners[:, 1] - cy) * c
        ow = int(math.ceil(rx.max() - rx.min() - 1e-9)) + 1
        oh = int(math.ceil(ry.max() - ry.min() - 1e-9)) + 1
        ox, oy = (ow - 1) / 2.0, (oh - 1) / 2.0
    yy, xx = np.meshgrid(np.arange(oh, dtype=np.float64), np.arange(ow, dtype=np.float64),
                         indexing="ij")
    # inverse map: rotate the output pixel back by -angle (image y points down)
    dx, dy = xx - ox, yy - oy
    sx = c * dx - s * dy + cx
    sy = s * dx + c * dy + cy
    x = a.astype(np.float64)
    fillv = np.broadcast_to(np.asarray(fill, dtype=np.float64).reshape(
        (-1,) + (1, 1)) if np.ndim(fill) else np.asarray(float(fill)), x.shape[:-2] + (1, 1))
    if mode == "nearest":
        ix, iy = np.round(sx).astype(np.int64), np.round(sy).astype(np.int64)
        ok = (ix >= 0) & (ix < W) & (iy >= 0) & (iy < H)
        out = x[..., np.clip(iy, 0, H - 1), np.clip(ix, 0, W - 1)]
        out = np.where(ok, out, fillv)
    else:
        x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
        fx, fy = sx - x0, sy - y0
        out = 0.0
        for ddy, wy in ((0, 1 - fy), (1, fy)):
            for ddx, wx in ((0, 1 - fx), (1, fx)):
                xi, yi = x0 + ddx, y0 + ddy
                ok = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
                v = np.where(ok, x[..., np.clip(yi, 0, H - 1), np.clip(xi, 0, W - 1)], fillv)
                out = out + v * (wx * wy)
    return back(_finish_like(out, a))


# ---- colour ------------------------------------------------------------------------------------
def _gray(x):
    """ITU-R 601 luma of a (..., 3, H, W) float array, keepdims on the channel axis."""
    return (0.2989 * x[..., 0:1, :, :] + 0.587 * x[..., 1:2, :, :] +
            0.114 * x[..., 2:3, :, :])


def rgb_to_grayscale(img, num_output_channels=1):
    if num_output_channels not in (1, 3):
        raise ValueError("rgb_to_grayscale: num_output_channels must be 1 or 3, got %r"
                         % (num_output_channels,))
    if _is_pil(img) and img.mode == "L":
        a, _ = _unpack(img, "rgb_to_grayscale")
        g = a.astype(np.float64)
        back = _unpack(img.convert("RGB") if num_output_channels == 3 else img,
                       "rgb_to_grayscale")[1]
        return back(_finish_like(np.repeat(g, num_output_channels, axis=-3), a))
    a, back = _unpack(img, "rgb_to_grayscale")
    if a.ndim < 3 or a.shape[-3] not in (1, 3):
        raise ValueError("rgb_to_grayscale: expected 1 or 3 channels, got shape %s"
                         % (a.shape,))
    if a.shape[-3] == 1:
        g = a.astype(np.float64)
    else:
        g = _gray(a.astype(np.float64))
    out = _finish_like(np.repeat(g, num_output_channels, axis=-3), a)
    if _is_pil(img) and num_output_channels == 1:
        return _PILImage.fromarray(out[0], mode="L")
    return back(out)


def _blend(x, y, ratio, a):
    return _finish_like(np.clip(ratio * x + (1 - ratio) * y, 0, _max_value(a)), a)


def _check_factor(f, name):
    if f < 0:
        raise ValueError("%s: the factor must be non-negative, got %r" % (name, f))


def adjust_brightness(img, brightness_factor):
    _check_factor(brightness_factor, "adjust_brightness")
    a, back = _unpack(img, "adjust_brightness")
    x = a.astype(np.float64)
    return back(_blend(x, np.zeros_like(x), brightness_factor, a))


def adjust_contrast(img, contrast_factor):
    _check_factor(contrast_factor, "adjust_contrast")
    a, back = _unpack(img, "adjust_contrast")
    x = a.astype(np.float64)
    g = _gray(x) if a.shape[-3] == 3 else x
    mean = g.mean(axis=(-3, -2, -1), keepdims=True)
    return back(_blend(x, mean, contrast_factor, a))


def adjust_saturation(img, saturation_factor):
    _check_factor(saturation_factor, "adjust_saturation")
    a, back = _unpack(img, "adjust_saturation")
    if a.shape[-3] == 1:
        return back(a.copy())
    x = a.astype(np.float64)
    return back(_blend(x, _gray(x), saturation_factor, a))


def _rgb_to_hsv(x):
    r, g, b = x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :]
    maxc, minc = x.max(-3), x.min(-3)
    v = maxc
    delta = maxc - minc
    s = np.where(maxc > 0, delta / np.where(maxc > 0, maxc, 1), 0.0)
    d = np.where(delta > 0, delta, 1)
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    h = np.where(maxc == r, bc - gc, np.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = np.where(delta > 0, (h / 6.0) % 1.0, 0.0)
    return h, s, v


def _hsv_to_rgb(h, s, v):
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int64) % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-3)


def adjust_hue(img, hue_factor):
    """Shifts the hue by hue_factor (in [-0.5, 0.5], a fraction of the colour wheel)."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError("adjust_hue: hue_factor must be in [-0.5, 0.5], got %r" % (hue_factor,))
    a, back = _unpack(img, "adjust_hue")
    if a.shape[-3] == 1:
        return back(a.copy())
    top = _max_value(a)
    h, s, v = _rgb_to_hsv(a.astype(np.float64) / top)
    h = (h + hue_factor) % 1.0
    return back(_finish_like(_hsv_to_rgb(h, s, v) * top, a))
