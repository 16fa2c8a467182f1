"""VGG networks.

- SmallVGG: blocks of (3x3 conv, batch norm, ReLU) x 2 then 2x2 max pooling, global average
  pooling and one linear classifier.  Two blocks suit 8x8 inputs, three 28x28.
- VGG / vgg11 / vgg11_bn / vgg16 / vgg16_bn: torchvision's architectures (Simonyan & Zisserman
  2015) with its exact state_dict keys: `features.N` (conv, [batch norm], ReLU, max pool as
  numbered in the Sequential), a 7x7 adaptive average pool, `classifier.0/3/6` (4096, 4096,
  classes with ReLU and dropout between)."""
from .. import nn

__all__ = ["SmallVGG", "VGG", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn"]


class SmallVGG(nn.Module):
    def __init__(self, num_classes=10, in_channels=1, widths=(32, 64), dropout=0.0):
        super().__init__()
        layers = []
        c = in_channels
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                       nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                       nn.MaxPool2d(2)]
            c = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        head = [nn.Flatten()]
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(c, num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)))


# "M" = 2x2 max pool; numbers = 3x3 conv widths (torchvision's configurations A, B, D and E)
CFGS = {
    "A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "B": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
          "M"),
    "E": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512,
          512, 512, 512, "M"),
}


def make_layers(cfg, batch_norm=False, in_channels=3):
    layers, c = [], in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers.append(nn.Conv2d(c, v, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU())
            c = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, num_classes=1000, dropout=0.5, init_weights=True):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0.0, 0.01)
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def _vgg(name, cfg, bn, num_classes, weights, kwargs):
    from ._pretrained import checkpoint_argument, load_checkpoint
    weights = checkpoint_argument(name, weights, kwargs)
    model = VGG(make_layers(CFGS[cfg], bn), num_classes=num_classes, **kwargs)
    if weights is not None:
        load_checkpoint(model, weights)
    return model


def vgg11(num_classes=1000, weights=None, **kwargs):
    """torchvision's vgg11 (132,863,336 parameters)."""
    return _vgg("vgg11", "A", False, num_classes, weights, kwargs)


def vgg11_bn(num_classes=1000, weights=None, **kwargs):
    """torchvision's vgg11_bn (132,868,840 parameters)."""
    return _vgg("vgg11_bn", "A", True, num_classes, weights, kwargs)


def vgg13(num_classes=1000, weights=None, **kwargs):
    """torchvision's vgg13 (133,047,848 parameters)."""
    return _vgg("vgg13", "B", False, num_classes, weights, kwargs)


def vgg13_bn(num_classes=1000, weights=None, **kwargs):
    """torchvision's vgg13_bn (133,053,736 parameters)."""
    return _vgg("vgg13_bn", "B", True, num_classes, weights, kwargs)


def vgg16(num_classes=1000, weights=None, **kwargs):
    """torchvision's vgg16 (138,357,544 parameters)."""
    return _vgg("vgg16", "D", False, num_classes, weights, kwargs)


def vgg16_bn(num_classes=1000, weights=None, **kwargs):
    """torchvision's vgg16_bn (138,365,992 parameters)."""
    return _vgg("vgg16_bn", "D", True, num_classes, weights, kwargs)


def vgg19(num_classes=1000, weights=None, **kwargs):
    """torchvision's vgg19 (143,667,240 parameters)."""
    return _vgg("vgg19", "E", False, num_classes, weights, kwargs)


def vgg19_bn(num_classes=1000, weights=None, **kwargs):
    """torchvision's vgg19_bn (143,678,248 parameters)."""
    return _vgg("vgg19_bn", "E", True, num_classes, weights, kwargs)
