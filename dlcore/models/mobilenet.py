"""MobileNetV2 (Sandler et al. 2018) with torchvision's exact module names and state_dict keys:
`features.0` (3x3 stride-2 conv, BN, ReLU6), `features.1..17` inverted residual blocks
(`conv.0` 1x1 expand conv-BN-ReLU6 when the expansion is not 1, then the depthwise 3x3
conv-BN-ReLU6, the 1x1 linear projection conv and its BN), `features.18` (1x1 conv to 1280,
BN, ReLU6), `classifier.1` (Linear after Dropout(0.2)).  Symmetric padding k//2, BN eps 1e-5
(torchvision defaults), 3,504,872 parameters at 1000 classes."""
from .. import nn
from ._layers import ReLU6

__all__ = ["ConvBNReLU", "InvertedResidual", "MobileNetV2", "mobilenet_v2"]


def _make_divisible(v, divisor=8, min_value=None):
    min_value = divisor if min_value is None else min_value
    new = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new < 0.9 * v:
        new += divisor
    return new


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin, cout, kernel_size=3, stride=1, groups=1):
        super().__init__(nn.Conv2d(cin, cout, kernel_size, stride, (kernel_size - 1) // 2,
                                   groups=groups, bias=False),
                         nn.BatchNorm2d(cout), ReLU6())


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError("InvertedResidual: stride must be 1 or 2, got %r" % (stride,))
        hidden = int(round(inp * expand_ratio))
        self.stride = stride
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(inp, hidden, kernel_size=1))
        layers += [ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.use_res_connect else y


class MobileNetV2(nn.Module):
    # expansion t, channels c, repeats n, first stride s
    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self, num_classes=1000, width_mult=1.0, round_nearest=8, dropout=0.2):
        super().__init__()
        cin = _make_divisible(32 * width_mult, round_nearest)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
        feats = [ConvBNReLU(3, cin, stride=2)]
        for t, c, n, s in self.SETTINGS:
            cout = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                feats.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        feats.append(ConvBNReLU(cin, self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(dropout),
                                        nn.Linear(self.last_channel, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(x)
        return self.classifier(nn.functional.adaptive_avg_pool2d(x, (1, 1)).flatten(1))


def mobilenet_v2(num_classes=1000, weights=None, **kwargs):
    """torchvision's mobilenet_v2; `weights`: a local checkpoint (e.g. mobilenet_v2-b0353104.pth)."""
    from ._pretrained import checkpoint_argument, load_checkpoint
    weights = checkpoint_argument("mobilenet_v2", weights, kwargs)
    model = MobileNetV2(num_classes=num_classes, **kwargs)
    if weights is not None:
        load_checkpoint(model, weights)
    return model
