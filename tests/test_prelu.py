"""prelu / rrelu (dlcore.ops.prelu) and PReLU / RReLU against torch on loaded weights."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from _torch_parity import check, check_module, gradcheck

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("shape,n", [((4, 3, 5), 3), ((4, 3, 5), 1), ((7,), 1), ((2, 3), 3)])
def test_prelu_matches_torch(shape, n):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    x.flat[0] = 0.0  # x == 0 takes the slope branch, as torch's gradient does
    w = rng.uniform(0.1, 0.5, n)
    check(F.prelu, torch.nn.functional.prelu, [x, w])
    gradcheck(F.prelu, [x + 0.01, w])


def test_prelu_layer_trains_like_torch():
    tm = torch.nn.PReLU(3, init=0.2)
    m = dl.nn.PReLU(3, init=0.2)
    assert m.weight.shape == (3,) and np.allclose(m.weight.numpy(), 0.2)
    x = np.random.default_rng(1).standard_normal((5, 3, 4)).astype(np.float32)
    check_module(m, tm, [x])


def test_rrelu():
    x = dl.randn(200, 50)
    m = dl.nn.RReLU(0.1, 0.3)
    m.eval()
    np.testing.assert_allclose(m(x).numpy(), np.where(x.numpy() >= 0, x.numpy(),
                                                      0.2 * x.numpy()), rtol=1e-6)
    m.train()
    y = m(x).numpy()
    neg = x.numpy() < 0
    ratio = y[neg] / x.numpy()[neg]
    assert ratio.min() >= 0.1 - 1e-6 and ratio.max() <= 0.3 + 1e-6 and ratio.std() > 0.03
    np.testing.assert_array_equal(y[~neg], x.numpy()[~neg])


def test_errors():
    with pytest.raises(ValueError, match="one per channel"):
        F.prelu(dl.randn(2, 3, 4), dl.ones(4))
    with pytest.raises(ValueError, match="num_parameters"):
        dl.nn.PReLU(0)
    with pytest.raises(ValueError, match="lower must be <= upper"):
        F.rrelu(dl.randn(3), 0.5, 0.1)
