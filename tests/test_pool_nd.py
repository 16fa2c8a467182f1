"""1-D and 3-D pooling (dlcore.ops.pool_nd on the 2-D kernels) and their layers against torch:
values, indices, gradients, every option; float64 gradcheck; argument errors."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from _torch_parity import check, gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.fixture
def r():
    return np.random.default_rng(11)


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1, dilation=2),
                                dict(kernel_size=3, stride=2, ceil_mode=True)])
def test_max_pool1d(r, kw):
    x = r.standard_normal((2, 3, 11))
    check(lambda a: F.max_pool1d(a, **kw), lambda a: TF.max_pool1d(a, **kw), [x])
    check(lambda a: F.max_pool1d(a, return_indices=True, **kw),
          lambda a: TF.max_pool1d(a, return_indices=True, **kw), [x])
    check(dl.nn.MaxPool1d(**kw), torch.nn.MaxPool1d(**kw), [x[0]])  # unbatched
    gradcheck(lambda a: F.max_pool1d(a, **kw), [x])


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=4, stride=3, padding=2, ceil_mode=True,
                                     count_include_pad=False)])
def test_avg_pool1d(r, kw):
    x = r.standard_normal((2, 3, 12))
    check(lambda a: F.avg_pool1d(a, **kw), lambda a: TF.avg_pool1d(a, **kw), [x])
    check(dl.nn.AvgPool1d(**kw), torch.nn.AvgPool1d(**kw), [x])
    gradcheck(lambda a: F.avg_pool1d(a, **kw), [x])


@pytest.mark.parametrize("size", [1, 4, 5, 13])
def test_adaptive_pool1d(r, size):
    x = r.standard_normal((2, 3, 13))
    check(lambda a: F.adaptive_avg_pool1d(a, size), lambda a: TF.adaptive_avg_pool1d(a, size), [x])
    check(dl.nn.AdaptiveAvgPool1d(size), torch.nn.AdaptiveAvgPool1d(size), [x[1]])
    check(lambda a: F.adaptive_max_pool1d(a, size, True),
          lambda a: TF.adaptive_max_pool1d(a, size, True), [x])
    check(dl.nn.AdaptiveMaxPool1d(size), torch.nn.AdaptiveMaxPool1d(size), [x])


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), dilation=(2, 1, 1)),
                                dict(kernel_size=3, stride=2, ceil_mode=True)])
def test_max_pool3d(r, kw):
    x = r.standard_normal((2, 3, 6, 7, 5))
    check(lambda a: F.max_pool3d(a, **kw), lambda a: TF.max_pool3d(a, **kw), [x])
    check(lambda a: F.max_pool3d(a, return_indices=True, **kw),
          lambda a: TF.max_pool3d(a, return_indices=True, **kw), [x])
    check(dl.nn.MaxPool3d(**kw), torch.nn.MaxPool3d(**kw), [x[0]])
    gradcheck(lambda a: F.max_pool3d(a, **kw), [x[:1, :2]])


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, padding=1,
                                     count_include_pad=False),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                     count_include_pad=False),
                                dict(kernel_size=2, divisor_override=3)])
def test_avg_pool3d(r, kw):
    x = r.standard_normal((2, 3, 6, 7, 5))
    check(lambda a: F.avg_pool3d(a, **kw), lambda a: TF.avg_pool3d(a, **kw), [x])
    check(dl.nn.AvgPool3d(**kw), torch.nn.AvgPool3d(**kw), [x])
    gradcheck(lambda a: F.avg_pool3d(a, **kw), [x[:1, :2]])


@pytest.mark.parametrize("size", [1, (2, 3, 4), (None, 2, 5)])
def test_adaptive_pool3d(r, size):
    x = r.standard_normal((2, 2, 5, 6, 7))
    check(lambda a: F.adaptive_avg_pool3d(a, size), lambda a: TF.adaptive_avg_pool3d(a, size), [x])
    check(lambda a: F.adaptive_max_pool3d(a, size, True),
          lambda a: TF.adaptive_max_pool3d(a, size, True), [x])
    check(dl.nn.AdaptiveAvgPool3d(size), torch.nn.AdaptiveAvgPool3d(size), [x])


def test_float32_layers(r):
    x = r.standard_normal((2, 3, 5, 6, 7)).astype(np.float32)
    check(dl.nn.MaxPool3d(2), torch.nn.MaxPool3d(2), [x], rtol=1e-6, atol=1e-6)
    check(dl.nn.AvgPool3d(2), torch.nn.AvgPool3d(2), [x], rtol=1e-5, atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match=r"3-D \(N, C, L\)"):
        F.max_pool1d(dl.randn(2, 3, 4, 5), 2)
    with pytest.raises(ValueError, match=r"5-D \(N, C, D, H, W\)"):
        F.avg_pool3d(dl.randn(2, 3, 4), 2)
    with pytest.raises(TypeError, match="kernel_size"):
        F.max_pool3d(dl.randn(1, 1, 4, 4, 4), (2, 2))
    with pytest.raises(ValueError, match="divisor_override"):
        F.avg_pool3d(dl.randn(1, 1, 4, 4, 4), 2, divisor_override=0)
    with pytest.raises(TypeError, match="float32 or float64"):
        F.avg_pool1d(dl.tensor(np.ones((1, 1, 4), dtype=np.int64)), 2)
