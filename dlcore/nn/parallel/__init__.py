"""dl.nn.parallel: data-parallel training across processes (DistributedDataParallel) and the
batch normalization that sees every rank's batch (SyncBatchNorm)."""
from .distributed import DistributedDataParallel  # noqa: F401
from .sync_batchnorm import SyncBatchNorm  # noqa: F401
