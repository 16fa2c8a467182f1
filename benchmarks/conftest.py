"""What the pytest-benchmark suites share.  The workloads themselves (cases, operands, the sides
dlcore / numpy / torch, the NumPy references and the checks) live once in dlcore.bench.<family>,
which `dlcore bench` prints as tables; each bench_<family>.py only hands them to
pytest-benchmark, one test per case and side."""
import pytest

from dlcore.bench import get_torch, threads


@pytest.fixture(params=[1, 2], ids=["1T", "2T"])
def nthreads(request):
    """dlcore, NumPy's BLAS and torch all at 1, then 2 threads."""
    with threads(request.param):
        yield request.param


@pytest.fixture
def bench_side(benchmark):
    """bench_side(family, case, side, group=None, pedantic=None): builds the case's workload,
    checks dlcore against the NumPy reference (for dlcore's sides) and times `side`."""
    def run(family, case, side, group=None, pedantic=None, **workload_args):
        torch = get_torch()
        if side.startswith("torch") and torch is None:
            pytest.skip("torch is not installed")
        w = family.workload(case, torch, **workload_args)
        fn = w.sides.get(side)
        if fn is None:
            pytest.skip("this torch build has no %s for %s on CPU" % (side, w.case))
        if side.startswith("dlcore"):
            w.check()
        benchmark.group = group or w.case
        if pedantic:
            benchmark.pedantic(fn, **pedantic)
        else:
            benchmark(fn)
    return run
