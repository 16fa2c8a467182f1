"""Weight readers: safetensors, torch.save (zip + legacy) through a restricted unpickler, GGUF
with Q4_0/Q4_1/Q8_0 dequantisation, and key remapping."""
import collections
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

import dlcore as dl
from dlcore import weights as W


def _sample(rng):
    return collections.OrderedDict([
        ("w", rng.standard_normal((3, 5)).astype(np.float32)),
        ("b64", rng.standard_normal(7)),
        ("h", rng.standard_normal((2, 2)).astype(np.float16)),
        ("i", np.arange(-4, 5, dtype=np.int64)),
        ("i8", np.arange(-3, 3, dtype=np.int8)),
        ("u8", np.arange(6, dtype=np.uint8).reshape(2, 3)),
        ("mask", np.array([True, False, True])),
        ("empty", np.zeros((0, 4), np.float32)),
        ("scalar", np.array(2.5, np.float32)),
    ])


# ---- safetensors ---------------------------------------------------------------------------
def test_safetensors_roundtrip_and_library_agrees(tmp_path, rng):
    from safetensors.numpy import save_file, load_file
    sd = _sample(rng)
    p = tmp_path / "ours.safetensors"
    W.save_safetensors(sd, p, metadata={"format": "np"})
    ours, theirs = W.load_safetensors(p), load_file(str(p))
    assert W.safetensors_metadata(p) == {"format": "np"}
    for k, v in sd.items():
        assert ours[k].dtype == v.dtype and ours[k].shape == v.shape
        np.testing.assert_array_equal(ours[k], v)
        np.testing.assert_array_equal(theirs[k], v)
    assert ours["w"].flags.writeable
    q = tmp_path / "lib.safetensors"
    save_file(dict(sd), str(q))
    back = W.load_safetensors(q, names=["w", "mask"])
    assert list(back) == ["w", "mask"]
    np.testing.assert_array_equal(back["w"], sd["w"])


def test_safetensors_bf16_from_torch(tmp_path, torch):
    from safetensors.torch import save_file
    t = torch.randn(4, 6).to(torch.bfloat16)
    p = tmp_path / "bf.safetensors"
    save_file({"x": t}, str(p))
    got = W.load_safetensors(p)["x"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, t.float().numpy())


def _write_raw(path, header, data=b"", n=None):
    raw = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw) if n is None else n) + raw + data)


