"""pytest-benchmark: one optimizer step over 10M float32 parameters (four buffers), dlcore's
fused kernels against the NumPy reference and torch.optim (default, foreach, fused).

    python -m pytest benchmarks/bench_optim.py --benchmark-group-by=param:case,param:threads

Each side's state is built once per test; the timed call is one optimizer.step().  The same
cases, as a table of ratios: `python -m dlcore.bench.optim` (or `dlcore bench optim`).
"""
import numpy as np
import pytest

from dlcore import _C
from dlcore.bench import optim as B

ROUNDS = 15


@pytest.fixture(scope="module")
def data():
    B._fix_malloc()
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(n).astype(np.float32) for n in B.SIZES]
    grads = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in B.SIZES]
    return arrays, grads


@pytest.fixture(params=[1, 2], ids=["1T", "2T"])
def threads(request):
    prev = _C.get_num_threads()
    _C.set_num_threads(request.param)
    torch = B._torch()
    prev_t = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(request.param)
    yield request.param
    _C.set_num_threads(prev)
    if torch is not None:
        torch.set_num_threads(prev_t)


def _side(side, case, arrays, grads):
    if side == "dlcore":
        return B._dl_side(case, arrays, grads)
    if side == "numpy":
        return B._numpy_side(case, arrays, grads)
    torch = B._torch()
    if torch is None:
        pytest.skip("torch is not installed")
    flags = {"torch": {}, "torch_foreach": {"foreach": True}, "torch_fused": {"fused": True}}
    fn = B._torch_side(torch, case, arrays, grads, **flags[side])
    if fn is None:
        pytest.skip("this torch build lacks %s for %s on CPU" % (side, case))
    return fn


@pytest.mark.parametrize("side", ["dlcore", "numpy", "torch", "torch_foreach", "torch_fused"])
@pytest.mark.parametrize("case", ["adam", "sgd-momentum"])
def test_step_10M(benchmark, data, threads, case, side):
    arrays, grads = data
    fn = _side(side, case, arrays, grads)
    benchmark.pedantic(fn, rounds=ROUNDS, warmup_rounds=2)
