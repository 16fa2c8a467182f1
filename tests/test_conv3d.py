"""conv3d (as 2-D convolutions over the kernel's depth taps) and Conv3d against torch on loaded
weights, every option; float64 gradcheck; argument errors."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from _torch_parity import check, check_module, gradcheck

torch = pytest.importorskip("torch")


@pytest.fixture
def r():
    return np.random.default_rng(5)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(padding=(1, 0, 2)),
                                dict(dilation=(2, 1, 1), padding=1), dict(groups=2),
                                dict(padding="same"), dict(padding="valid", stride=(1, 2, 1))])
def test_conv3d_matches_torch(r, kw):
    x = r.standard_normal((2, 4, 5, 6, 7))
    w = r.standard_normal((6, 4 // kw.get("groups", 1), 3, 2, 3))
    b = r.standard_normal(6)
    check(lambda a, ww, bb: F.conv3d(a, ww, bb, **kw),
          lambda a, ww, bb: torch.nn.functional.conv3d(a, ww, bb, **kw), [x, w, b])


def test_conv3d_gradcheck(r):
    x = r.standard_normal((1, 2, 4, 4, 3))
    w = r.standard_normal((2, 2, 2, 2, 2))
    b = r.standard_normal(2)
    gradcheck(lambda a, ww, bb: F.conv3d(a, ww, bb, stride=(2, 1, 1), padding=1), [x, w, b])


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv3d_layer_matches_torch(r, mode):
    tm = torch.nn.Conv3d(3, 5, 3, padding=1, padding_mode=mode)
    m = dl.nn.Conv3d(3, 5, 3, padding=1, padding_mode=mode)
    check_module(m, tm, [r.standard_normal((2, 3, 4, 5, 6)).astype(np.float32)],
                 rtol=1e-4, atol=1e-5)


def test_conv3d_unbatched_and_init(r):
    m = dl.nn.Conv3d(2, 3, (1, 2, 3), bias=False)
    assert m.weight.shape == (3, 2, 1, 2, 3) and m.bias is None
    y = m(dl.randn(2, 4, 5, 6))
    assert y.shape == (3, 4, 4, 4)
    bound = 1 / np.sqrt(2 * 1 * 2 * 3)  # kaiming_uniform(a=sqrt 5) bound = 1/sqrt(fan_in)
    assert np.abs(m.weight.numpy()).max() <= bound


def test_conv3d_errors():
    x = dl.randn(1, 4, 5, 5, 5)
    with pytest.raises(ValueError, match="5-D"):
        F.conv3d(dl.randn(4, 5), dl.randn(2, 4, 1, 1, 1))
    with pytest.raises(ValueError, match="channels"):
        F.conv3d(x, dl.randn(2, 3, 1, 1, 1))
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        F.conv3d(x, dl.randn(2, 4, 7, 1, 1))
    with pytest.raises(ValueError, match="'same' is not supported for strided"):
        F.conv3d(x, dl.randn(2, 4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="bias must have shape"):
        F.conv3d(x, dl.randn(2, 4, 1, 1, 1), dl.randn(3))
