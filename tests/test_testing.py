"""dl.testing.assert_close / make_tensor against torch.testing: the same verdicts and the same
failure messages (with torch's 'torch.' spelling mapped to 'dl.')."""
import numpy as np
import pytest

import dlcore as dl


def _outcome(module, fn):
    try:
        fn(module)
        return "pass"
    except (AssertionError, TypeError, ValueError) as e:
        return type(e).__name__, str(e).replace("torch.", "dl.")


NAN, INF = float("nan"), float("inf")
CASES = {
    "close": lambda E: E.testing.assert_close(E.tensor([1.0, 2.0]), E.tensor([1.0, 2.0 + 1e-7])),
    "far": lambda E: E.testing.assert_close(E.tensor([1.0, 2.0, 3.0]), E.tensor([1.0, 2.0, 3.1])),
    "2d": lambda E: E.testing.assert_close(E.tensor([[1.0, 2.0], [3.0, 4.0]]),
                                           E.tensor([[1.0, 2.0], [3.0, 5.0]])),
    "shape": lambda E: E.testing.assert_close(E.tensor([1.0, 2.0]), E.tensor([1.0, 2.0, 3.0])),
    "dtype": lambda E: E.testing.assert_close(E.tensor([1.0]), E.tensor([1.0], dtype=E.float64)),
    "no_dtype_check": lambda E: E.testing.assert_close(E.tensor([1.0]),
                                                       E.tensor([1.0], dtype=E.float64),
                                                       check_dtype=False),
    "tensor_vs_float": lambda E: E.testing.assert_close(E.tensor([1.0]), 1.0),
    "nan": lambda E: E.testing.assert_close(E.tensor([1.0, NAN]), E.tensor([1.0, NAN])),
    "nan_equal": lambda E: E.testing.assert_close(E.tensor([1.0, NAN]), E.tensor([1.0, NAN]),
                                                  equal_nan=True),
    "inf": lambda E: E.testing.assert_close(E.tensor([INF, -INF]), E.tensor([INF, -INF])),
    "inf_sign": lambda E: E.testing.assert_close(E.tensor([INF]), E.tensor([-INF])),
    "one_tol": lambda E: E.testing.assert_close(E.tensor([1.0]), E.tensor([1.1]), rtol=0.2),
    "tols": lambda E: E.testing.assert_close(E.tensor([1.0]), E.tensor([1.1]), rtol=0.2, atol=0),
    "ints": lambda E: E.testing.assert_close(E.tensor([1, 2]), E.tensor([1, 3])),
    "scalar_tensors": lambda E: E.testing.assert_close(E.tensor(1.0), E.tensor(2.0)),
    "list": lambda E: E.testing.assert_close([E.tensor(1.0), E.tensor(2.0)],
                                             [E.tensor(1.0), E.tensor(2.5)]),
    "dict": lambda E: E.testing.assert_close({"a": E.tensor([1.0]), "b": [E.tensor([2.0])]},
                                             {"a": E.tensor([1.0]), "b": [E.tensor([2.2])]}),
    "keys": lambda E: E.testing.assert_close({"a": 1.0}, {"b": 1.0}),
    "lengths": lambda E: E.testing.assert_close([1.0, 2.0], [1.0]),
    "numbers": lambda E: E.testing.assert_close(1.0, 1.0 + 1e-9),
    "int_float": lambda E: E.testing.assert_close(1, 1.0),
    "bools": lambda E: E.testing.assert_close(True, True),
    "arrays": lambda E: E.testing.assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.0])),
    "arrays_far": lambda E: E.testing.assert_close(np.array([1.0, 2.0]), np.array([1.0, 3.0])),
    "msg": lambda E: E.testing.assert_close(E.tensor([1.0]), E.tensor([2.0]), msg="custom"),
    "msg_fn": lambda E: E.testing.assert_close(E.tensor([1.0]), E.tensor([2.0]),
                                               msg=lambda m: "ctx: " + m.splitlines()[0]),
    "half": lambda E: E.testing.assert_close(E.tensor([1.0], dtype=E.float16),
                                             E.tensor([1.0009], dtype=E.float16)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_assert_close_matches_torch(torch, name):
    assert _outcome(dl, CASES[name]) == _outcome(torch, CASES[name])


def test_make_tensor():
    t = dl.testing.make_tensor((2, 3), dtype=dl.float32, low=-1, high=1)
    assert tuple(t.shape) == (2, 3) and t.dtype == dl.float32
    assert (t.numpy() >= -1).all() and (t.numpy() < 1).all()
    i = dl.testing.make_tensor(50, dtype=dl.int64, exclude_zero=True)
    assert i.dtype == dl.int64 and (i.numpy() != 0).all() and i.numpy().min() >= -9
    assert dl.testing.make_tensor(4, dtype=dl.uint8).numpy().min() >= 0
    assert dl.testing.make_tensor(3, dtype=dl.float64, requires_grad=True).requires_grad
    with pytest.raises(ValueError):
        dl.testing.make_tensor(3, dtype=dl.int64, low=5, high=2)


def test_assert_allclose_is_deprecated_and_lenient():
    with pytest.warns(FutureWarning):
        dl.testing.assert_allclose(dl.tensor([1.0, NAN]), [1.0, NAN])
    with pytest.warns(FutureWarning), pytest.raises(AssertionError):
        dl.testing.assert_allclose(dl.tensor([1.0]), [1.5])
