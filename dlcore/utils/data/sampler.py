"""torch.utils.data.sampler's names (`from torch.utils.data.sampler import Sampler`)."""
from ...data.sampler import (Sampler, SequentialSampler, RandomSampler,  # noqa: F401
                             SubsetRandomSampler, BatchSampler, WeightedRandomSampler)

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "BatchSampler", "WeightedRandomSampler"]
