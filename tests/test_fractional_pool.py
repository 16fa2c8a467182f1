"""F.fractional_max_pool2d/3d and nn.FractionalMaxPool2d/3d against torch with the same
_random_samples (values and indices exactly, float32 and float64), gradients, float64 finite
differences, drawn samples, bad arguments."""
import numpy as np
import pytest

import dlcore as dl
from _torch_parity import check, gradcheck

torch = pytest.importorskip("torch")
F, TF = dl.nn.functional, torch.nn.functional


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,shape,k,out,ratio", [
    (2, (2, 3, 11, 9), (3, 2), (5, 4), None), (2, (2, 3, 10, 10), 2, None, (0.5, 0.5)),
    (2, (3, 7, 8), 2, (3, 3), None), (2, (1, 1, 5, 5), 2, 1, None),
    (3, (1, 2, 7, 8, 9), (2, 3, 2), (3, 4, 5), None), (3, (2, 5, 6, 7), 2, None, (0.5, 0.6, 0.7))])
def test_same_samples_same_result_as_torch(dtype, n, shape, k, out, ratio):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    batch = 1 if len(shape) == n + 1 else shape[0]
    u = rng.random((batch, shape[-n - 1], n)).astype(dtype)
    name = "fractional_max_pool%dd" % n
    ty, ti = getattr(TF, name)(torch.tensor(x), k, out, ratio, True,
                               _random_samples=torch.tensor(u))
    y, i = getattr(F, name)(dl.tensor(x), k, out, ratio, True, _random_samples=dl.tensor(u))
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    u64 = u.astype(np.float64)
    check(lambda v: getattr(F, name)(v, k, out, ratio, _random_samples=dl.tensor(u64)),
          lambda v: getattr(TF, name)(v, k, out, ratio, _random_samples=torch.tensor(u64)),
          [x.astype(np.float64)])


def test_gradcheck_and_modules():
    rng = np.random.default_rng(1)
    u = rng.random((1, 2, 2))
    gradcheck(lambda v: F.fractional_max_pool2d(v, 2, (3, 3), _random_samples=dl.tensor(u)),
              [rng.standard_normal((1, 2, 7, 6))])
    u3 = rng.random((1, 1, 3))
    ours = dl.nn.FractionalMaxPool3d(2, output_size=3, _random_samples=dl.tensor(u3))
    theirs = torch.nn.FractionalMaxPool3d(2, output_size=3, _random_samples=torch.tensor(u3))
    x = rng.standard_normal((1, 1, 6, 5, 7))
    np.testing.assert_array_equal(ours(dl.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())
    dl.manual_seed(0)
    m = dl.nn.FractionalMaxPool2d(3, output_ratio=0.5, return_indices=True)
    y, idx = m(dl.randn(2, 3, 13, 12))
    assert y.shape == (2, 3, 6, 6) and idx.shape == (2, 3, 6, 6)
    y2, _ = m(dl.randn(2, 3, 13, 12))   # fresh samples per call
    assert y2.shape == y.shape


@pytest.mark.parametrize("make", [
    lambda L: L.nn.FractionalMaxPool2d(2),
    lambda L: L.nn.FractionalMaxPool2d(2, output_size=3, output_ratio=0.5),
    lambda L: L.nn.FractionalMaxPool2d(2, output_ratio=1.5),
])
def test_bad_module_arguments_raise_like_torch(make):
    for lib in (dl, torch):
        with pytest.raises(ValueError):
            make(lib)


def test_bad_sizes_raise():
    for lib in (dl, torch):
        with pytest.raises((ValueError, RuntimeError)):
            lib.nn.functional.fractional_max_pool2d(lib.zeros(1, 1, 4, 4), 3, output_size=3)
