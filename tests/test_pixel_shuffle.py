"""pixel_shuffle / pixel_unshuffle / channel_shuffle and their layers against torch."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from _torch_parity import check, gradcheck

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("shape,r", [((2, 8, 3, 5), 2), ((9, 2, 3), 3), ((2, 2, 4, 2, 3), 1),
                                     ((1, 2, 18, 1, 1), 3)])
def test_pixel_shuffle_roundtrip_matches_torch(shape, r):
    x = np.random.default_rng(0).standard_normal(shape)
    check(lambda a: F.pixel_shuffle(a, r), lambda a: torch.nn.functional.pixel_shuffle(a, r), [x])
    check(dl.nn.PixelShuffle(r), torch.nn.PixelShuffle(r), [x])
    y = F.pixel_shuffle(dl.tensor(x), r)
    np.testing.assert_array_equal(F.pixel_unshuffle(y, r).numpy(), x)
    check(dl.nn.PixelUnshuffle(r), torch.nn.PixelUnshuffle(r), [y.numpy()])
    gradcheck(lambda a: F.pixel_shuffle(a, r), [x])


def test_channel_shuffle_matches_torch():
    x = np.random.default_rng(1).standard_normal((2, 6, 3, 2))
    check(dl.nn.ChannelShuffle(3), torch.nn.ChannelShuffle(3), [x])


def test_errors():
    with pytest.raises(ValueError, match="divisible by upscale_factor"):
        F.pixel_shuffle(dl.randn(1, 5, 2, 2), 2)
    with pytest.raises(ValueError, match="divisible by downscale_factor"):
        F.pixel_unshuffle(dl.randn(1, 1, 3, 4), 2)
    with pytest.raises(ValueError, match="positive int"):
        F.pixel_shuffle(dl.randn(1, 4, 2, 2), 0)
    with pytest.raises(ValueError, match="at least 3 dims"):
        F.pixel_shuffle(dl.randn(4, 2), 2)
