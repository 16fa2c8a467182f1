"""Ops that compute with NumPy do not leak NumPy's floating-point RuntimeWarnings (torch gives
inf/nan silently), while the user's own NumPy code still warns.

dlcore installs its warning filter when imported; pytest imports test modules inside its own
catch_warnings block, which drops filters added there, so the tests here install it again (the
subprocess test checks the import-time install the way a script sees it)."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

import dlcore as dl

X = [0.0, -1.0, 1.0, float("inf"), float("nan")]


@pytest.fixture(autouse=True)
def _dlcore_filter():
    with warnings.catch_warnings():
        dl.numpy_warnings.install()
        yield


def test_a_script_sees_no_warning():
    code = ("import dlcore as dl; x = dl.tensor([0.0, -1.0]); "
            "dl.log(x); dl.sqrt(x); 1 / dl.zeros(2); dl.zeros(0).mean(); dl.prod(x * float('inf'))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "Warning" not in run.stderr, run.stderr

CASES = {
    "div": lambda x, z: x / z, "rdiv": lambda x, z: 1 / z, "floordiv": lambda x, z: x // z,
    "remainder": lambda x, z: x % z, "fmod": lambda x, z: dl.fmod(x, z),
    "log": lambda x, z: dl.log(x), "log2": lambda x, z: dl.log2(x),
    "log1p": lambda x, z: dl.log1p(x - 1), "sqrt": lambda x, z: dl.sqrt(x),
    "rsqrt": lambda x, z: dl.rsqrt(x), "reciprocal": lambda x, z: dl.reciprocal(z),
    "pow": lambda x, z: z ** -1.0, "pow_half": lambda x, z: x ** 0.5,
    "exp": lambda x, z: dl.exp(x * 1000), "atanh": lambda x, z: dl.atanh(x),
    "acos": lambda x, z: dl.acos(x * 2), "acosh": lambda x, z: dl.acosh(x),
    "inf-inf": lambda x, z: x - x, "inf*0": lambda x, z: x * z, "tan": lambda x, z: dl.tan(x),
    "logit": lambda x, z: dl.logit(x), "xlogy": lambda x, z: dl.xlogy(x, z),
    "int_div": lambda x, z: dl.tensor([1, 2]) / dl.tensor([0, 0]),
    "mean_empty": lambda x, z: dl.zeros(0).mean(),
    "mean_rows_empty": lambda x, z: dl.zeros(2, 0).mean(1),
    "mean_inf": lambda x, z: dl.tensor([float("inf"), -float("inf")]).mean(),
    "var_one": lambda x, z: dl.ones(1).var(), "cumprod": lambda x, z: dl.cumprod(x, 0),
    "prod": lambda x, z: dl.prod(x), "div_": lambda x, z: x.clone().div_(z),
    "sum_overflow": lambda x, z: dl.tensor([3e38, 3e38]).sum(),
    "square_overflow": lambda x, z: dl.square(dl.tensor([1e30])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_numpy_warning_leaks(name):
    x, z = dl.tensor(X), dl.zeros(5)
    with warnings.catch_warnings(record=True) as caught:
        CASES[name](x, z)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("name", ["log", "sqrt", "div", "prod"])
def test_no_warning_in_backward(name):
    a = dl.tensor([0.0, 2.0], requires_grad=True)
    b = dl.tensor([0.0, 1.0], requires_grad=True)
    fn = {"log": lambda: dl.log(a), "sqrt": lambda: dl.sqrt(a), "div": lambda: a / b,
          "prod": lambda: dl.prod(a * b)}[name]
    with warnings.catch_warnings(record=True) as caught:
        fn().sum().backward()
    assert [str(w.message) for w in caught] == []


def test_values_are_torchs(torch):
    for name in ("log", "sqrt", "div", "mean_empty", "cumprod", "prod", "pow"):
        got = CASES[name](dl.tensor(X), dl.zeros(5)).numpy()
        t = {"log": lambda: torch.log(torch.tensor(X)),
             "sqrt": lambda: torch.sqrt(torch.tensor(X)),
             "div": lambda: torch.tensor(X) / torch.zeros(5),
             "mean_empty": lambda: torch.zeros(0).mean(),
             "cumprod": lambda: torch.cumprod(torch.tensor(X), 0),
             "prod": lambda: torch.prod(torch.tensor(X)),
             "pow": lambda: torch.zeros(5) ** -1.0}[name]().numpy()
        np.testing.assert_array_equal(got, t)


def test_users_numpy_still_warns():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.log(np.zeros(1))
    assert any("divide by zero" in str(w.message) for w in caught)


def test_prod_keeps_torchs_integer_widening():
    assert dl.tensor([1, 2, 3], dtype=dl.int32).prod().dtype == dl.int64
    assert dl.tensor([2, 3], dtype=dl.int32).cumprod(0).dtype == dl.int64
    assert dl.ones(3, dtype=dl.float16).mean().dtype == dl.float16
    half = dl.full((4,), 0.1, dtype=dl.float16).mean().numpy()
    np.testing.assert_allclose(half, 0.1, rtol=1e-3)