def test_safetensors_refuses_bad_files(tmp_path, rng):
    good = tmp_path / "g.safetensors"
    W.save_safetensors({"a": rng.standard_normal((8, 8)).astype(np.float32)}, good)
    blob = good.read_bytes()
    p = tmp_path / "bad.safetensors"
    cases = {
        "truncated": (blob[:-5], "outside the"),
        "tiny": (blob[:5], "truncated"),
        "header cut": (blob[:20], "truncated"),
    }
    for name, (content, msg) in cases.items():
        p.write_bytes(content)
        with pytest.raises(ValueError, match=msg):
            W.load_safetensors(p)
    # oversized header length: refused before any allocation
    p.write_bytes(struct.pack("<Q", 2 ** 62) + b"{}")
    with pytest.raises(ValueError, match="exceeds"):
        W.load_safetensors(p)
    _write_raw(p, {"a": {"dtype": "F8_E9", "shape": [1], "data_offsets": [0, 1]}}, b"\0")
    with pytest.raises(ValueError, match="unsupported dtype 'F8_E9'"):
        W.load_safetensors(p)
    _write_raw(p, {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8)
    with pytest.raises(ValueError, match="needs 12 bytes"):
        W.load_safetensors(p)
    _write_raw(p, {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                   "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12)
    with pytest.raises(ValueError, match="overlap"):
        W.load_safetensors(p)
    _write_raw(p, {"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}})
    with pytest.raises(ValueError, match="non-negative"):
        W.load_safetensors(p)
    p.write_bytes(struct.pack("<Q", 4) + b"[1,2")
    with pytest.raises(ValueError, match="JSON"):
        W.load_safetensors(p)


# ---- PyTorch checkpoints ---------------------------------------------------------------------
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_torch_checkpoint_roundtrip(tmp_path, rng, torch, zip_format):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    sd = collections.OrderedDict([
        ("lin.weight", torch.from_numpy(rng.standard_normal((5, 3)).astype(np.float32))),
        ("lin.bias", torch.nn.Parameter(torch.randn(5))),
        ("d", torch.randn(3, dtype=torch.float64)),
        ("h", torch.randn(2, 3).half()),
        ("bf", torch.randn(3, 2).to(torch.bfloat16)),
        ("steps", torch.tensor(17)),
        ("ints", torch.arange(-3, 3, dtype=torch.int32)),
        ("bytes", torch.arange(5, dtype=torch.uint8)),
        ("flags", torch.tensor([True, False])),
        ("view_t", base.t()),              # non-contiguous: strides in the file
        ("view_slice", base[1:3, 2:5]),    # offset into a shared storage
        ("empty", torch.zeros(0, 3)),
    ])
    nested = {"state_dict": sd, "epoch": 3, "names": ["a", "b"], "lr": 0.1, "t": (1, None)}
    p = tmp_path / "ck.pt"
    torch.save(nested, p, _use_new_zipfile_serialization=zip_format)
    got = W.load_torch(p)
    assert got["epoch"] == 3 and got["names"] == ["a", "b"] and got["t"] == (1, None)
    assert isinstance(got["state_dict"], collections.OrderedDict)
    assert list(got["state_dict"]) == list(sd)
    for k, v in sd.items():
        a = got["state_dict"][k]
        assert isinstance(a, np.ndarray), k
        ref = v.detach().float().numpy() if v.dtype == torch.bfloat16 else v.detach().numpy()
        assert a.dtype == ref.dtype and a.shape == ref.shape, k
        np.testing.assert_array_equal(a, ref)
    # a module's state_dict loads straight into the matching dlcore module
    lin = torch.nn.Linear(3, 4)
    torch.save(lin.state_dict(), p, _use_new_zipfile_serialization=zip_format)
    m = dl.nn.Linear(3, 4)
    m.load_state_dict(W.load_file(p))
    x = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(m(dl.tensor(x)).numpy(),
                               lin(torch.from_numpy(x)).detach().numpy(), rtol=1e-6, atol=1e-6)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch %s" % self.marker,))


class _Evil2:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, ("open(%r, 'w').close()" % self.marker,))


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize("evil", [_Evil, _Evil2])
def test_malicious_pickle_refused_without_executing(tmp_path, torch, zip_format, evil):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(2), "payload": evil(str(marker))}, p,
               _use_new_zipfile_serialization=zip_format)
    assert not marker.exists()
    with pytest.raises(W.UnsafeCheckpointError, match=r"refusing to load global '(posix|nt|os|"
                       r"builtins|__builtin__)\.(system|eval)'"):
        W.load_torch(p)
    assert not marker.exists()


def test_restricted_unpickler_blocks_build_on_standins(tmp_path):
    # a hand-written pickle: fetch an allowed global, then try to rewrite its attributes
    payload = (b"\x80\x02ctorch\nFloatStorage\n}X\x05\x00\x00\x00dtypeX\x01\x00\x00\x00Osb.")
    with pytest.raises(W.UnsafeCheckpointError):
        W.torch_file.RestrictedUnpickler(io.BytesIO(payload)).load()
    assert W.torch_file._ALLOWED[("torch", "FloatStorage")].dtype == np.float32


def test_torch_checkpoint_truncated_and_out_of_bounds(tmp_path, torch):
    p = tmp_path / "ck.pt"
    torch.save({"w": torch.randn(64)}, p, _use_new_zipfile_serialization=False)
    blob = p.read_bytes()
    for cut in (len(blob) - 10, len(blob) // 2, 30, 3):
        q = tmp_path / ("cut%d.pt" % cut)
        q.write_bytes(blob[:cut])
        with pytest.raises(ValueError):
            W.load_torch(q)
    # zip format whose storage is shorter than the pickle claims
    torch.save({"w": torch.randn(64)}, p)
    with zipfile.ZipFile(p) as z:
        items = {n: z.read(n) for n in z.namelist()}
    q = tmp_path / "short.pt"
    with zipfile.ZipFile(q, "w") as z:
        for n, b in items.items():
            z.writestr(n, b[:16] if n.endswith("/data/0") else b)
    with pytest.raises(ValueError, match="bytes, expected 64 elements"):
        W.load_torch(q)
    # a tensor whose size/stride reach past its storage
    from dlcore.weights.torch_file import _Storage, _StorageType, _view
    st = _Storage(_StorageType("FloatStorage"), 4)
    st.fill(np.zeros(4, np.float32))
    with pytest.raises(pickle.UnpicklingError, match="reaches element"):
        _view(st, 2, (3,), (1,))
    with pytest.raises(pickle.UnpicklingError, match="negative"):
        _view(st, 0, (2,), (-1,))
    p.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError):
        W.load_torch(p)


# ---- GGUF -----------------------------------------------------------------------------------
def test_dequantize_matches_gguf(rng):
    gguf = pytest.importorskip("gguf")
    Q = gguf.GGMLQuantizationType
    x = (rng.standard_normal((6, 96)) * 3).astype(np.float32)
    for kind in ("Q4_0", "Q4_1", "Q8_0"):
        raw = gguf.quants.quantize(x, getattr(Q, kind))
        ref = gguf.quants.dequantize(raw, getattr(Q, kind))
        ours = W.dequantize(raw, kind, (6, 96))
        np.testing.assert_array_equal(ours, ref.astype(np.float32))
        tol = {"Q8_0": 0.02, "Q4_0": 0.6, "Q4_1": 0.5}[kind]
        assert np.abs(ours - x).max() < tol * np.abs(x).max() / 3
    with pytest.raises(ValueError, match="whole number"):
        W.dequantize(np.zeros(19, np.uint8), "Q4_0")
    with pytest.raises(ValueError, match="unsupported block format"):
        W.dequantize(np.zeros(18, np.uint8), "Q5_K")


def test_gguf_file_roundtrip(tmp_path, rng):
    gguf = pytest.importorskip("gguf")
    Q = gguf.GGMLQuantizationType
    p = tmp_path / "t.gguf"
    wr = gguf.GGUFWriter(str(p), "llama")
    wr.add_uint32("llama.block_count", 2)
    wr.add_token_list(["<s>", "hello", "wörld"])
    a = rng.standard_normal((4, 64)).astype(np.float32)
    wr.add_tensor("f32", a)
    wr.add_tensor("f16", a.astype(np.float16))
    raws = {}
    for kind in ("Q4_0", "Q4_1", "Q8_0"):
        raws[kind] = gguf.quants.quantize(a, getattr(Q, kind))
        wr.add_tensor(kind, raws[kind], raw_shape=raws[kind].shape, raw_dtype=getattr(Q, kind))
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    f = W.load_gguf(p)
    assert f.metadata["general.architecture"] == "llama"
    assert f.metadata["llama.block_count"] == 2
    assert f.metadata["tokenizer.ggml.tokens"] == ["<s>", "hello", "wörld"]
    np.testing.assert_array_equal(f.tensor("f32"), a)
    np.testing.assert_array_equal(f.tensor("f16"), a.astype(np.float16).astype(np.float32))
    for kind, raw in raws.items():
        assert f.tensor_type(kind) == kind and f.shape(kind) == (4, 64)
        np.testing.assert_array_equal(f.tensor(kind),
                                      gguf.quants.dequantize(raw, getattr(Q, kind)))
    assert set(W.load_file(p)) == {"f32", "f16", "Q4_0", "Q4_1", "Q8_0"}


# ---- key mapping ----------------------------------------------------------------------------
def test_remap_and_report(rng):
    model = dl.nn.Sequential(dl.nn.Linear(3, 4), dl.nn.Linear(4, 2))
    foreign = {"net.first.kernel": rng.standard_normal((4, 3)).astype(np.float32),
               "net.first.b": np.zeros(4, np.float32),
               "net.second.kernel": rng.standard_normal((2, 4)).astype(np.float32),
               "net.second.b": np.ones(2, np.float32),
               "optimizer.step": np.array(3)}
    rules = [(r"^net\.", ""), (r"^first", "0"), (r"^second", "1"),
             (r"\.kernel$", ".weight"), (r"\.b$", ".bias")]
    rep = W.load_weights(model, foreign, rules, drop=[r"^optimizer\."])
    assert rep.ok and str(rep) == "all keys matched"
    np.testing.assert_array_equal(model[1].bias.numpy(), np.ones(2))
    # missing, unexpected and mismatched keys are all named
    bad = W.remap_keys(foreign, rules)
    bad["1.weight"] = np.zeros((3, 3), np.float32)
    del bad["0.bias"]
    with pytest.raises(ValueError) as e:
        W.load_weights(model, bad)
    msg = str(e.value)
    assert "0.bias" in msg and "optimizer.step" in msg
    assert "shape mismatch for 1.weight: checkpoint (3, 3), model (2, 4)" in msg
    rep = W.load_weights(model, bad, strict=False)
    assert rep.missing == ["0.bias"] and rep.unexpected == ["optimizer.step"]
    with pytest.raises(ValueError, match="both map to"):
        W.remap_keys({"a.x": 1, "b.x": 2}, [(r"^[ab]\.", "")])


# ---- format detection -----------------------------------------------------------------------
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_detect_format_of_torch_files(tmp_path, torch, zip_format):
    p = tmp_path / "ck.pt"
    torch.save({"w": torch.arange(3.0)}, p, _use_new_zipfile_serialization=zip_format)
    assert W.detect_format(p) == ("torch-zip" if zip_format else "torch-legacy")
    np.testing.assert_array_equal(W.load_file(p)["w"], np.arange(3.0, dtype=np.float32))
    np.testing.assert_array_equal(W.load_file(p, names=["w"])["w"], np.arange(3.0))


def test_detect_format_refuses_unknown_and_names_truncated_safetensors(tmp_path, rng):
    p = tmp_path / "x.bin"
    for content in (b"", b"hello world, not weights", b"\x80\x09 not a pickle protocol"):
        p.write_bytes(content)
        with pytest.raises(ValueError, match="x.bin is not a safetensors, PyTorch"):
            W.load_file(p)
    good = tmp_path / "g.safetensors"
    W.save_safetensors({"a": rng.standard_normal(64).astype(np.float32)}, good)
    p.write_bytes(good.read_bytes()[:40])      # header cut off: still named as safetensors
    with pytest.raises(ValueError, match="safetensors file .*truncated"):
        W.load_file(p)


def test_safetensors_writer_is_atomic_and_read_by_the_package(tmp_path, rng, monkeypatch):
    from safetensors.numpy import load_file
    p = tmp_path / "w.safetensors"
    W.save_safetensors({"a": np.ones(3, np.float32)}, p)
    before = p.read_bytes()
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("no fsync")))
    with pytest.raises(OSError, match="no fsync"):
        W.save_safetensors({"a": np.zeros(3, np.float32)}, p)
    monkeypatch.undo()
    assert p.read_bytes() == before and os.listdir(tmp_path) == ["w.safetensors"]
    bf = rng.standard_normal(5).astype(np.float32)
    W.save_safetensors({"x": bf, "big": np.arange(3, dtype=">i4")}, p, metadata={"k": "v"})
    np.testing.assert_array_equal(load_file(str(p))["big"], np.arange(3))
    back, meta = W.read_safetensors(p)
    assert meta == {"k": "v"} and back["big"].dtype == np.int32
    with pytest.raises(TypeError, match="tensor 'c' has dtype complex64"):
        W.save_safetensors({"c": np.zeros(2, np.complex64)}, p)
