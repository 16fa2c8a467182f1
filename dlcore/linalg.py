"""dl.linalg: torch.linalg's functions (dlcore.ops.linalg, on real float32/float64 matrices,
batched over the leading dims)."""
from .ops.linalg import *  # noqa: F401,F403
from .ops.linalg import __all__  # noqa: F401
