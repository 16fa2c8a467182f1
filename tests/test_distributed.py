"""dl.distributed pieces that need no MPI job: argument checks, DistributedSampler, bucket
assignment, gradient-use counting, SyncBatchNorm's fallback and conversion (the behaviour on
2 real ranks is in test_distributed_mpi.py)."""
import subprocess
import sys

import numpy as np
import pytest

import dlcore as dl
import dlcore.distributed as dist
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore.nn.parallel import DistributedDataParallel, SyncBatchNorm
from dlcore.nn.parallel.reducer import assign_buckets, count_contributions


def test_import_dlcore_does_not_start_mpi():
    code = ("import sys, dlcore as dl, dlcore.distributed, dlcore.nn.parallel, dlcore.utils.data;"
            "assert 'mpi4py' not in sys.modules and 'mpi4py.MPI' not in sys.modules;"
            "print(dl.distributed.is_initialized())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


def test_utils_data_is_torch_utils_data_shape():
    import dlcore.data as data
    from dlcore.utils import data as udata
    for name in ("Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
                 "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
                 "BatchSampler", "DataLoader", "default_collate", "get_worker_info"):
        assert getattr(udata, name) is getattr(data, name), name
    assert udata.DistributedSampler is data.DistributedSampler
    assert dl.utils.data.DataLoader is data.DataLoader


def test_without_a_process_group_calls_say_what_to_do():
    assert not dist.is_initialized() and dist.is_main_process()
    for fn, args in ((dist.get_rank, ()), (dist.get_world_size, ()), (dist.barrier, ()),
                     (dist.all_reduce, (dl.ones(2),)), (dist.broadcast, (dl.ones(2), 0))):
        with pytest.raises(RuntimeError, match="init_process_group"):
            fn(*args)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="init_process_group"):
        dl.utils.data.DistributedSampler(range(10))


@pytest.mark.parametrize("kwargs,exc,text", [
    ({"backend": "gloo"}, ValueError, "backend='mpi' only, got 'gloo'"),
    ({"backend": "nccl"}, ValueError, "got 'nccl'"),
    ({"init_method": "tcp://10.0.0.1:23456"}, ValueError, "init_method"),
    ({"timeout": -1}, ValueError, "timeout must be positive"),
    ({"timeout": "30s"}, TypeError, "timedelta"),
])
def test_init_process_group_rejects_what_mpi_cannot_honour(kwargs, exc, text):
    with pytest.raises(exc, match=text):
        dist.init_process_group(**kwargs)
    assert not dist.is_initialized()


def _shards(n, world, **kw):
    return [list(dl.utils.data.DistributedSampler(range(n), world, r, **kw))
            for r in range(world)]


