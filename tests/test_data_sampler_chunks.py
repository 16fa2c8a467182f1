"""Samplers whose epoch may be far longer than the data (replacement draws; minGPT's trainer
asks RandomSampler for 1e10 samples) draw their indices in bounded chunks: iterating starts at
once, memory stays small, and batches run across chunk edges unchanged."""
import resource

import numpy as np

import dlcore as dl
from dlcore.data import sampler as S
from dlcore.data import DataLoader, TensorDataset


def test_huge_replacement_epoch_starts_at_once_in_bounded_memory():
    ds = TensorDataset(dl.arange(10))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for smp in (S.RandomSampler(ds, replacement=True, num_samples=int(1e10)),
                S.WeightedRandomSampler(np.ones(10), int(1e10))):
        loader = DataLoader(ds, batch_size=4, sampler=smp)
        assert len(loader) == int(2.5e9)
        got = [b[0].numpy() for _, b in zip(range(3), loader)]
        assert all(g.shape == (4,) and g.min() >= 0 and g.max() < 10 for g in got)
        first = list(zip(range(5), iter(smp)))
        assert len(first) == 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000   # KiB


def test_batches_span_chunk_edges(monkeypatch):
    monkeypatch.setattr(S, "_CHUNK", 5)
    ds = TensorDataset(dl.arange(7))
    for make in (lambda g: S.RandomSampler(ds, replacement=True, num_samples=23, generator=g),
                 lambda g: S.RandomSampler(ds, num_samples=17, generator=g),
                 lambda g: S.WeightedRandomSampler(np.arange(1.0, 8.0), 23, generator=g)):
        flat = list(make(dl.Generator().manual_seed(3)))
        assert len(flat) == len(make(None))
        for drop_last in (False, True):
            bs = S.BatchSampler(make(dl.Generator().manual_seed(3)), 4, drop_last)
            batches = list(bs)
            assert all(len(b) == 4 for b in batches[:-1])
            assert sum(batches, []) == flat[:len(flat) - (len(flat) % 4 if drop_last else 0)]
            assert len(batches) == len(bs)


def test_without_replacement_each_pass_is_a_permutation():
    ds = TensorDataset(dl.arange(6))
    idx = list(S.RandomSampler(ds, num_samples=15, generator=dl.Generator().manual_seed(0)))
    assert sorted(idx[:6]) == list(range(6)) and sorted(idx[6:12]) == list(range(6))
    assert len(set(idx[12:])) == 3
