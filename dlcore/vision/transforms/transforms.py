"""torchvision.transforms' classes over dl.vision.transforms.functional.  Random choices come
from dlcore's global stream (dl.manual_seed), so a seeded script is reproducible."""
import math
import numbers

import numpy as np

from ... import random as R
from . import functional as F

__all__ = ["Compose", "ToTensor", "PILToTensor", "ToPILImage", "Normalize", "Resize",
           "CenterCrop", "Pad", "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip",
           "RandomResizedCrop", "RandomRotation", "ColorJitter", "Grayscale",
           "RandomGrayscale", "Lambda", "RandomApply", "RandomChoice", "RandomOrder"]


def _rng():
    return R.rng()


def _size2(size, name):
    if isinstance(size, numbers.Integral):
        return (int(size), int(size))
    t = tuple(int(s) for s in size)
    if len(t) == 1:
        return (t[0], t[0])
    if len(t) != 2:
        raise ValueError("%s: size must be an int or (h, w), got %r" % (name, size))
    return t


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        return "Compose(\n" + "".join("    %r\n" % t for t in self.transforms) + ")"


class _Simple:
    def __repr__(self):
        return type(self).__name__ + "()"


class ToTensor(_Simple):
    def __call__(self, pic):
        return F.to_tensor(pic)


class PILToTensor(_Simple):
    def __call__(self, pic):
        return F.pil_to_tensor(pic)


class ToPILImage(_Simple):
    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        return F.to_pil_image(pic, self.mode)


class Normalize:
    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = list(np.ravel(mean)), list(np.ravel(std)), inplace

    def __call__(self, tensor):
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self):
        return "Normalize(mean=%s, std=%s)" % (self.mean, self.std)


class Resize:
    def __init__(self, size, interpolation="bilinear", max_size=None, antialias=True):
        F._size_pair(size, "Resize")
        F._mode(interpolation, "Resize")
        self.size, self.interpolation = size, interpolation
        self.max_size, self.antialias = max_size, antialias

    def __call__(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self):
        return "Resize(size=%s, interpolation=%s)" % (self.size, self.interpolation)


class CenterCrop:
    def __init__(self, size):
        self.size = _size2(size, "CenterCrop")

    def __call__(self, img):
        return F.center_crop(img, self.size)

    def __repr__(self):
        return "CenterCrop(size=%s)" % (self.size,)


class Pad:
    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)


class RandomCrop:
    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _size2(size, "RandomCrop")
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    @staticmethod
    def get_params(img, output_size):
        _, h, w = F.get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError("RandomCrop: required crop size %s is larger than the input image "
                             "size %s" % ((th, tw), (h, w)))
        if (h, w) == (th, tw):
            return 0, 0, h, w
        g = _rng()
        return int(g.integers(0, h - th + 1)), int(g.integers(0, w - tw + 1)), th, tw

    def __call__(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, h, w = F.get_dimensions(img)
        th, tw = self.size
        if self.pad_if_needed and w < tw:
            img = F.pad(img, (tw - w, 0), self.fill, self.padding_mode)
        if self.pad_if_needed and h < th:
            img = F.pad(img, (0, th - h), self.fill, self.padding_mode)
        i, j, hh, ww = self.get_params(img, self.size)
        return F.crop(img, i, j, hh, ww)

    def __repr__(self):
        return "RandomCrop(size=%s, padding=%s)" % (self.size, self.padding)


class _RandomFlip:
    _fn = None

    def __init__(self, p=0.5):
        if not 0 <= p <= 1:
            raise ValueError("%s: p must be in [0, 1], got %r" % (type(self).__name__, p))
        self.p = p

    def __call__(self, img):
        if _rng().random() < self.p:
            return type(self)._fn(img)
        return img

    def __repr__(self):
        return "%s(p=%s)" % (type(self).__name__, self.p)


class RandomHorizontalFlip(_RandomFlip):
    _fn = staticmethod(F.hflip)


class RandomVerticalFlip(_RandomFlip):
    _fn = staticmethod(F.vflip)


class RandomResizedCrop:
    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation="bilinear", antialias=True):
        self.size = _size2(size, "RandomResizedCrop")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError("RandomResizedCrop: scale and ratio must be (min, max), got %s and "
                             "%s" % (scale, ratio))
        F._mode(interpolation, "RandomResizedCrop")
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.interpolation, self.antialias = interpolation, antialias

    @staticmethod
    def get_params(img, scale, ratio):
        """(top, left, h, w) of a window of random area (fraction of the image in `scale`) and
        aspect ratio (log-uniform in `ratio`); ten tries, then the largest central window."""
        _, height, width = F.get_dimensions(img)
        area = height * width
        g = _rng()
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target = area * g.uniform(scale[0], scale[1])
            aspect = math.exp(g.uniform(*log_ratio))
            w = int(round(math.sqrt(target * aspect)))
            h = int(round(math.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return int(g.integers(0, height - h + 1)), int(g.integers(0, width - w + 1)), h, w
        in_ratio = width / height
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img):
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, i, j, h, w, self.size, self.interpolation, self.antialias)

    def __repr__(self):
        return "RandomResizedCrop(size=%s, scale=%s, ratio=%s)" % (self.size, self.scale,
                                                                   self.ratio)


