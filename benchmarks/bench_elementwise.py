"""pytest-benchmark: activations, softmax and cross-entropy, forward and forward+backward,
dlcore vs the NumPy reference and torch; the cases and check are dlcore.bench.elementwise's
(`dlcore bench elementwise` prints the same comparison as a ratio table)."""
import pytest

from dlcore.bench import elementwise as family, param_id


@pytest.mark.parametrize("side", family.SIDES)
@pytest.mark.parametrize("case", family.cases(), ids=param_id)
def test_elementwise(bench_side, case, side):
    bench_side(family, case, side)
