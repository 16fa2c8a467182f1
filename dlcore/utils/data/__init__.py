"""dl.utils.data: the names torch.utils.data has, from dlcore.data (one implementation, two
spellings: `from dlcore.utils.data import DataLoader` works as torch users write it; the
submodules dataset, sampler, dataloader and distributed are torch's import paths too)."""
from ...data.dataset import (Dataset, TensorDataset, Subset, ConcatDataset,  # noqa: F401
                             random_split, StackDataset)
from ...data.sampler import (Sampler, SequentialSampler, RandomSampler,  # noqa: F401
                            SubsetRandomSampler, BatchSampler, WeightedRandomSampler)
from ...data.iterable import IterableDataset, ChainDataset  # noqa: F401
from ...data.distributed_sampler import DistributedSampler  # noqa: F401
from ...data.collate import default_collate, default_convert  # noqa: F401
from ...data.dataloader import DataLoader, get_worker_info  # noqa: F401

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "Sampler",
           "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler",
           "DistributedSampler", "DataLoader", "default_collate", "default_convert",
           "get_worker_info", "WeightedRandomSampler", "IterableDataset", "ChainDataset", "StackDataset"]
