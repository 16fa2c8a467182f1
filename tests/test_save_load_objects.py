"""dl.save / dl.load with file objects and whole modules, as torch.save / torch.load are used:
paths and BytesIO, state_dicts and optimizer states round-trip without any pickle, a whole
Module comes back only with weights_only=False."""
import io
import pickle

import numpy as np
import pytest

import dlcore as dl
from dlcore import nn


class SmallNet(nn.Module):
    """Module-level (importable) class with plain attributes, a buffer and a function."""

    def __init__(self, hidden=7):
        super().__init__()
        self.hidden = hidden
        self.name = "small"
        self.kernel = (3, 3)
        self.fc1 = nn.Linear(5, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, 2)
        self.act = nn.functional.relu
        self.register_buffer("steps", dl.tensor(3))

    def forward(self, x):
        return self.fc2(self.act(self.bn(self.fc1(x))))


def _roundtrip(obj, **load_kw):
    buf = io.BytesIO()
    dl.save(obj, buf)
    buf.seek(0)
    return dl.load(buf, **load_kw)


def test_state_dict_through_bytesio_and_file_object(tmp_path):
    m = SmallNet()
    sd = m.state_dict()
    back = _roundtrip(sd)
    assert list(back) == list(sd)
    for k in sd:
        np.testing.assert_array_equal(back[k].numpy(), sd[k].numpy())
    path = tmp_path / "ckpt.pt"
    with open(path, "wb") as f:
        dl.save(sd, f)
    with open(path, "rb") as f:
        again = dl.load(f)
    assert list(again) == list(sd)
    # a path written by a file object is a plain safetensors file
    assert path.read_bytes()[8:9] == b"{"


def test_nested_checkpoint_dict_round_trips(tmp_path):
    m = SmallNet()
    opt = dl.optim.Adam(m.parameters(), lr=1e-3)
    m(dl.randn(4, 5)).sum().backward()
    opt.step()
    ckpt = {"epoch": 3, "model": m.state_dict(), "optimizer": opt.state_dict(),
            "best": 0.25, "note": "run-1", "extra": None, "hist": [1.5, (2, "a")]}
    back = _roundtrip(ckpt)
    assert back["epoch"] == 3 and back["best"] == 0.25 and back["note"] == "run-1"
    assert back["extra"] is None and back["hist"] == [1.5, (2, "a")]
    opt2 = dl.optim.Adam(SmallNet().parameters(), lr=1e-3)
    opt2.load_state_dict(back["optimizer"])
    m2 = SmallNet()
    m2.load_state_dict(back["model"])
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    dl.save(ckpt, tmp_path / "c.pt")
    assert dl.load(tmp_path / "c.pt")["epoch"] == 3


def test_whole_module_needs_weights_only_false(tmp_path):
    dl.manual_seed(0)
    m = SmallNet(hidden=6)
    m.eval()
    x = dl.randn(3, 5)
    path = tmp_path / "model.pt"
    dl.save(m, path)
    with pytest.raises(pickle.UnpicklingError, match="weights_only=False"):
        dl.load(path)
    with pytest.raises(pickle.UnpicklingError):
        dl.load(path, weights_only=True)
    back = dl.load(path, weights_only=False)
    assert type(back) is SmallNet and back is not m
    assert back.hidden == 6 and back.name == "small" and back.kernel == (3, 3)
    assert back.act is nn.functional.relu and not back.training
    assert back.steps.item() == 3
    assert [k for k, _ in back.named_parameters()] == [k for k, _ in m.named_parameters()]
    with dl.no_grad():
        np.testing.assert_array_equal(back(x).numpy(), m(x).numpy())
    # the rebuilt module trains: parameters are leaves that take gradients
    back.train()
    back(x).sum().backward()
    assert back.fc1.weight.grad is not None
    # and through a BytesIO, nested in a dict
    got = _roundtrip({"model": m, "epoch": 1}, weights_only=False)
    assert isinstance(got["model"], SmallNet) and got["epoch"] == 1


def test_standard_modules_round_trip():
    for m in (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)),
              nn.LSTM(3, 4, num_layers=2, batch_first=True),
              nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)):
        m.eval()
        back = _roundtrip(m, weights_only=False)
        assert type(back) is type(m)
        x = dl.randn(2, 5, 3) if isinstance(m, nn.LSTM) else dl.randn(2, 3 if
                                                                      isinstance(m, nn.Sequential)
                                                                      else 8)
        if isinstance(m, nn.TransformerEncoderLayer):
            x = dl.randn(2, 4, 8)
        with dl.no_grad():
            a, b = m(x), back(x)
        a = a[0] if isinstance(a, tuple) else a
        b = b[0] if isinstance(b, tuple) else b
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_unsaveable_module_attribute_is_named():
    m = SmallNet()
    m.callback = lambda x: x
    with pytest.raises(TypeError, match="callback"):
        dl.save(m, io.BytesIO())


def test_load_refuses_pickles_and_text_files():
    buf = io.BytesIO(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="never pickle"):
        dl.load(buf)
    with pytest.raises(TypeError):
        dl.save({"a": dl.ones(1)}, 42)
    with pytest.raises(TypeError, match="binary"):
        dl.load(io.StringIO("x"))


def test_torch_reads_a_bytesio_state_dict(torch):
    from safetensors.torch import load as st_load
    m = SmallNet()
    buf = io.BytesIO()
    dl.save(m.state_dict(), buf)
    sd = st_load(buf.getvalue())
    assert set(sd) == set(m.state_dict())
    np.testing.assert_array_equal(sd["fc1.weight"].numpy(), m.fc1.weight.numpy())
