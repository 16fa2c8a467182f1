"""pytest-benchmark: one DCGAN training epoch on the bundled digits (29 steps of 64), dlcore's
fit_gan against the same models and loop in torch (weights copied from dlcore), at 1 and 2
threads; the workload is dlcore.bench.gan's (`dlcore bench gan` prints it as a table)."""
import pytest

from dlcore.bench import gan as family, param_id

ROUNDS = 3


@pytest.mark.parametrize("side", family.SIDES)
@pytest.mark.parametrize("case", family.cases(), ids=param_id)
def test_dcgan_epoch(bench_side, nthreads, case, side):
    bench_side(family, case, side, group="%s %dT" % (case["case"], nthreads),
               pedantic=dict(rounds=ROUNDS, warmup_rounds=1))
