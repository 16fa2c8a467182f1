"""LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, for 28x28 or 32x32 images."""
from .. import nn


class LeNet5(nn.Module):
    """conv(6, 5x5, pad 2) - pool - conv(16, 5x5) - pool - fc 120 - fc 84 - fc classes."""

    def __init__(self, num_classes=10, in_channels=1, input_size=28):
        super().__init__()
        side = ((input_size // 2) - 4) // 2
        if side < 1:
            raise ValueError("LeNet5: input_size must be at least 12, got %d" % input_size)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * side * side, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))
