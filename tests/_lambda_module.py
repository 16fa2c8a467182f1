"""A Module whose forward is a function given at construction, for tests that trace or plan a
few ops around some submodules without writing a class each time."""
from dlcore import nn


class Lambda(nn.Module):
    """forward(*xs) = fn(self, *xs); the keyword arguments become submodules (their
    parameters are the module's)."""

    def __init__(self, fn, **mods):
        super().__init__()
        self.fn = fn
        for k, m in mods.items():
            setattr(self, k, m)

    def forward(self, *xs):
        return self.fn(self, *xs)
