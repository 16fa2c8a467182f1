"""dl.utils: torch.utils's shape over dlcore's modules (dl.utils.data is torch.utils.data)."""
from . import checkpoint, data  # noqa: F401
