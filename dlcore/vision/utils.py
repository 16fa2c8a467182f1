"""dl.vision.utils: torchvision.utils' make_grid and save_image (what the VAE and DCGAN
examples call to look at a batch of images).  The grid is built in NumPy; save_image writes it
with Pillow (the `vision` extra), as torchvision does."""
import math

import numpy as np

__all__ = ["make_grid", "save_image"]


def _as_array(tensor):
    if isinstance(tensor, (list, tuple)):
        return np.stack([_as_array(t) for t in tensor])
    a = tensor.detach().numpy() if hasattr(tensor, "detach") else np.asarray(tensor)
    return np.array(a, dtype=np.float32 if a.dtype != np.float64 else np.float64)


def _to_nchw(a):
    if a.ndim == 2:  # one single-channel image
        a = a[None]
    if a.ndim == 3:  # one image: a single channel becomes three
        a = (np.concatenate([a, a, a], 0) if a.shape[0] == 1 else a)[None]
    if a.ndim != 4:
        raise ValueError("make_grid: expected a 2-D, 3-D or 4-D tensor (or a list of "
                         "images), got %d-D" % a.ndim)
    if a.shape[1] == 1:
        a = np.concatenate([a, a, a], 1)
    return a


def _normalize(a, value_range):
    lo, hi = (float(a.min()), float(a.max())) if value_range is None else value_range
    return (np.clip(a, lo, hi) - lo) / max(hi - lo, 1e-5)


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """Tile a batch (B, C, H, W) into one (C, H', W') image, `nrow` images a row, `padding`
    pixels of `pad_value` between them; torchvision's rules for 1-channel and single images."""
    from ..tensor import from_numpy
    if value_range is not None and not (isinstance(value_range, (tuple, list))
                                        and len(value_range) == 2):
        raise TypeError("make_grid: value_range must be a (min, max) pair, got %r"
                        % (value_range,))
    a = _to_nchw(_as_array(tensor))
    if normalize:
        a = (np.stack([_normalize(t, value_range) for t in a]) if scale_each
             else _normalize(a, value_range))
    if a.shape[0] == 1:
        return from_numpy(np.ascontiguousarray(a[0]))
    n, c, h, w = a.shape
    xmaps = min(int(nrow), n)
    ymaps = int(math.ceil(n / xmaps))
    hp, wp = h + padding, w + padding
    grid = np.full((c, hp * ymaps + padding, wp * xmaps + padding), pad_value, dtype=a.dtype)
    for k in range(n):
        y, x = divmod(k, xmaps)
        grid[:, y * hp + padding:y * hp + padding + h, x * wp + padding:x * wp + padding + w] = a[k]
    return from_numpy(grid)


def save_image(tensor, fp, format=None, **kwargs):
    """make_grid(tensor, **kwargs), scaled from [0, 1] to 8-bit and written by Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("dl.vision.utils.save_image needs Pillow (pip install pillow)") from None
    grid = _as_array(make_grid(tensor, **kwargs))
    img = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(img[..., 0] if img.shape[2] == 1 else img).save(fp, format=format)
