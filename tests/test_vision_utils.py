"""dl.vision.utils.make_grid / save_image: torchvision's tiling rules (nrow, padding,
pad_value, 1-channel images made RGB, normalize / value_range / scale_each)."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.vision.utils import make_grid, save_image


def _ref_grid(a, nrow, pad, pad_value):
    n, c, h, w = a.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    g = np.full((c, rows * (h + pad) + pad, cols * (w + pad) + pad), pad_value, a.dtype)
    for k in range(n):
        r, q = divmod(k, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        g[:, y:y + h, x:x + w] = a[k]
    return g


@pytest.mark.parametrize("n,nrow,pad", [(5, 2, 2), (7, 8, 0), (3, 1, 3), (10, 4, 1)])
def test_grid_layout(n, nrow, pad):
    a = np.random.default_rng(n).random((n, 3, 5, 4)).astype(np.float32)
    g = make_grid(dl.tensor(a), nrow=nrow, padding=pad, pad_value=0.25)
    np.testing.assert_array_equal(g.numpy(), _ref_grid(a, nrow, pad, 0.25))


def test_single_channel_becomes_rgb_and_single_image_is_unpadded():
    a = np.random.default_rng(0).random((4, 1, 3, 3)).astype(np.float32)
    g = make_grid(dl.tensor(a), nrow=2).numpy()
    assert g.shape == (3, 2 * 5 + 2, 2 * 5 + 2)
    np.testing.assert_array_equal(g[0], g[2])
    one = make_grid(dl.tensor(a[0]))  # (1, H, W): three channels, no padding
    assert tuple(one.shape) == (3, 3, 3)
    assert tuple(make_grid(dl.tensor(a[0, 0])).shape) == (3, 3, 3)


def test_normalize_range_and_scale_each():
    a = np.stack([np.full((1, 2, 2), v, np.float32) for v in (-1.0, 3.0)])
    a[0, 0, 0, 0], a[1, 0, 0, 0] = -3.0, 5.0
    g = make_grid(dl.tensor(a), normalize=True, padding=0).numpy()
    assert g.min() == 0 and g.max() == 1 and np.isclose(g[0, 0, 3], (3.0 + 3) / 8)
    g = make_grid(dl.tensor(a), normalize=True, scale_each=True, padding=0).numpy()
    np.testing.assert_allclose(g[0, 0, :2], [0, 1])  # each image to its own [min, max]
    g = make_grid(dl.tensor(a), normalize=True, value_range=(-1, 1), padding=0).numpy()
    np.testing.assert_allclose(g[0, 0, :2], [0.0, 0.0])  # -3 clamped to -1
    with pytest.raises(TypeError, match="value_range"):
        make_grid(dl.tensor(a), normalize=True, value_range=3)
    with pytest.raises(ValueError, match="5-D"):
        make_grid(dl.zeros(1, 1, 1, 1, 1))


def test_save_image_round_trips(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    a = np.random.default_rng(1).random((6, 3, 4, 5)).astype(np.float32)
    p = tmp_path / "g.png"
    save_image(dl.tensor(a), p, nrow=3)
    img = np.asarray(Image.open(p))
    ref = np.clip(_ref_grid(a, 3, 2, 0.0) * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(img, ref)
