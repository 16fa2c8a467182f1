"""The NumPy data-memory handler backed by dlcore's block cache."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import memory

BIG = 3 << 20  # bytes: large enough for the cached, huge-page path


@pytest.fixture(autouse=True)
def installed():
    memory.install()
    yield
    memory.set_cache_limit(1 << 30)


def test_large_blocks_are_reused():
    memory.empty_cache()
    a = np.empty(BIG // 4, np.float32)
    a[:] = 7
    del a
    before = memory.stats()
    assert before["cached_blocks"] >= 1
    b = np.empty(BIG // 4, np.float32)
    after = memory.stats()
    assert after["hits"] == before["hits"] + 1
    assert b.ctypes.data % 64 == 0


def test_zeros_from_a_dirty_cached_block_are_zero():
    memory.empty_cache()
    a = np.full(BIG // 8, 3.0)
    del a
    z = np.zeros(BIG // 8)
    assert not z.any()


def test_realloc_through_resize_keeps_data():
    a = np.arange(BIG // 8, dtype=np.float64)
    a.resize(BIG // 4, refcheck=False)
    assert a[: BIG // 8].tolist()[:5] == [0, 1, 2, 3, 4]
    assert a[BIG // 8 - 1] == BIG // 8 - 1
    s = np.arange(10.0)
    s.resize(1 << 18, refcheck=False)
    assert s[9] == 9.0


def test_cache_limit_and_empty_cache():
    memory.set_cache_limit(0)
    a = np.empty(BIG // 4, np.float32)
    del a
    assert memory.stats()["cached_bytes"] == 0
    memory.set_cache_limit(1 << 30)
    a = np.empty(BIG // 4, np.float32)
    del a
    assert memory.stats()["cached_bytes"] > 0
    memory.empty_cache()
    assert memory.stats()["cached_bytes"] == 0
    with pytest.raises(ValueError, match="nbytes"):
        memory.set_cache_limit(-1)


def test_many_sizes_and_small_arrays_stay_correct(rng):
    arrays = [rng.standard_normal(n) for n in (1, 7, 1000, 200_000, 500_000, 1_300_001)]
    sums = [a.sum() for a in arrays]
    copies = [a.copy() for a in arrays]
    del arrays
    for c, s in zip(copies, sums):
        assert c.sum() == pytest.approx(s)
    t = dl.randn(1000, 1000)
    assert abs(float((t * 2).sum()) - 2 * float(t.sum())) < 1e-1


def test_a_full_cache_makes_room_for_new_sizes():
    """Every slot holding an earlier workload's sizes: a block freed now replaces the oldest
    cached one, so a new size is reused from its second allocation on (not mapped afresh)."""
    memory.empty_cache()
    mb = 1 << 20
    # 70 size classes (64 KiB steps below 4 MiB, 2 MiB steps above): more than the cache's
    # slots; np.empty never touches the pages, so this costs address space, not memory
    sizes = [mb + k * (64 << 10) for k in range(48)] + [4 * mb + j * 2 * mb for j in range(22)]
    for n in sizes:
        a = np.empty(n // 4, np.float32)
        del a
    assert memory.stats()["cached_blocks"] >= 60
    new = (4 * mb + 30 * 2 * mb) // 4          # a size none of them had
    a = np.empty(new, np.float32)
    del a
    before = memory.stats()
    b = np.empty(new, np.float32)
    assert memory.stats()["hits"] == before["hits"] + 1
    b[:1000] = 1.0
    assert float(b[:1000].sum()) == 1000.0
    del b
    memory.empty_cache()
