"""dl.set_num_threads / get_num_threads and the dl.num_threads context manager."""
import pytest

import dlcore as dl


def test_num_threads_context_restores_and_nests():
    before = dl.get_num_threads()
    with dl.num_threads(1):
        assert dl.get_num_threads() == 1
        with dl.num_threads(2):
            assert dl.get_num_threads() == 2
        assert dl.get_num_threads() == 1
    assert dl.get_num_threads() == before


def test_num_threads_restores_after_an_exception_and_decorates():
    before = dl.get_num_threads()
    with pytest.raises(RuntimeError):
        with dl.num_threads(1):
            raise RuntimeError("boom")
    assert dl.get_num_threads() == before

    @dl.num_threads(1)
    def inner():
        return dl.get_num_threads()

    assert inner() == 1 and dl.get_num_threads() == before


def test_num_threads_rejects_zero():
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        dl.num_threads(0)
