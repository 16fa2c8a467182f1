"""pytest-benchmark suite for GEMM: dlcore vs numpy.matmul (OpenBLAS) and torch, float32, at 1
and 2 threads; the cases, operands and check are dlcore.bench.gemm's (`dlcore bench gemm`).

    python -m pytest benchmarks/bench_gemm.py --benchmark-only
"""
import pytest

from dlcore.bench import gemm as family, param_id

PARAMS = [(c, s) for c in family.cases() for s in family.SIDES
          if c["fused"] or s != "dlcore_unfused"]


@pytest.mark.parametrize("case,side", PARAMS, ids=param_id)
def test_gemm(bench_side, nthreads, case, side):
    bench_side(family, case, side, group="%s %dT" % (case["case"], nthreads))
