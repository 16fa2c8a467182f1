"""dl.cpu.amp.autocast: the CPU autocast with the device fixed (torch.cpu.amp's form)."""
from ..amp import autocast as _autocast
from ..amp import GradScaler  # noqa: F401

__all__ = ["autocast", "GradScaler"]


class autocast(_autocast):
    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        super().__init__("cpu", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)