class RandomRotation:
    def __init__(self, degrees, interpolation="nearest", expand=False, center=None, fill=0):
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError("RandomRotation: a single degrees value must be non-negative, "
                                 "got %r" % (degrees,))
            degrees = (-degrees, degrees)
        degrees = tuple(float(d) for d in degrees)
        if len(degrees) != 2:
            raise ValueError("RandomRotation: degrees must be a number or (min, max), got %r"
                             % (degrees,))
        F._mode(interpolation, "RandomRotation")
        self.degrees, self.interpolation = degrees, interpolation
        self.expand, self.center, self.fill = expand, center, fill

    @staticmethod
    def get_params(degrees):
        return float(_rng().uniform(degrees[0], degrees[1]))

    def __call__(self, img):
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, self.fill)

    def __repr__(self):
        return "RandomRotation(degrees=%s)" % (self.degrees,)


def _jitter_range(value, name, center=1.0, bound=(0, float("inf")), clip_first=True):
    if value is None:
        return None
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError("ColorJitter: if %s is a single number, it must be non-negative, "
                             "got %r" % (name, value))
        value = [center - value, center + value]
        if clip_first:
            value[0] = max(value[0], 0.0)
    value = [float(v) for v in value]
    if len(value) != 2 or not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError("ColorJitter: %s values should be within %s, got %s"
                         % (name, bound, value))
    return None if value[0] == value[1] == center else tuple(value)


class ColorJitter:
    """Random brightness, contrast, saturation and hue changes, applied in a random order."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.brightness = _jitter_range(brightness, "brightness")
        self.contrast = _jitter_range(contrast, "contrast")
        self.saturation = _jitter_range(saturation, "saturation")
        self.hue = _jitter_range(hue, "hue", center=0.0, bound=(-0.5, 0.5), clip_first=False)

    def __call__(self, img):
        g = _rng()
        steps = [(F.adjust_brightness, self.brightness), (F.adjust_contrast, self.contrast),
                 (F.adjust_saturation, self.saturation), (F.adjust_hue, self.hue)]
        for k in g.permutation(4):
            fn, rng_ = steps[k]
            if rng_ is not None:
                img = fn(img, float(g.uniform(rng_[0], rng_[1])))
        return img

    def __repr__(self):
        return "ColorJitter(brightness=%s, contrast=%s, saturation=%s, hue=%s)" % (
            self.brightness, self.contrast, self.saturation, self.hue)


class Grayscale:
    def __init__(self, num_output_channels=1):
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        return F.rgb_to_grayscale(img, self.num_output_channels)


class RandomGrayscale:
    def __init__(self, p=0.1):
        self.p = p

    def __call__(self, img):
        if _rng().random() < self.p:
            c = F.get_dimensions(img)[0]
            return F.rgb_to_grayscale(img, c)
        return img


class Lambda:
    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError("Lambda: argument should be callable, got %s" % type(lambd).__name__)
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)


class RandomApply:
    def __init__(self, transforms, p=0.5):
        self.transforms, self.p = list(transforms), p

    def __call__(self, img):
        if _rng().random() < self.p:
            for t in self.transforms:
                img = t(img)
        return img


class RandomChoice:
    def __init__(self, transforms, p=None):
        self.transforms = list(transforms)
        self.p = None if p is None else np.asarray(p, dtype=np.float64) / np.sum(p)

    def __call__(self, img):
        return self.transforms[int(_rng().choice(len(self.transforms), p=self.p))](img)


class RandomOrder:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for k in _rng().permutation(len(self.transforms)):
            img = self.transforms[k](img)
        return img
