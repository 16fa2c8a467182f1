"""torch.utils.data.dataset's names (`from torch.utils.data.dataset import Dataset`)."""
from ...data.dataset import (Dataset, TensorDataset, Subset, ConcatDataset,  # noqa: F401
                             random_split, StackDataset)
from ...data.iterable import IterableDataset, ChainDataset  # noqa: F401

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
           "IterableDataset", "ChainDataset", "StackDataset"]
