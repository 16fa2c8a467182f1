"""A Tensor prints as torch prints the same values (the digits and layout; the dtype suffix
names dl. instead of torch.)."""
import numpy as np
import pytest

import dlcore as dl

torch = pytest.importorskip("torch")

CASES = [
    [1.0, 2.0, 3.0], [1.618034, 0.0072897], [[3.1415926, 2.71828], [1.61803, 0.0072897]],
    [1e-5, 1.0], [1e9, 1.0], [float("nan"), 1.5, float("inf"), -float("inf")], [0.0, -0.0],
    [0.0, 0.0], [1e-5], [100000.0, 1.0], [123456789.0, 1.0], [0.5, 2000.0], [1e-4, 0.5],
    [[2.0, 4.0], [8.0, 16.0]], [-0.25, 12.5], [[-1.0, 0.0, 0.0, -1.0], [0.0, 0.0, 0.0, -1.0]],
    [1.0, -0.0, 1.0], [561.0, 1.0], 3.5, 3.0, -0.0,
]


def _same(t_dl, t_torch):
    ours = repr(t_dl)
    theirs = repr(t_torch).replace("torch.", "dl.")
    assert ours == theirs


@pytest.mark.parametrize("values", CASES, ids=[str(i) for i in range(len(CASES))])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_layout_matches_torch(values, dtype):
    _same(dl.tensor(values, dtype=getattr(dl, dtype)),
          torch.tensor(values, dtype=getattr(torch, dtype)))


@pytest.mark.parametrize("shape", [(2000,), (40, 40), (3, 400), (2, 3, 300)])
def test_summarized_tensors_use_the_shown_corners(shape):
    a = np.random.default_rng(0).random(shape).astype(np.float32)
    a.reshape(-1)[len(a.reshape(-1)) // 2] = 1e-7  # hidden by the summary: no sci mode
    _same(dl.tensor(a), torch.tensor(a))


@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3, 1)])
def test_empty_tensors(shape):
    _same(dl.zeros(shape), torch.zeros(shape))


def test_integer_bool_and_16_bit_tensors():
    _same(dl.tensor([[10, 2, 19], [0, 1, 5]], dtype=dl.int32),
          torch.tensor([[10, 2, 19], [0, 1, 5]], dtype=torch.int32))
    _same(dl.ones((2, 3), dtype=dl.int16), torch.ones((2, 3), dtype=torch.int16))
    _same(dl.tensor([True, False]), torch.tensor([True, False]))
    _same(dl.arange(2000), torch.arange(2000))
    _same(dl.arange(3000).reshape(30, 100), torch.arange(3000).reshape(30, 100))
    _same(dl.tensor([1.0, 2.5, -3.0]).bfloat16(), torch.tensor([1.0, 2.5, -3.0]).bfloat16())


def test_grad_fn_names_read_as_torchs():
    x = dl.ones(2, requires_grad=True)
    assert repr(x * 2).endswith("grad_fn=<MulBackward0>)")
    assert repr(x).endswith("requires_grad=True)")


def test_long_suffixes_wrap_as_torchs():
    a = np.linspace(-3, 3, 25).astype(np.float32)
    _same(dl.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True))
    _same(dl.tensor(a, requires_grad=True).sin(), torch.tensor(a, requires_grad=True).sin())
    _same(dl.tensor(a[:7], dtype=dl.float64, requires_grad=True) * 2,
          torch.tensor(a[:7], dtype=torch.float64, requires_grad=True) * 2)
    _same(dl.zeros((2, 0), dtype=dl.int32), torch.zeros((2, 0), dtype=torch.int32))


@pytest.mark.parametrize("shape", [(40,), (3, 12), (2, 3, 11), (5, 30)])
@pytest.mark.parametrize("scale", [1.0, -1.0, 100.0, 1e-6])
def test_values_per_line_as_torchs(shape, scale):
    a = (np.random.default_rng(1).random(shape) * scale).astype(np.float32)
    _same(dl.tensor(a), torch.tensor(a))
    _same(dl.arange(int(np.prod(shape))).reshape(shape),
          torch.arange(int(np.prod(shape))).reshape(shape))


@pytest.mark.parametrize("shape", [(2, 3, 300), (2000,), (10, 200), (300, 4)])
@pytest.mark.parametrize("scale", [1.0, 1e-6, -100.0])
def test_summarized_lines_break_as_torchs(shape, scale):
    a = (np.random.default_rng(2).random(shape) * scale).astype(np.float32)
    a.reshape(-1)[0] = 1e-9 * scale
    _same(dl.tensor(a), torch.tensor(a))
    n = int(np.prod(shape))
    _same(dl.arange(n).reshape(shape) * 1000, torch.arange(n).reshape(shape) * 1000)
