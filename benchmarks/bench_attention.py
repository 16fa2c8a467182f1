"""pytest-benchmark: fused SDPA and LayerNorm, forward and forward+backward, vs the NumPy
reference and torch; the cases and check are dlcore.bench.attention's (`dlcore bench
attention`)."""
import pytest

from dlcore.bench import attention as family, param_id


@pytest.mark.parametrize("side", family.SIDES)
@pytest.mark.parametrize("case", family.cases(), ids=param_id)
def test_attention(bench_side, case, side):
    bench_side(family, case, side)
