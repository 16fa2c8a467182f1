"""pytest-benchmark suite for convolution and pooling, forward and forward+backward: dlcore
beside the NumPy im2col reference and torch; the cases, data and check are dlcore.bench.conv's
(`dlcore bench conv` prints the same comparison as a table of ratios)."""
import pytest

from dlcore.bench import conv as family, param_id


@pytest.mark.parametrize("side", family.SIDES)
@pytest.mark.parametrize("case", family.cases(), ids=param_id)
def test_conv(bench_side, case, side):
    bench_side(family, case, side)
