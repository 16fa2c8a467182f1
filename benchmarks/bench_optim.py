"""pytest-benchmark: one optimizer step over 10M float32 parameters (four buffers), dlcore's
fused kernels against the NumPy reference and torch.optim (default, foreach, fused), at 1 and 2
threads; the cases, state and check are dlcore.bench.optim's (`dlcore bench optim`)."""
import pytest

from dlcore.bench import optim as family, param_id

ROUNDS = 15


@pytest.fixture(scope="module")
def data():
    family._fix_malloc()
    return {c["case"]: family.operands(c["sizes"]) for c in family.cases()}


@pytest.mark.parametrize("side", family.SIDES)
@pytest.mark.parametrize("case", family.cases(), ids=param_id)
def test_step(bench_side, nthreads, data, case, side):
    bench_side(family, case, side, group="%s %dT" % (case["case"], nthreads),
               pedantic=dict(rounds=ROUNDS, warmup_rounds=2), data=data[case["case"]])
