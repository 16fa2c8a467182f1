"""ChannelShuffle under torch's module path (the layer lives beside PixelShuffle)."""
from .pixelshuffle import ChannelShuffle  # noqa: F401

__all__ = ["ChannelShuffle"]
