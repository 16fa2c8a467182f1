"""Iterable-style datasets (IterableDataset, ChainDataset) and how a DataLoader batches them:
samples come from iter(dataset) in the dataset's own order, grouped into batch_size lists and
collated; there is no sampler and no shuffle (PyTorch refuses both for these datasets too)."""
import numbers

from .dataset import Dataset

__all__ = ["IterableDataset", "ChainDataset"]


class IterableDataset(Dataset):
    """A dataset that is a stream: subclasses define __iter__ (and may define __len__).
    In worker processes each worker iterates its own copy; split the stream with
    dl.data.get_worker_info()."""

    def __iter__(self):
        raise NotImplementedError("%s does not define __iter__" % type(self).__name__)

    def __getitem__(self, index):
        raise TypeError("%s is an IterableDataset: iterate over it instead of indexing"
                        % type(self).__name__)

    def __len__(self):
        # TypeError (torch's IterableDataset has no __len__), so that list(loader) and
        # length_hint treat a stream without a length as one
        raise TypeError("%s is an IterableDataset without __len__" % type(self).__name__)

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """The iterable datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError("ChainDataset: only IterableDatasets can be chained, got %s"
                                % type(d).__name__)

    def __iter__(self):
        for d in self.datasets:
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


def check_loader_args(shuffle, sampler, batch_sampler):
    """The DataLoader options an IterableDataset cannot take, refused as PyTorch refuses them."""
    if shuffle not in (False, None):
        raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle option, "
                         "but got shuffle=%r (shuffle the stream inside the dataset)" % (shuffle,))
    if sampler is not None:
        raise ValueError("DataLoader with IterableDataset: expected unspecified sampler option, "
                         "but got sampler=%r" % (sampler,))
    if batch_sampler is not None:
        raise ValueError("DataLoader with IterableDataset: expected unspecified batch_sampler "
                         "option, but got batch_sampler=%r" % (batch_sampler,))


def iterable_batches(dataset, batch_size, drop_last, collate_fn):
    """One epoch of batches (or converted samples when batch_size is None) from the stream."""
    if batch_size is None:
        for sample in dataset:
            yield collate_fn(sample)
        return
    batch = []
    for sample in dataset:
        batch.append(sample)
        if len(batch) == batch_size:
            yield collate_fn(batch)
            batch = []
    if batch and not drop_last:
        yield collate_fn(batch)


def iterable_len(dataset, batch_size, drop_last):
    n = len(dataset)  # TypeError, as in PyTorch, when the stream has no length
    if not isinstance(n, numbers.Integral):
        raise TypeError("len(dataset) must be an int, got %r" % (n,))
    if batch_size is None:
        return n
    return n // batch_size if drop_last else -(-n // batch_size)
