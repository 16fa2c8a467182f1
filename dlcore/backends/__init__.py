"""dl.backends: the flags scripts read and set on torch.backends.  dlcore has no cuDNN, MPS or
CUDA backend, so their `is_available()` is False and their flags are plain settings that change
nothing (kept so `torch.backends.cudnn.benchmark = True` lines run unchanged)."""
from . import cuda, cudnn, mps, openmp  # noqa: F401
