"""A small VGG-style network: blocks of (3x3 conv, batch norm, ReLU) x 2 then 2x2 max pooling,
global average pooling and one linear classifier.  Two blocks suit 8x8 inputs, three 28x28."""
from .. import nn


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