@pytest.mark.parametrize("n,world", [(10, 3), (10, 2), (7, 4), (2, 3), (1, 2)])
def test_distributed_sampler_pads_to_equal_shards_covering_everything(n, world):
    shards = _shards(n, world, shuffle=False)
    sizes = {len(s) for s in shards}
    assert sizes == {-(-n // world)}  # equal shares: no rank waits on a missing batch
    assert set(i for s in shards for i in s) == set(range(n))
    # interleaved: rank r takes positions r, r + world, ... of the padded order
    padded = [i % n for i in range(len(shards[0]) * world)]
    assert [i for k in range(len(shards[0])) for i in (s[k] for s in shards)] == padded


def test_distributed_sampler_drop_last_and_shuffle_per_epoch():
    shards = _shards(10, 3, shuffle=False, drop_last=True)
    assert [len(s) for s in shards] == [3, 3, 3]
    assert len(set(i for s in shards for i in s)) == 9
    a = dl.utils.data.DistributedSampler(range(100), 2, 0, seed=3)
    b = dl.utils.data.DistributedSampler(range(100), 2, 1, seed=3)
    e0 = list(a)
    assert list(a) == e0  # the same epoch gives the same order
    assert sorted(e0 + list(b)) == list(range(100))  # the ranks split one permutation
    a.set_epoch(1)
    assert list(a) != e0 and sorted(list(a) + list(b)) != sorted(e0 + list(b))
    b.set_epoch(1)
    assert sorted(list(a) + list(b)) == list(range(100))
    # the DataLoader slices the epoch's index array (its fast path) the same way
    ds = dl.utils.data.TensorDataset(dl.arange(100))
    loader = dl.utils.data.DataLoader(ds, batch_size=8, sampler=a)
    assert [int(v) for (x,) in loader for v in x.numpy()] == list(a)


@pytest.mark.parametrize("kwargs,exc,text", [
    ({"num_replicas": 2, "rank": 2}, ValueError, "invalid rank 2"),
    ({"num_replicas": 0, "rank": 0}, ValueError, "num_replicas must be >= 1"),
    ({"num_replicas": 2.0, "rank": 0}, TypeError, "num_replicas must be an int"),
])
def test_distributed_sampler_arguments(kwargs, exc, text):
    with pytest.raises(exc, match=text):
        dl.utils.data.DistributedSampler(range(5), **kwargs)


def test_buckets_reverse_registration_order_one_dtype_each_capped():
    params = [nn.Parameter(np.zeros(n, dtype=dt)) for n, dt in
              ((100, np.float32), (300, np.float32), (50, np.float64), (200, np.float32),
               (10, np.float32))]
    buckets = assign_buckets(params, cap_bytes=1200)  # 300 float32 values
    flat = [i for b in buckets for i in b]
    assert sorted(flat) == list(range(5))
    for b in buckets:
        assert len({params[i]._data.dtype for i in b}) == 1
        assert sum(params[i]._data.nbytes for i in b) <= 1200 or len(b) == 1
        assert b == sorted(b, reverse=True)  # within a bucket: last registered first
    assert buckets[0][0] == 4  # the last parameter's bucket goes first
    assert [b for b in buckets if 2 in b] == [[2]]


def test_gradient_uses_are_counted_per_forward():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Linear(4, 6)
            self.body = nn.Linear(6, 6)
            self.unused = nn.Linear(2, 2)

        def forward(self, x):
            h = self.body(F.relu(self.body(self.emb(x))))  # body twice
            return F.linear(h, self.emb.weight.T)  # emb.weight tied as the output layer

    m = Tied()
    named = list(m.named_parameters())
    index = {id(p): i for i, (_, p) in enumerate(named)}
    counts = dict(zip([n for n, _ in named], count_contributions(m(dl.ones(3, 4)), index)))
    assert counts == {"emb.weight": 2, "emb.bias": 1, "body.weight": 2, "body.bias": 2,
                      "unused.weight": 0, "unused.bias": 0}
    # the count is what backward delivers: one hook call per counted use
    calls = {n: 0 for n, _ in named}
    for n, p in named:
        p.register_hook(lambda g, n=n: calls.__setitem__(n, calls[n] + 1))
    m(dl.ones(3, 4)).sum().backward()
    assert calls == counts
    with dl.no_grad():
        assert count_contributions(m(dl.ones(3, 4)), index) == [0] * 6


def test_sync_batchnorm_is_batchnorm_outside_a_job_and_converts_in_place():
    dl.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(12, 2), nn.BatchNorm1d(2))
    keys = list(model.state_dict())
    params = [id(p) for p in model.parameters()]
    x = dl.randn(4, 1, 4, 4)
    ref = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                        nn.Linear(12, 2), nn.BatchNorm1d(2))
    ref.load_state_dict(model.state_dict())
    converted = SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(converted[1], SyncBatchNorm) and isinstance(converted[5], SyncBatchNorm)
    assert list(converted.state_dict()) == keys
    assert [id(p) for p in converted.parameters()] == params  # an optimizer keeps working
    np.testing.assert_array_equal(converted(x).numpy(), ref(x).numpy())
    np.testing.assert_array_equal(converted[1].running_var.numpy(), ref[1].running_var.numpy())
    with pytest.raises(ValueError, match="expected 2-D or 3-D or 4-D or 5-D input"):
        SyncBatchNorm(3)(dl.ones(3))
