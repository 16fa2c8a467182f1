"""bilinear (one einsum) and nn.Bilinear against torch on loaded weights, gradcheck, errors."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from _torch_parity import check, check_module, gradcheck

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("lead", [(5,), (2, 3), ()])
def test_bilinear_matches_torch(lead):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(lead + (4,)), rng.standard_normal(lead + (3,))
    w, bias = rng.standard_normal((6, 4, 3)), rng.standard_normal(6)
    check(F.bilinear, torch.nn.functional.bilinear, [a, b, w, bias])
    gradcheck(F.bilinear, [a, b, w, bias])


def test_bilinear_layer_matches_torch():
    tm = torch.nn.Bilinear(4, 3, 5)
    m = dl.nn.Bilinear(4, 3, 5)
    rng = np.random.default_rng(1)
    check_module(m, tm, [rng.standard_normal((6, 4)).astype(np.float32),
                         rng.standard_normal((6, 3)).astype(np.float32)])
    assert np.abs(dl.nn.Bilinear(9, 2, 3).weight.numpy()).max() <= 1 / 3


def test_errors():
    with pytest.raises(ValueError, match="weight must be 3-D"):
        F.bilinear(dl.randn(2, 3), dl.randn(2, 3), dl.randn(3, 3))
    with pytest.raises(ValueError, match="same leading dims"):
        F.bilinear(dl.randn(2, 4), dl.randn(3, 3), dl.randn(5, 4, 3))
    with pytest.raises(ValueError, match="positive int"):
        dl.nn.Bilinear(0, 2, 3)
