"""F.max_unpool1d / max_unpool3d and nn.MaxUnpool1d / MaxUnpool3d against torch, on the
indices max_pool1d/3d return (overlapping windows too), output_size, gradients, float64
finite differences, bad arguments."""
import numpy as np
import pytest

import dlcore as dl
from _torch_parity import check, gradcheck

torch = pytest.importorskip("torch")
F, TF = dl.nn.functional, torch.nn.functional


@pytest.mark.parametrize("n,shape,k,s,p", [
    (1, (2, 3, 9), 2, None, 0), (1, (3, 11), 3, 2, 1),
    (3, (2, 2, 4, 5, 6), 2, None, 0), (3, (1, 2, 5, 4, 5), (3, 2, 2), (2, 1, 2), (1, 0, 1)),
    (3, (2, 3, 3, 4), 2, 1, 0)])
def test_matches_torch_on_pool_indices(n, shape, k, s, p):
    x = np.random.default_rng(0).standard_normal(shape)
    tpool = getattr(TF, "max_pool%dd" % n)
    _, tidx = tpool(torch.tensor(x), k, s, p, return_indices=True)
    pooled = tpool(torch.tensor(x), k, s, p).numpy()
    idx = tidx.numpy()
    size = shape[-n:]   # the pooled input's size (the default can be smaller: odd sizes)
    check(lambda v: getattr(F, "max_unpool%dd" % n)(v, dl.tensor(idx), k, s, p, size),
          lambda v: getattr(TF, "max_unpool%dd" % n)(v, torch.tensor(idx), k, s, p, size),
          [pooled])
    # dlcore's own pooling indices drive it the same way
    _, didx = getattr(F, "max_pool%dd" % n)(dl.tensor(x), k, s, p, return_indices=True)
    np.testing.assert_array_equal(didx.numpy(), idx)
    if s is None:  # windows that do not overlap: every index distinct, so placement is linear
        gradcheck(lambda v: getattr(F, "max_unpool%dd" % n)(v, dl.tensor(idx), k, s, p, size),
                  [pooled])


def test_output_size_and_modules():
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 4, 7)).astype(np.float32)
    tp, tidx = TF.max_pool3d(torch.tensor(x), 2, return_indices=True)
    for size in [(5, 4, 7), [1, 2, 5, 4, 7]]:
        ours, theirs = dl.nn.MaxUnpool3d(2), torch.nn.MaxUnpool3d(2)
        assert repr(ours) == repr(theirs)
        y = ours(dl.tensor(tp.numpy()), dl.tensor(tidx.numpy()), output_size=size)
        ty = theirs(tp, tidx, output_size=size)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
    ours, theirs = dl.nn.MaxUnpool1d(3, 2, 1), torch.nn.MaxUnpool1d(3, 2, 1)
    assert repr(ours) == repr(theirs)
    x1 = np.random.default_rng(2).standard_normal((2, 3, 10)).astype(np.float32)
    tp, tidx = TF.max_pool1d(torch.tensor(x1), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(
        ours(dl.tensor(tp.numpy()), dl.tensor(tidx.numpy()), output_size=[10]).numpy(),
        theirs(tp, tidx, output_size=[10]).numpy())
    for lib in (dl, torch):
        with pytest.raises(ValueError):   # more than one stride off the default size
            lib.nn.functional.max_unpool1d(lib.zeros(1, 1, 4), lib.zeros(1, 1, 4).long(), 2,
                                           output_size=[12])


def test_bad_indices_and_shapes_raise():
    with pytest.raises(ValueError, match="outside"):
        F.max_unpool3d(dl.ones(1, 1, 1, 1, 2), dl.tensor(np.array([[[[[0, 99]]]]])), 1)
    with pytest.raises(ValueError, match="match"):
        F.max_unpool1d(dl.ones(1, 1, 3), dl.tensor(np.array([[[0, 1]]])), 2)
    with pytest.raises(ValueError):
        F.max_unpool3d(dl.ones(2, 2), dl.tensor(np.zeros((2, 2), np.int64)), 2)
