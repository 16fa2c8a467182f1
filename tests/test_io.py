"""dl.save / dl.load: safetensors round trips, nested optimizer states, atomic writes, errors."""
import math
import os
from collections import OrderedDict

import numpy as np
import pytest

import dlcore as dl
from dlcore import nn


def _model():
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))


def test_state_dict_round_trip(tmp_path):
    m = _model()
    path = tmp_path / "model.safetensors"
    dl.save(m.state_dict(), path)
    sd = dl.load(path)
    assert isinstance(sd, OrderedDict)
    assert list(sd) == list(m.state_dict())  # the saved order, not the file's sorted order
    for k, v in m.state_dict().items():
        assert isinstance(sd[k], dl.Tensor)
        assert sd[k].dtype == v.dtype and sd[k].shape == v.shape
        np.testing.assert_array_equal(sd[k].numpy(), v.numpy())
    m2 = _model()
    m2.load_state_dict(sd)
    x = dl.randn(4, 5)
    with dl.no_grad():
        np.testing.assert_array_equal(m(x).numpy(), m2(x).numpy())
    arrays = dl.load(str(path), as_array=True)
    assert all(isinstance(v, np.ndarray) for v in arrays.values())


def test_dtypes_shapes_and_layouts(tmp_path):
    sd = {"f16": np.arange(6, dtype=np.float16).reshape(2, 3),
          "f64": np.linspace(0, 1, 5),
          "i64": np.array([-(2 ** 62), 2 ** 62]),
          "u8": np.arange(256, dtype=np.uint8),
          "b": np.array([True, False, True]),
          "scalar": np.array(3, dtype=np.int64),          # 0-d, e.g. num_batches_tracked
          "empty": np.zeros((0, 4), np.float32),
          "transposed": np.arange(12, dtype=np.float32).reshape(3, 4).T,   # not contiguous
          "big_endian": np.arange(4, dtype=">f4")}
    path = tmp_path / "t.safetensors"
    dl.save(sd, path)
    back = dl.load(path, as_array=True)
    for k, v in sd.items():
        assert back[k].shape == v.shape, k
        assert back[k].dtype == v.dtype.newbyteorder("=") or back[k].dtype == v.dtype, k
        np.testing.assert_array_equal(back[k], v)
    assert back["scalar"].ndim == 0


def test_file_is_plain_safetensors(tmp_path):
    from safetensors.numpy import load_file
    m = _model()
    path = tmp_path / "m.safetensors"
    dl.save(m.state_dict(), path, metadata={"note": "hello"})
    raw = load_file(str(path))
    assert set(raw) == set(m.state_dict())
    np.testing.assert_array_equal(raw["0.weight"], m[0].weight.numpy())
    assert dl.io.read_metadata(path) == {"note": "hello"}


def test_nested_optimizer_like_state_round_trip(tmp_path):
    shared = dl.randn(3)
    state = {
        "state": {0: {"step": 12, "exp_avg": dl.randn(2, 3), "exp_avg_sq": dl.rand(2, 3),
                      "max": np.float32(1.5)},
                  1: {"step": 12.0, "momentum_buffer": None, "same": shared, "again": shared}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                          "amsgrad": False, "maximize": False, "foreach": None,
                          "params": [0, 1], "name": "body", "nan": float("nan"),
                          "inf": -math.inf, "huge": 2 ** 80, "tiny": 5e-324}],
        "ordered": OrderedDict([("b", 1), ("a", [1, (2, 3)])]),
        "array": np.arange(5, dtype=np.int32),
        "param": nn.Parameter(dl.ones(2)),
    }
    path = tmp_path / "opt.safetensors"
    dl.save(state, path)
    back = dl.load(path)
    s0, s1 = back["state"][0], back["state"][1]
    assert set(back["state"]) == {0, 1}  # int keys stay ints
    assert s0["step"] == 12 and isinstance(s0["step"], int)
    assert s1["step"] == 12.0 and isinstance(s1["step"], float)
    np.testing.assert_array_equal(s0["exp_avg"].numpy(), state["state"][0]["exp_avg"].numpy())
    assert isinstance(s0["exp_avg"], dl.Tensor)
    assert type(s0["max"]) is np.float32 and s0["max"] == np.float32(1.5)
    assert s1["momentum_buffer"] is None
    assert s1["same"] is s1["again"]  # one tensor referenced twice stays one tensor
    g = back["param_groups"][0]
    assert g["betas"] == (0.9, 0.999) and isinstance(g["betas"], tuple)
    assert g["params"] == [0, 1] and g["foreach"] is None and g["amsgrad"] is False
    assert math.isnan(g["nan"]) and g["inf"] == -math.inf
    assert g["huge"] == 2 ** 80 and g["tiny"] == 5e-324 and g["lr"] == 1e-3
    assert type(back["ordered"]) is OrderedDict and list(back["ordered"]) == ["b", "a"]
    assert back["ordered"]["a"] == [1, (2, 3)]
    assert isinstance(back["array"], np.ndarray) and back["array"].dtype == np.int32
    assert isinstance(back["param"], nn.Parameter) and back["param"].requires_grad
    raw = dl.load(path, as_array=True)
    assert isinstance(raw["state"][0]["exp_avg"], np.ndarray)


