"""The padding layers (ZeroPad/ConstantPad/ReflectionPad/ReplicationPad/CircularPad 1-3d)
against torch, and dropout1d/2d/3d's channel masks, including dropout2d's legacy reading of a
3-D input as (N, C, L) with torch's warning."""
import warnings

import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from _torch_parity import check

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name,n,pad", [("ZeroPad2d", 2, (1, 2, 0, 1)), ("ConstantPad1d", 1, 2),
                                        ("ConstantPad3d", 3, 1), ("ReflectionPad1d", 1, (2, 1)),
                                        ("ReflectionPad2d", 2, 2), ("ReplicationPad2d", 2, 1),
                                        ("ReplicationPad3d", 3, (1, 0, 1, 0, 0, 1)),
                                        ("CircularPad2d", 2, 1), ("ZeroPad1d", 1, 3)])
def test_padding_layers_match_torch(name, n, pad):
    x = np.random.default_rng(0).standard_normal((2, 3) + (4,) * n)
    args = (pad, 1.5) if name.startswith("Constant") else (pad,)
    check(getattr(dl.nn, name)(*args), getattr(torch.nn, name)(*args), [x])
    check(getattr(dl.nn, name)(*args), getattr(torch.nn, name)(*args), [x[0]])


def test_dropout2d_on_3d_input_is_channelwise_1d_with_torch_warning():
    x = dl.ones(6, 5, 40)
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        y = F.dropout2d(x, 0.5, training=True).numpy()
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        torch.nn.functional.dropout2d(torch.ones(6, 5, 40), 0.5)
    assert any("3D input to dropout2d" in str(w.message) for w in tw)
    # one decision per (row, channel): constant along the last dim, varying across dims 0, 1
    assert (y == y[:, :, :1]).all()
    assert len(np.unique(y[:, :, 0])) == 2 and set(np.unique(y)) <= {0.0, 2.0}
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        dl.nn.Dropout2d(0.5)(x)


def test_dropout2d_4d_and_2d_inputs():
    y = F.dropout2d(dl.ones(4, 6, 3, 3), 0.5).numpy()
    assert (y == y[:, :, :1, :1]).all()
    with pytest.warns(UserWarning, match="2-D input to dropout2d"):
        F.dropout2d(dl.ones(4, 6), 0.5)


def test_dropout1d_3d():
    y = F.dropout1d(dl.ones(4, 8, 10), 0.5).numpy()
    assert (y == y[..., :1]).all()
    y = dl.nn.Dropout1d(0.5)(dl.ones(8, 10)).numpy()  # unbatched (C, L)
    assert (y == y[:, :1]).all()
    y = dl.nn.Dropout3d(0.5)(dl.ones(2, 8, 2, 3, 4)).numpy()
    assert (y == y[:, :, :1, :1, :1]).all()
    m = dl.nn.Dropout3d(0.5)
    m.eval()
    assert (m(dl.ones(2, 3, 1, 1, 1)).numpy() == 1).all()
    with pytest.raises(ValueError, match="2-D"):
        F.dropout1d(dl.ones(2, 3, 4, 5))
