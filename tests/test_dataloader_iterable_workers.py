"""DataLoader(IterableDataset, num_workers > 0): each worker iterates its own copy, shards by
get_worker_info(), and the batches arrive in torch's order (compared with torch's DataLoader)."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.utils import data as dl_data


def _make_range_stream(base, worker_info, sharded):
    class RangeStream(base):
        def __init__(self, start, stop):
            self.start, self.stop = start, stop

        def __iter__(self):
            info = worker_info()
            if not sharded or info is None:
                return iter(range(self.start, self.stop))
            # torch's documented recipe: split the range into one piece per worker
            per = -(-(self.stop - self.start) // info.num_workers)
            lo = self.start + info.id * per
            return iter(range(lo, min(lo + per, self.stop)))
    return RangeStream


def _batches(loader):
    out = []
    for b in loader:
        out.append(np.asarray(b.tolist() if hasattr(b, "tolist") else b).tolist())
    return out


@pytest.mark.parametrize("n,workers,batch_size,drop_last,sharded", [
    (11, 3, 2, False, True),    # uneven shards: workers run out at different times
    (10, 2, 3, True, True),
    (7, 2, None, False, True),  # no batching: samples one by one
    (5, 2, 2, False, False),    # not sharded: every worker yields the whole stream, as torch
    (3, 4, 1, False, True),     # more workers than samples
])
def test_batches_and_order_match_torch(n, workers, batch_size, drop_last, sharded, torch):
    import torch.utils.data as td
    results = []
    for base, info, loader_cls in ((dl_data.IterableDataset, dl_data.get_worker_info,
                                    dl_data.DataLoader),
                                   (td.IterableDataset, td.get_worker_info, td.DataLoader)):
        ds = _make_range_stream(base, info, sharded)(0, n)
        results.append(_batches(loader_cls(ds, batch_size=batch_size, drop_last=drop_last,
                                           num_workers=workers)))
    assert results[0] == results[1]


def test_persistent_workers_restart_the_stream_each_epoch():
    ds = _make_range_stream(dl_data.IterableDataset, dl_data.get_worker_info, True)(0, 6)
    loader = dl_data.DataLoader(ds, batch_size=2, num_workers=2, persistent_workers=True)
    first, second = _batches(loader), _batches(loader)
    assert first == second == [[0, 1], [3, 4], [2], [5]]
    loader._pool.shutdown()


class _Broken(dl_data.IterableDataset):
    def __iter__(self):
        yield 1
        raise ValueError("the stream broke")


def test_worker_error_is_raised_in_the_main_process():
    loader = dl_data.DataLoader(_Broken(), batch_size=1, num_workers=2)
    with pytest.raises(RuntimeError, match="the stream broke"):
        list(loader)


def test_worker_info_and_init_fn_in_workers():
    class WhoAmI(dl_data.IterableDataset):
        def __iter__(self):
            info = dl_data.get_worker_info()
            yield np.array([info.id, info.num_workers, dl.get_num_threads()])

    seen = _batches(dl_data.DataLoader(WhoAmI(), batch_size=None, num_workers=3))
    assert sorted(tuple(s) for s in seen) == [(0, 3, 1), (1, 3, 1), (2, 3, 1)]


def test_shuffle_and_sampler_still_refused():
    ds = _make_range_stream(dl_data.IterableDataset, dl_data.get_worker_info, True)(0, 4)
    with pytest.raises(ValueError, match="shuffle"):
        dl_data.DataLoader(ds, shuffle=True, num_workers=2)


def test_stream_without_len_lists_as_torch(torch):
    import torch.utils.data as td
    for base, loader_cls in ((dl_data.IterableDataset, dl_data.DataLoader),
                             (td.IterableDataset, td.DataLoader)):
        class NoLen(base):
            def __iter__(self):
                return iter(range(5))
        assert len(list(loader_cls(NoLen(), batch_size=2))) == 3
        with pytest.raises(TypeError):
            len(loader_cls(NoLen(), batch_size=2))
