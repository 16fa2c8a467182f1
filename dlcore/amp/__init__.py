"""dl.amp: automatic mixed precision (torch.amp's names): autocast and GradScaler."""
from .autocast_mode import (autocast, is_autocast_enabled, get_autocast_dtype,  # noqa: F401
                            is_autocast_cpu_enabled, get_autocast_cpu_dtype,
                            set_autocast_enabled, set_autocast_dtype)
from .grad_scaler import GradScaler  # noqa: F401

__all__ = ["autocast", "GradScaler", "is_autocast_enabled", "get_autocast_dtype"]
