"""ResNet (He et al. 2016): BasicBlock and Bottleneck with torchvision's module names
(conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, fc, ...), and a small ResNet for 8x8 and
28x28 images (3x3 stem, no stem pooling)."""
from .. import nn


def _conv3x3(cin, cout, stride=1, groups=1, dilation=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, groups=groups, bias=False,
                     dilation=dilation)


def _conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride, as torchvision's v1.5), 1x1 expand by 4."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = _conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet over `layers` stages (each doubling the width and halving the size after the
    first).  small_input: a 3x3 stride-1 stem without max pooling (8x8 / 28x28 / 32x32
    images); otherwise torchvision's 7x7 stride-2 stem and 3x3 max pool."""

    def __init__(self, block, layers, num_classes=10, in_channels=3, width=64,
                 small_input=True, zero_init_residual=False):
        super().__init__()
        self.inplanes = width
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(3, 2, 1)
        for i, n in enumerate(layers):
            planes = width * 2 ** i
            self.add_module("layer%d" % (i + 1), self._make_layer(block, planes, n,
                                                                  1 if i == 0 else 2))
        self.n_stages = len(layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.inplanes, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _make_layer(self, block, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(_conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        mods = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            mods.append(block(self.inplanes, planes))
        return nn.Sequential(*mods)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(self.n_stages):
            x = getattr(self, "layer%d" % (i + 1))(x)
        return self.fc(self.avgpool(x).flatten(1))


def resnet_small(num_classes=10, in_channels=1, layers=(2, 2, 2), width=16,
                 block=BasicBlock):
    """A ResNet for small images: 3x3 stem, stages of width 16/32/64 (by default)."""
    return ResNet(block, layers, num_classes, in_channels, width, small_input=True)


def _tv_resnet(block, layers, num_classes, weights, **kwargs):
    model = ResNet(block, layers, num_classes=num_classes, in_channels=3, width=64,
                   small_input=False, **kwargs)
    if weights is not None:
        from ._pretrained import load_checkpoint
        load_checkpoint(model, weights)
    return model


def resnet18(num_classes=1000, weights=None, **kwargs):
    """torchvision's resnet18 (11,689,512 parameters at 1000 classes), same state_dict keys;
    `weights`: a local checkpoint file (e.g. torchvision's resnet18-f37072fd.pth)."""
    return _tv_resnet(BasicBlock, (2, 2, 2, 2), num_classes, weights, **kwargs)


def resnet34(num_classes=1000, weights=None, **kwargs):
    """torchvision's resnet34 (21,797,672 parameters)."""
    return _tv_resnet(BasicBlock, (3, 4, 6, 3), num_classes, weights, **kwargs)


def resnet50(num_classes=1000, weights=None, **kwargs):
    """torchvision's resnet50 (v1.5: stride in the 3x3 conv; 25,557,032 parameters)."""
    return _tv_resnet(Bottleneck, (3, 4, 6, 3), num_classes, weights, **kwargs)