def test_real_optimizer_state_round_trip(tmp_path):
    from dlcore import optim
    dl.manual_seed(0)
    m = _model()
    opt = optim.Adam(m.parameters(), lr=0.01)
    x, y = dl.randn(8, 5), dl.randint(0, 3, (8,))
    for _ in range(3):
        opt.zero_grad()
        nn.CrossEntropyLoss()(m(x), y).backward()
        opt.step()
    dl.save(opt.state_dict(), tmp_path / "adam.safetensors")
    dl.save(m.state_dict(), tmp_path / "m.safetensors")
    m2 = _model()
    m2.load_state_dict(dl.load(tmp_path / "m.safetensors"))
    opt2 = optim.Adam(m2.parameters(), lr=0.5)
    opt2.load_state_dict(dl.load(tmp_path / "adam.safetensors"))
    for model, o in ((m, opt), (m2, opt2)):
        o.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        o.step()
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    good = {"w": np.arange(4, dtype=np.float32)}
    dl.save(good, path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        dl.save({"w": np.zeros(1000, np.float32)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # no temporary file left behind
    with pytest.raises(TypeError, match="cannot save a set"):
        dl.save({"w": dl.zeros(2), "bad": {1, 2}}, path)
    assert path.read_bytes() == before
    np.testing.assert_array_equal(dl.load(path)["w"].numpy(), good["w"])


@pytest.mark.parametrize("content", [b"", b"not a safetensors file at all",
                                     b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":1}",
                                     b"\x80\x04\x95 pickle-ish bytes"])
def test_non_safetensors_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "weights.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="weights.pt.*not a valid safetensors file"):
        dl.load(path)


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "cut.safetensors"
    dl.save(_model().state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(ValueError, match="cut.safetensors"):
        dl.load(path)


def test_save_load_argument_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        dl.load(tmp_path / "missing.safetensors")
    with pytest.raises(IsADirectoryError):
        dl.load(tmp_path)
    with pytest.raises(TypeError, match="state_dict"):
        dl.save(_model(), tmp_path / "m.safetensors")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        dl.save({"a": dl.zeros(1)}, tmp_path / "nope" / "m.safetensors")
    with pytest.raises(TypeError, match="dtype"):
        dl.save({"a": np.array(["x"])}, tmp_path / "s.safetensors")
    with pytest.raises(ValueError, match="reserved"):
        dl.save({"a": dl.zeros(1)}, tmp_path / "m.safetensors", metadata={"dlcore.kind": "x"})
    with pytest.raises(ValueError, match="map_location"):
        dl.load(tmp_path / "m.safetensors", map_location="cuda")


def test_torch_reads_our_state_dict(tmp_path, torch):
    from safetensors.torch import load_file
    m = _model()
    path = tmp_path / "m.safetensors"
    dl.save(m.state_dict(), path)
    tm = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    tm.load_state_dict(load_file(str(path)))
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    with dl.no_grad():
        ours = m(dl.tensor(x)).numpy()
    np.testing.assert_allclose(tm(torch.from_numpy(x)).detach().numpy(), ours, rtol=1e-5,
                               atol=1e-6)


def test_killed_writer_leaves_a_temp_file_the_next_save_removes(tmp_path):
    """A process killed between writing and renaming leaves `.<name>.<pid>.<random>.tmp`; the
    next save to that destination removes it (its process is dead) but not a live one's."""
    import subprocess
    import sys
    path = tmp_path / "ckpt.safetensors"
    dl.save({"w": np.arange(3, dtype=np.float32)}, path)
    child = ("import os, sys, numpy as np, dlcore as dl\n"
             "os.replace = lambda *a: os._exit(9)\n"   # dies just before the rename
             "dl.save({'w': np.zeros(5, np.float32)}, sys.argv[1])\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", child, str(path)], cwd=root, timeout=120,
                          capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    left = [p.name for p in tmp_path.iterdir() if p.name != "ckpt.safetensors"]
    assert len(left) == 1 and left[0].startswith(".ckpt.safetensors.") and left[0].endswith(
        ".tmp"), left
    assert left[0].split(".")[3].isdigit()          # the dead writer's pid
    np.testing.assert_array_equal(dl.load(path)["w"].numpy(), np.arange(3))  # old file intact
    live = tmp_path / (".ckpt.safetensors.%d.0123abcd.tmp" % os.getppid())
    live.write_bytes(b"a concurrent writer's")
    other = tmp_path / ".other.safetensors.999999999.0123abcd.tmp"
    other.write_bytes(b"another destination's")
    dl.save({"w": np.ones(2, np.float32)}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["ckpt.safetensors", live.name, other.name])
    np.testing.assert_array_equal(dl.load(path)["w"].numpy(), np.ones(2))


@pytest.mark.parametrize("proto", [2, 5])
def test_header_length_that_looks_like_a_pickle(tmp_path, proto):
    """A safetensors file whose header length is 128 mod 256 starts with 0x80 PROTO, a pickle's
    first two bytes: every loader must still read it as safetensors."""
    from safetensors.numpy import load_file as package_load_file
    from dlcore import weights
    path = tmp_path / "odd.safetensors"
    sd = OrderedDict([("b", np.arange(6, dtype=np.float32).reshape(2, 3)),
                      ("a", np.array([1, -2], dtype=np.int64))])
    target = 0x80 + 256 * proto
    pad = 0
    for _ in range(3):    # the header grows by exactly the padding (both are multiples of 8)
        dl.save(sd, path, metadata={"pad": "x" * pad})
        n = int.from_bytes(path.read_bytes()[:8], "little")
        if n == target:
            break
        pad += target - n
    assert path.read_bytes()[:2] == bytes([0x80, proto])
    assert weights.detect_format(path) == "safetensors"
    loaders = {"dl.load": lambda p: {k: v.numpy() for k, v in dl.load(p).items()},
               "dl.load(as_array)": lambda p: dl.load(p, as_array=True),
               "dl.io.load_file": dl.io.load_file,
               "dl.weights.load_file": weights.load_file,
               "dl.weights.load_safetensors": weights.load_safetensors,
               "safetensors package": lambda p: package_load_file(str(p))}
    for name, load in loaders.items():
        back = load(path)
        assert set(back) == set(sd), name
        for k, v in sd.items():
            np.testing.assert_array_equal(back[k], v, err_msg=name)
    assert list(dl.load(path)) == ["b", "a"]      # the saved order, not the file's
    assert dl.io.read_metadata(path)["pad"] == "x" * pad


def test_io_names_are_the_weights_ones(tmp_path):
    from dlcore import weights
    assert dl.io.load_file is weights.load_file
    path = tmp_path / "m.safetensors"
    dl.io.save_file({"w": np.arange(4, dtype=np.float32), "v": np.zeros(2)}, path,
                    metadata={"k": "v"})
    assert set(dl.io.load_file(path)) == {"w", "v"}
    assert list(dl.io.load_file(path, names=["v"])) == ["v"]
    assert dl.io.read_metadata(path) == {"k": "v"}
    with pytest.raises(KeyError, match="nope"):
        dl.io.load_file(path, names=["nope"])
