"""Small layers the pretrained architectures share.  ReLU6 comes from dl.nn when the
activation family provides it; otherwise it is a clamp to [0, 6] (same values and gradient
almost everywhere)."""
from .. import nn


def relu6(x):
    f = getattr(nn.functional, "relu6", None)
    return f(x) if f is not None else x.clamp(0.0, 6.0)


class ReLU6(nn.Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return nn.functional.relu6(x, inplace=True) if self.inplace else relu6(x)
