"""bincount against torch: counts, minlength, weights (their float dtype kept), errors."""
import numpy as np
import pytest

import dlcore as dl


@pytest.mark.parametrize("values,kwargs", [
    ([0, 1, 1, 3], {}),
    ([0, 1, 1, 3], {"minlength": 7}),
    ([], {}),
    ([], {"minlength": 3}),
    ([2, 2, 0, 5], {"weights": np.array([0.5, 1.5, 2.0, -1.0], np.float32)}),
    ([2, 2, 0], {"weights": np.array([0.5, 1.5, 2.0]), "minlength": 6}),
])
def test_bincount_matches_torch(values, kwargs, torch):
    x = np.array(values, dtype=np.int64)
    tk = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    dk = {k: dl.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    ref = torch.bincount(torch.tensor(x), **tk)
    got = dl.bincount(dl.tensor(x), **dk)
    assert str(got.dtype) == str(ref.dtype).replace("torch.", "")
    np.testing.assert_array_equal(got.numpy(), ref.numpy())
    np.testing.assert_array_equal(dl.tensor(x).bincount(**dk).numpy(), ref.numpy())


@pytest.mark.parametrize("bad", [np.array([-1, 2]), np.array([[1, 2]]), np.array([1.0, 2.0])])
def test_bincount_refuses_what_torch_refuses(bad, torch):
    with pytest.raises(RuntimeError):
        torch.bincount(torch.tensor(bad))
    with pytest.raises(RuntimeError, match="1-D tensor of non-negative integers"):
        dl.bincount(dl.tensor(bad))
