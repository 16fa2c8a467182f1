"""nn.functional's remaining spellings (the *_with_indices pools, selu_/celu_/rrelu_,
upsample_nearest/upsample_bilinear, pdist) and nn.Softmax2d, against torch as the oracle."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(8)
X1 = RNG.standard_normal((2, 3, 9)).astype(np.float32)
X2 = RNG.standard_normal((2, 3, 7, 6)).astype(np.float32)
X3 = RNG.standard_normal((1, 2, 5, 6, 4)).astype(np.float32)

CASES = {
    "max_pool1d_with_indices": lambda f, t: f.max_pool1d_with_indices(t(X1), 3, 2, 1),
    "max_pool2d_with_indices": lambda f, t: f.max_pool2d_with_indices(t(X2), 2, ceil_mode=True),
    "max_pool3d_with_indices": lambda f, t: f.max_pool3d_with_indices(t(X3), 2),
    "adaptive_max_pool1d_with_indices": lambda f, t: f.adaptive_max_pool1d_with_indices(t(X1), 4),
    "adaptive_max_pool2d_with_indices": lambda f, t: f.adaptive_max_pool2d_with_indices(t(X2),
                                                                                        (3, 2)),
    "adaptive_max_pool3d_with_indices": lambda f, t: f.adaptive_max_pool3d_with_indices(t(X3),
                                                                                        2),
    "upsample_nearest": lambda f, t: f.upsample_nearest(t(X2), scale_factor=2),
    "upsample_nearest_size": lambda f, t: f.upsample_nearest(t(X1), size=13),
    "upsample_bilinear": lambda f, t: f.upsample_bilinear(t(X2), size=(9, 11)),
    "pdist": lambda f, t: f.pdist(t(X2[0, 0])),
    "pdist_p1": lambda f, t: f.pdist(t(X2[0, 0]), 1.0),
}


def _flat(r):
    return list(r) if isinstance(r, tuple) else [r]


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    outs = []
    for f, lib in ((F, dl), (TF, torch)):
        leaves = []

        def t(a):
            x = lib.tensor(a, requires_grad=True)
            leaves.append(x)
            return x
        res = _flat(CASES[name](f, t))
        res[0].square().sum().backward()
        outs.append((res, leaves[0].grad))
    (ours, og), (theirs, tg) = outs
    assert len(ours) == len(theirs)
    for o, th in zip(ours, theirs):
        assert str(o.dtype) == str(th.dtype)[6:], name
        np.testing.assert_allclose(o.detach().numpy(), th.detach().numpy(), rtol=1.3e-6,
                                   atol=1e-5, err_msg=name)
    np.testing.assert_allclose(og.numpy(), tg.numpy(), rtol=1.3e-6, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("name", ["selu_", "celu_", "rrelu_"])
def test_inplace_activations_write_into_the_input(name):
    res = []
    for f, lib in ((F, dl), (TF, torch)):
        x = lib.tensor(X1)
        out = getattr(f, name)(x)
        assert out is x
        res.append(x.numpy().copy())
    np.testing.assert_allclose(res[0], res[1], rtol=1.3e-6, atol=1e-6)


def test_pdist_errors_as_torch():
    for f, lib in ((F, dl), (TF, torch)):
        with pytest.raises(RuntimeError):
            f.pdist(lib.zeros(2, 3, 4))
        with pytest.raises(RuntimeError):
            f.pdist(lib.zeros(3, 4), -1.0)
        assert tuple(f.pdist(lib.zeros(1, 4)).shape) == (0,)


def test_softmax2d_as_torch():
    for x in (X2, X2[0]):
        ours = dl.nn.Softmax2d()(dl.tensor(x)).numpy()
        theirs = torch.nn.Softmax2d()(torch.tensor(x)).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError):
        dl.nn.Softmax2d()(dl.zeros(3, 4))
