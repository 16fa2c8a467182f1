"""Shared fixtures: every SIMD path this CPU has, 1 and 2 threads, torch when installed."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import _C
from dlcore.tour.examples import examples_dir

# in a checkout, dlcore.examples is its own python/ (an editable install may map it elsewhere)
examples_dir()


@pytest.fixture(params=list(_C.supported_isas()))
def isa(request):
    """Runs the test once per SIMD path (generic, avx2, avx512 as the CPU allows)."""
    prev = _C.get_isa()
    _C.set_isa(request.param)
    yield request.param
    _C.set_isa(prev)


@pytest.fixture(params=[1, 2])
def threads(request):
    prev = _C.get_num_threads()
    _C.set_num_threads(request.param)
    yield request.param
    _C.set_num_threads(prev)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _seed():
    dl.manual_seed(0)
    yield


@pytest.fixture
def one_thread():
    """Runs the test on one kernel thread: small models have no per-op work worth splitting,
    and on a shared, loaded machine a second OpenMP thread costs more than it saves."""
    with dl.num_threads(1):
        yield
