"""IterableDataset / ChainDataset through the DataLoader (batching, drop_last, len, the options
PyTorch refuses), WeightedRandomSampler's distribution and errors, and the torch.utils.data
names under dlcore.utils.data."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.utils import data as D


class Stream(D.IterableDataset):
    def __init__(self, n, with_len=True):
        self.n, self.with_len = n, with_len

    def __iter__(self):
        for i in range(self.n):
            yield np.array([i, i * i], dtype=np.float32), i

    def __len__(self):
        if not self.with_len:
            raise TypeError("Stream has no length")
        return self.n


def test_iterable_dataset_batches_in_stream_order():
    loader = D.DataLoader(Stream(10), batch_size=4)
    batches = list(loader)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert batches[0][0].shape == (4, 2) and batches[0][0].dtype == np.float32
    assert batches[2][1].tolist() == [8, 9]
    assert len(loader) == 3
    assert len(D.DataLoader(Stream(10), batch_size=4, drop_last=True)) == 2
    assert [len(b[1]) for b in D.DataLoader(Stream(10), batch_size=4, drop_last=True)] == [4, 4]
    assert list(D.DataLoader(Stream(10), batch_size=4)) is not None  # re-iterable
    singles = list(D.DataLoader(Stream(3), batch_size=None))
    assert len(singles) == 3 and singles[2][1] == 2
    with pytest.raises(TypeError):
        len(D.DataLoader(Stream(3, with_len=False)))


def test_chain_dataset_and_add():
    chained = Stream(2) + Stream(3)
    assert isinstance(chained, D.ChainDataset)
    assert [int(y) for _, y in chained] == [0, 1, 0, 1, 2] and len(chained) == 5
    with pytest.raises(TypeError, match="only IterableDatasets"):
        D.ChainDataset([Stream(1), dl.data.TensorDataset(dl.zeros(2))])
    with pytest.raises(TypeError, match="iterate over it"):
        Stream(2)[0]


def test_iterable_loader_refuses_what_torch_refuses():
    with pytest.raises(ValueError, match="shuffle"):
        D.DataLoader(Stream(4), shuffle=True)
    with pytest.raises(ValueError, match="sampler"):
        D.DataLoader(Stream(4), sampler=[0, 1])
    # workers for a stream were refused once; now they run (tests/test_dataloader_iterable_workers.py)
    assert len(list(D.DataLoader(Stream(4), num_workers=2))) == 8


def test_weighted_random_sampler_distribution():
    w = [0.1, 0.0, 0.6, 0.3]
    s = D.WeightedRandomSampler(w, 20000, generator=dl.Generator().manual_seed(3))
    idx = np.array(list(s))
    assert len(s) == 20000 and idx.shape == (20000,)
    freq = np.bincount(idx, minlength=4) / len(idx)
    np.testing.assert_allclose(freq, w, atol=0.015)
    assert freq[1] == 0
    s = D.WeightedRandomSampler(dl.tensor([1.0, 2.0, 3.0]), 3, replacement=False)
    assert sorted(s) == [0, 1, 2]
    # in a DataLoader: the batches hold what the sampler drew
    ds = D.TensorDataset(dl.arange(4).float())
    loader = D.DataLoader(ds, batch_size=5, sampler=D.WeightedRandomSampler([0, 0, 1, 0], 10))
    assert all((b[0].numpy() == 2).all() for b in loader)


def test_weighted_random_sampler_errors():
    with pytest.raises(ValueError, match="num_samples"):
        D.WeightedRandomSampler([1, 2], 0)
    with pytest.raises(ValueError, match="non-negative"):
        D.WeightedRandomSampler([1, -2], 3)
    with pytest.raises(ValueError, match="without replacement"):
        D.WeightedRandomSampler([1, 0, 1], 3, replacement=False)
    with pytest.raises(ValueError, match="1-D"):
        D.WeightedRandomSampler([[1, 2]], 3)


def test_utils_data_has_torch_names():
    names = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
             "ChainDataset", "random_split", "Sampler", "SequentialSampler", "RandomSampler",
             "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DataLoader",
             "default_collate", "get_worker_info"]
    for n in names:
        assert getattr(D, n) is getattr(dl.data, n), n
