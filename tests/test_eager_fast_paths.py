"""The eager fast paths (a + b, a * b, a - b, a / b, relu, sum on float tensors with nothing to
record, and the small-sum kernel) give exactly what the general path gives: the same values,
dtypes and flags, NumPy's summation order and warnings, and a trace or grad mode still sees
every op."""
import warnings

import numpy as np
import pytest

import dlcore as dl
from dlcore import _C, autograd
import dlcore.nn.functional as F


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_small_is_numpy_exactly(dtype, rng):
    for n in range(1, 8):
        for _ in range(300):
            x = (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n)).astype(dtype)
            x[rng.random(n) < 0.2] = -0.0
            x[rng.random(n) < 0.1] = 0.0
            want = np.add.reduce(x)
            got = _C.sum_small(x)
            assert got.shape == () and got.dtype == dtype
            assert got == want and np.signbit(got) == np.signbit(want), (x, got, want)
            kept = _C.sum_small(x.reshape(1, n), True)
            assert kept.shape == (1, 1) and kept[0, 0] == want


def test_sum_small_declines_what_it_does_not_cover():
    assert _C.sum_small(np.ones(8, np.float32)) is None               # NumPy goes pairwise
    assert _C.sum_small(np.ones(0, np.float32)) is None
    assert _C.sum_small(np.ones((3, 2), np.float32).T) is None        # strided
    assert _C.sum_small(np.ones(3, np.int64)) is None
    assert _C.sum_small(np.ones(3, np.float16)) is None
    assert _C.sum_small([1.0, 2.0]) is None
    big = np.array([3e38, 3e38], np.float32)
    assert _C.sum_small(big) is None                                   # overflow: NumPy's own
    assert _C.sum_small(np.array([np.nan, 1.0])) is None


def test_tensor_sum_matches_numpy_and_warns_as_numpy(rng):
    for n in (1, 3, 7, 8, 100):
        x = rng.standard_normal((n,)).astype(np.float32)
        s = dl.tensor(x).sum()
        assert s.dtype == dl.float32 and s.shape == () and s.numpy() == np.add.reduce(x)
        assert dl.tensor(x).sum(keepdim=True).shape == (1,)
    big = np.array([3e38, 3e38], np.float32)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with np.errstate(over="warn"):
            s = dl.tensor(big).sum()
    assert s.item() == np.inf and any("overflow" in str(m.message) for m in w)


def _pairs():
    return [("a + b", lambda a, b: a + b, np.add), ("a - b", lambda a, b: a - b, np.subtract),
            ("a * b", lambda a, b: a * b, np.multiply), ("a / b", lambda a, b: a / b, np.divide)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_fast_path_results(dtype, rng):
    x = rng.standard_normal((3, 5)).astype(dtype)
    y = (rng.standard_normal((3, 5)) + 3).astype(dtype)
    for name, op, ufunc in _pairs():
        for xs, ys in ((x, y), (x[:1], y), (x.T, y.T), (x[0, 0], y[0, 0])):
            t = op(dl.tensor(xs), dl.tensor(ys))
            want = ufunc(xs, ys)
            assert type(t) is dl.Tensor and not t.requires_grad and t.grad_fn is None, name
            assert t.dtype == want.dtype and t.shape == np.shape(want), name
            np.testing.assert_array_equal(t.numpy(), want, err_msg=name)


def test_fast_paths_respect_grad_modes_and_records():
    a, b = dl.tensor([1.5, 2.0]), dl.tensor([-2.5, 4.0])
    ga = dl.tensor([1.5, 2.0], requires_grad=True)
    for name, op, _ in _pairs():
        assert op(ga, b).requires_grad and op(ga, b).grad_fn is not None, name
        assert op(a, ga).requires_grad, name
        with dl.no_grad():
            assert not op(ga, b).requires_grad, name
        with dl.inference_mode():
            assert op(a, b).is_inference(), name
        assert not op(a, b).is_inference()
    assert F.relu(ga).requires_grad and ga.sum().requires_grad
    with dl.inference_mode():
        assert F.relu(a).is_inference() and a.sum().is_inference()


def test_fast_paths_are_traced():
    a, b = dl.tensor([1.5, 2.0]), dl.tensor([-2.5, 4.0])
    calls = []
    autograd._tracer = lambda cls, args, kwargs, out: calls.append(cls.__name__)
    try:
        a + b, a - b, a * b, a / b, F.relu(a), a.sum()
    finally:
        autograd._tracer = None
    assert calls == ["Add", "Sub", "Mul", "Div", "ReLU", "Sum"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_fast_path_on_strided_input(dtype, rng):
    x = rng.standard_normal((7, 5)).astype(dtype)
    for xs in (x, x.T, x[::2, 1:]):
        y = F.relu(dl.tensor(xs))
        assert y.numpy().flags.c_contiguous and y.dtype == dtype
        np.testing.assert_array_equal(y.numpy(), np.maximum(xs, 0))
        out = _C.act_forward(_C.AF_RELU, xs)
        np.testing.assert_array_equal(out, np.maximum(xs, 0))


def test_recorded_relu_and_sum_gradients():
    x = dl.tensor([[-1.0, 2.0, 0.5]], requires_grad=True)
    (F.relu(x) * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 4.0, 1.0]])
    assert autograd.gradcheck(lambda t: F.relu(t).sum(),
                              (dl.tensor([[0.3, -0.7, 1.1]], dtype=dl.float64,
                                         requires_grad=True),))
