"""The timers behind `dlcore bench`'s one-thread rows: CPU time of the process (not the wall
clock, which other processes on a shared machine stretch) and sides taking turns call by call;
and the quant family's like-for-like side of torch's dynamic Linear (7-bit activations)."""
import time

import numpy as np

from dlcore import bench
from dlcore.bench import mlp, quant, transfer


def _sleeper(calls, name, s=0.02):
    def f():
        calls.append(name)
        time.sleep(s)       # wall time passes, almost no CPU time
    return f


def test_sides_ms_cpu_counts_cpu_time_not_waiting():
    calls = []
    f = _sleeper(calls, "a")
    wall, = bench.sides_ms([f], 3, interleave=True)
    cpu, = bench.sides_ms([f], 3, interleave=True, cpu=True)
    assert wall >= 20.0
    assert cpu < 10.0


def test_sides_ms_interleaves_and_skips_none():
    calls = []
    ms = bench.sides_ms([_sleeper(calls, "a", 0), None, _sleeper(calls, "b", 0)], 3,
                        interleave=True, cpu=True)
    assert ms[1] is None and ms[0] is not None and ms[2] is not None
    assert calls == ["a", "b"] * 4      # one warm-up call each, then 3 rounds in turn


def test_transfer_median_times_take_turns_at_one_thread():
    calls = []
    a, b = _sleeper(calls, "a", 0), _sleeper(calls, "b", 0)
    got = transfer._median_times((a, None, b), 3, time.process_time, True)
    assert got[1] is None and got[0] >= 0 and got[2] >= 0
    assert calls == ["a", "b"] * 4
    calls.clear()
    transfer._median_times((a, b), 2, time.perf_counter, False)
    assert calls == ["a"] * 3 + ["b"] * 3   # own blocks with several threads


def test_transfer_median_times_cpu_clock_ignores_waiting():
    f = _sleeper([], "a")
    cpu, = transfer._median_times((f,), 2, time.process_time, True)
    wall, = transfer._median_times((f,), 2, time.perf_counter, True)
    assert cpu < 0.01 <= wall


def test_mlp_times_take_turns_at_one_thread_and_keep_blocks_at_two():
    calls = []
    a, b = _sleeper(calls, "a", 0), _sleeper(calls, "b", 0)
    ms = mlp._times(1, 2, a, b, None)
    assert ms[2] is None and calls == ["a", "b"] * 3
    calls.clear()
    ms = mlp._times(2, 2, a, None, b)
    assert ms[1] is None and calls[:2] == ["a", "a"] and calls[-1] == "b"


def test_quant_int8r7q_side_is_the_7bit_product_of_freshly_quantized_input():
    w = quant.workload(quant.cases(quick=True)[0], None)
    n = quant.cases(quick=True)[0]
    got = np.array(w.sides["dlcore_int8r7+q"](), dtype=np.float64)
    want = np.array(w.sides["dlcore_int8r7"](), dtype=np.float64)
    assert got.shape == (n, n)
    np.testing.assert_array_equal(got, want)   # the same codes, the same integer sums
    exact = np.array(w.sides["dlcore_fp32"](), dtype=np.float64)
    # 7-bit activations: close to the float product, not equal to it
    assert 0 < np.abs(got - exact).max() < 0.05 * np.abs(exact).max()
