"""pytest-benchmark: int8 (u8 x s8, VNNI) and bf16 GEMM vs dlcore's fp32 GEMM and torch's
dynamic quantized Linear / bf16 matmul; the cases and check are dlcore.bench.quant's
(`dlcore bench quant` prints the same comparison, with GFLOP/s, peak fractions and MiniLM)."""
import pytest

from dlcore.bench import quant as family, param_id

SIDES = ["dlcore_fp32", "dlcore_int8", "dlcore_int8+q", "dlcore_int8r7", "dlcore_int8r7+q",
         "dlcore_bf16",
         "torch_int8",
         "torch_bf16"]


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("case", family.cases(), ids=param_id)
def test_quant_gemm(bench_side, nthreads, case, side):
    bench_side(family, case, side)
