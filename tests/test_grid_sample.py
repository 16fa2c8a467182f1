"""affine_grid and grid_sample against torch: every mode / padding mode / align_corners,
gradients for input, grid and theta, float64 gradcheck, a spatial-transformer step, errors."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from _torch_parity import check, gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 5, 4), (1, 1, 1, 3), (2, 2, 3, 4, 5)])
def test_affine_grid_matches_torch(align, size):
    rng = np.random.default_rng(0)
    theta = rng.standard_normal((size[0], len(size) - 2, len(size) - 1))
    check(lambda t: F.affine_grid(t, size, align_corners=align),
          lambda t: TF.affine_grid(t, size, align_corners=align), [theta])


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_matches_torch(mode, padding_mode, align):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5, 6))
    grid = rng.uniform(-1.6, 1.6, (2, 4, 7, 2))  # some points outside [-1, 1]
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align)
    check(lambda a, g: F.grid_sample(a, g, **kw), lambda a, g: TF.grid_sample(a, g, **kw),
          [x, grid])
    if mode != "nearest":
        gradcheck(lambda a, g: F.grid_sample(a, g, **kw), [x[:1, :2], grid[:1, :2, :3]])


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_volume_matches_torch(mode, padding_mode, align):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4, 5, 6))
    grid = rng.uniform(-1.7, 1.7, (2, 3, 4, 5, 3))  # some points outside [-1, 1]
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align)
    check(lambda a, g: F.grid_sample(a, g, **kw), lambda a, g: TF.grid_sample(a, g, **kw),
          [x, grid])
    if mode == "bilinear":
        gradcheck(lambda a, g: F.grid_sample(a, g, **kw), [x[:1, :2, :3], grid[:1, :2, :2, :3]])


def test_grid_sample_volume_float32_and_unit_sizes_match_torch():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 2, 1, 3, 1)).astype(np.float32)  # size-1 axes: zero span
    grid = rng.uniform(-1.2, 1.2, (1, 2, 3, 4, 3)).astype(np.float32)
    for pad in ("zeros", "border", "reflection"):
        for align in (False, True):
            kw = dict(padding_mode=pad, align_corners=align)
            check(lambda a, g: F.grid_sample(a, g, **kw),
                  lambda a, g: TF.grid_sample(a, g, **kw), [x, grid], rtol=1e-5, atol=1e-6)


def test_volume_transformer_matches_torch():
    # affine_grid's 5-D grid into the volume sampler: theta's gradient through both
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 4, 5, 3))
    theta = np.tile(np.eye(3, 4), (2, 1, 1)) + 0.2 * rng.standard_normal((2, 3, 4))

    def ours(a, t):
        return F.grid_sample(a, F.affine_grid(t, (2, 2, 3, 4, 5), align_corners=False),
                             align_corners=False, padding_mode="reflection")

    def theirs(a, t):
        return TF.grid_sample(a, TF.affine_grid(t, (2, 2, 3, 4, 5), align_corners=False),
                              align_corners=False, padding_mode="reflection")
    check(ours, theirs, [x, theta])
    gradcheck(ours, [x, theta])


def test_volume_errors_as_torch():
    x = np.zeros((1, 1, 2, 2, 2))
    for lib, f in ((dl, F), (torch, TF)):
        with pytest.raises((ValueError, RuntimeError), match="bicubic"):
            f.grid_sample(lib.tensor(x), lib.tensor(np.zeros((1, 1, 1, 1, 3))), mode="bicubic")
        with pytest.raises((ValueError, RuntimeError), match="grid"):
            f.grid_sample(lib.tensor(x), lib.tensor(np.zeros((1, 1, 1, 2))))


def test_spatial_transformer_float32_matches_torch():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    theta = (np.tile(np.eye(2, 3), (2, 1, 1)) + 0.1 * rng.standard_normal((2, 2, 3))
             ).astype(np.float32)

    def ours(a, t):
        return F.grid_sample(a, F.affine_grid(t, a.shape, align_corners=False),
                             align_corners=False)

    def theirs(a, t):
        return TF.grid_sample(a, TF.affine_grid(t, a.shape, align_corners=False),
                              align_corners=False)
    check(ours, theirs, [x, theta], rtol=1e-4, atol=1e-5)


def test_errors():
    x = dl.randn(1, 2, 3, 3)
    with pytest.raises(ValueError, match="mode must be"):
        F.grid_sample(x, dl.zeros(1, 2, 2, 2), mode="lanczos")
    with pytest.raises(ValueError, match="padding_mode"):
        F.grid_sample(x, dl.zeros(1, 2, 2, 2), padding_mode="wrap")
    with pytest.raises(ValueError, match="grid must have shape"):
        F.grid_sample(x, dl.zeros(1, 2, 2, 3))
    with pytest.raises(ValueError, match="theta must have shape"):
        F.affine_grid(dl.zeros(1, 3, 3), (1, 1, 4, 4))
