"""dl.data.load_spoken_digits: the bundled clips, decoded from the xz stream inside the npz,
and the clear errors a damaged file gets."""
import hashlib
import importlib.util
import lzma
import os
import shutil

import numpy as np
import pytest

import dlcore as dl
from dlcore.data import audio


def test_spoken_digits_are_the_clips_first_shipped():
    ds = dl.data.load_spoken_digits()
    assert len(ds.audio) == 400 and sum(len(a) for a in ds.audio) == 1450327
    # SHA-256 of the decoded float32 clips of the file as first shipped (plain mu-law `audio`)
    h = hashlib.sha256()
    for a in ds.audio:
        h.update(a.tobytes())
    assert h.hexdigest() == "1764af689b9670307c275460310e275571469a1a994317af81634d591aa83a27"


def _damaged(tmp_path, monkeypatch, **change):
    """A copy of the bundled npz with some arrays replaced, installed as the bundled file."""
    with np.load(audio.data_file("spoken_digits.npz"), allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays.update(change)
    path = tmp_path / "spoken_digits.npz"
    np.savez(path, **arrays)
    monkeypatch.setattr(audio, "data_file", lambda name: str(path))
    return arrays


def test_spoken_digits_damage_is_a_clear_error(tmp_path, monkeypatch):
    good = _damaged(tmp_path, monkeypatch)
    stream, n = good["audio_xz"], int(good["audio_length"])
    assert stream[:6].tobytes() == b"\xfd7zXZ\x00"
    flipped = stream.copy()
    flipped[len(stream) // 2] ^= 0x40
    short = np.frombuffer(lzma.compress(b"\x80" * (n - 5)), np.uint8)
    long = np.frombuffer(lzma.compress(b"\x80" * (n + 5)), np.uint8)
    offsets = good["offsets"].copy()
    for change, match in [
            ({"audio_xz": stream[:-20]}, "cut short"),
            ({"audio_xz": flipped}, "corrupt"),
            ({"audio_xz": np.concatenate([stream, stream[:8]])}, "data after its end"),
            ({"audio_xz": short}, "decodes to %d bytes, not the %d" % (n - 5, n)),
            # a stream longer than declared is stopped one byte past the declared length
            ({"audio_xz": long}, "more than the %d bytes" % n),
            # the declared length must agree with the clip offsets
            ({"audio_length": np.array(n + 1)}, "do not describe the audio"),
            ({"offsets": offsets[:-1]}, "do not describe the audio")]:
        _damaged(tmp_path, monkeypatch, **{**good, **change})
        with pytest.raises(ValueError, match=match) as e:
            dl.data.load_spoken_digits()
        assert "spoken_digits.npz" in str(e.value)


def test_spoken_digits_never_unpickle(tmp_path, monkeypatch):
    _damaged(tmp_path, monkeypatch, speaker_info=np.array([{"voice": "x"}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        dl.data.load_spoken_digits()


def test_recompress_tool_round_trip(tmp_path):
    """tools/make_spoken_digits.py --recompress rewrites a file to the same clips."""
    tool = os.path.join(os.path.dirname(__file__), "..", "tools", "make_spoken_digits.py")
    spec = importlib.util.spec_from_file_location("make_spoken_digits", tool)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    src = tmp_path / "in.npz"
    shutil.copy(audio.data_file("spoken_digits.npz"), src)
    assert mod.recompress(str(src), str(tmp_path / "out.npz")) == 1450327
    with np.load(src) as a, np.load(tmp_path / "out.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            if k != "audio_xz":
                np.testing.assert_array_equal(a[k], b[k])
        assert lzma.decompress(a["audio_xz"].tobytes()) == lzma.decompress(b["audio_xz"].tobytes())
