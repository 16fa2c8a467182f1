"""pytest-benchmark: LSTM and GRU layers (seq 100, batch 32, input 128, hidden 256), forward and
forward+backward, dlcore vs the NumPy reference and torch; the cases, weights and check are
dlcore.bench.rnn's (`dlcore bench rnn` prints the same comparison as a table of ratios)."""
import pytest

from dlcore.bench import rnn as family, param_id


@pytest.mark.parametrize("side", family.SIDES)
@pytest.mark.parametrize("case", family.cases(), ids=param_id)
def test_rnn(bench_side, case, side):
    bench_side(family, case, side)
