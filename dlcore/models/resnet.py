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

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock: groups must be 1 and base_width 64 (torchvision's "
                             "rule), got groups=%r, base_width=%r" % (groups, base_width))
        if dilation > 1:
            raise NotImplementedError("BasicBlock: dilation > 1 (torchvision has none either); "
                                      "replace_stride_with_dilation needs Bottleneck")
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

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1):
        super().__init__()
        # ResNeXt / wide ResNet widen the grouped 3x3; plain ResNet has width == planes
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = _conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride, groups, dilation)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = _conv1x1(width, planes * self.expansion)
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
    images); otherwise torchvision's 7x7 stride-2 stem and 3x3 max pool.  groups,
    width_per_group and replace_stride_with_dilation (one flag per stage after the first) are
    torchvision's, for ResNeXt, wide ResNet and dilated backbones."""

    def __init__(self, block, layers, num_classes=10, in_channels=3, width=64,
                 small_input=True, zero_init_residual=False, groups=1, width_per_group=64,
                 replace_stride_with_dilation=None):
        super().__init__()
        self.inplanes = width
        self.groups, self.base_width, self.dilation = groups, width_per_group, 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False] * (len(layers) - 1)
        if len(replace_stride_with_dilation) != len(layers) - 1:
            raise ValueError("ResNet: replace_stride_with_dilation needs %d flags (one per stage "
                             "after the first), got %r"
                             % (len(layers) - 1, replace_stride_with_dilation))
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(3, 2, 1)
        for i, n in enumerate(layers):
            planes = width * 2 ** i
            dilate = i > 0 and bool(replace_stride_with_dilation[i - 1])
            self.add_module("layer%d" % (i + 1), self._make_layer(block, planes, n,
                                                                  1 if i == 0 else 2, dilate))
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

    def _make_layer(self, block, planes, blocks, stride, dilate=False):
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(_conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        mods = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                      previous_dilation)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            mods.append(block(self.inplanes, planes, groups=self.groups,
                              base_width=self.base_width, dilation=self.dilation))
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


def _tv_resnet(name, block, layers, num_classes, weights, kwargs, **arch):
    from ._pretrained import checkpoint_argument, load_checkpoint
    weights = checkpoint_argument(name, weights, kwargs)
    model = ResNet(block, layers, num_classes=num_classes, in_channels=3, width=64,
                   small_input=False, **arch, **kwargs)
    if weights is not None:
        load_checkpoint(model, weights)
    return model


def resnet18(num_classes=1000, weights=None, **kwargs):
    """torchvision's resnet18 (11,689,512 parameters at 1000 classes), same state_dict keys;
    `weights`: a local checkpoint file (e.g. torchvision's resnet18-f37072fd.pth)."""
    return _tv_resnet("resnet18", BasicBlock, (2, 2, 2, 2), num_classes, weights, kwargs)


def resnet34(num_classes=1000, weights=None, **kwargs):
    """torchvision's resnet34 (21,797,672 parameters)."""
    return _tv_resnet("resnet34", BasicBlock, (3, 4, 6, 3), num_classes, weights, kwargs)


def resnet50(num_classes=1000, weights=None, **kwargs):
    """torchvision's resnet50 (v1.5: stride in the 3x3 conv; 25,557,032 parameters)."""
    return _tv_resnet("resnet50", Bottleneck, (3, 4, 6, 3), num_classes, weights, kwargs)


def resnet101(num_classes=1000, weights=None, **kwargs):
    """torchvision's resnet101 (44,549,160 parameters)."""
    return _tv_resnet("resnet101", Bottleneck, (3, 4, 23, 3), num_classes, weights, kwargs)


def resnet152(num_classes=1000, weights=None, **kwargs):
    """torchvision's resnet152 (60,192,808 parameters)."""
    return _tv_resnet("resnet152", Bottleneck, (3, 8, 36, 3), num_classes, weights, kwargs)


def resnext50_32x4d(num_classes=1000, weights=None, **kwargs):
    """torchvision's resnext50_32x4d (25,028,904 parameters)."""
    return _tv_resnet("resnext50_32x4d", Bottleneck, (3, 4, 6, 3), num_classes, weights, kwargs,
                      groups=32, width_per_group=4)


def resnext101_32x8d(num_classes=1000, weights=None, **kwargs):
    """torchvision's resnext101_32x8d (88,791,336 parameters)."""
    return _tv_resnet("resnext101_32x8d", Bottleneck, (3, 4, 23, 3), num_classes, weights,
                      kwargs, groups=32, width_per_group=8)


def wide_resnet50_2(num_classes=1000, weights=None, **kwargs):
    """torchvision's wide_resnet50_2 (68,883,240 parameters)."""
    return _tv_resnet("wide_resnet50_2", Bottleneck, (3, 4, 6, 3), num_classes, weights, kwargs,
                      width_per_group=128)


def wide_resnet101_2(num_classes=1000, weights=None, **kwargs):
    """torchvision's wide_resnet101_2 (126,886,696 parameters)."""
    return _tv_resnet("wide_resnet101_2", Bottleneck, (3, 4, 23, 3), num_classes, weights,
                      kwargs, width_per_group=128)
