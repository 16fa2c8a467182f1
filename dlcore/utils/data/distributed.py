"""torch.utils.data.distributed's name (`from torch.utils.data.distributed import
DistributedSampler`)."""
from ...data.distributed_sampler import DistributedSampler  # noqa: F401

__all__ = ["DistributedSampler"]
