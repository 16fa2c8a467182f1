"""Bundled series and text (sunspots, CO2, Shakespeare), the VADER loader and `dlcore data`."""
import io
import os
import tarfile

import numpy as np
import pytest

import dlcore as dl
from dlcore import cli


def test_sunspots():
    ds = dl.data.load_sunspots()
    assert ds.data.shape == (309,) and ds.data.dtype == np.float64
    assert ds.time[0] == 1700 and ds.time[-1] == 2008 and np.all(np.diff(ds.time) == 1)
    assert ds.data[:3].tolist() == [5.0, 11.0, 16.0]
    assert ds.data.min() >= 0 and 150 < ds.data.max() < 200
    values, years = ds
    assert values is ds.data and years is ds.time


def test_co2_missing_weeks_interpolated():
    raw = dl.data.load_co2(interpolate=False)
    ds = dl.data.load_co2()
    assert ds.data.shape == (2284,) and ds.time.dtype == np.dtype("datetime64[D]")
    assert str(ds.time[0]) == "1958-03-29" and str(ds.time[-1]) == "2001-12-29"
    assert np.all(np.diff(ds.time) == np.timedelta64(7, "D"))
    assert int(raw.missing.sum()) == 59 and np.isnan(raw.data).sum() == 59
    assert np.array_equal(raw.missing, ds.missing) and not np.isnan(ds.data).any()
    np.testing.assert_array_equal(ds.data[~ds.missing], raw.data[~raw.missing])
    # every filled week lies between the measured weeks around it
    idx = np.flatnonzero(ds.missing)
    measured = np.flatnonzero(~ds.missing)
    for i in idx:
        lo = measured[measured < i].max() if (measured < i).any() else None
        hi = measured[measured > i].min()
        if lo is not None:
            a, b = sorted((ds.data[lo], ds.data[hi]))
            assert a - 1e-9 <= ds.data[i] <= b + 1e-9
    assert "interpolation" in ds.DESCR and "59 weeks" in ds.DESCR


def test_seasonal_series_seeded():
    a = dl.data.make_seasonal_series(n=240, period=24, generator=np.random.default_rng(3))
    b = dl.data.make_seasonal_series(n=240, period=24, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (240,)
    with pytest.raises(ValueError, match="period"):
        dl.data.make_seasonal_series(n=10, period=24)
    with pytest.raises(ValueError, match="ar"):
        dl.data.make_seasonal_series(ar=1.0)


def test_shakespeare():
    ds = dl.data.load_shakespeare()
    assert len(ds.text) == 277373 and ds.plays == ["Hamlet", "Macbeth"]
    assert ds.text.startswith("HAMLET, PRINCE OF DENMARK")
    assert "MACBETH" in ds.text and "Who's there?" in ds.text
    assert "\r" not in ds.text and len(set(ds.text)) == 69


_SNIPPETS = "1\t2.5\tA gorgeous, witty film.\r\n2\t-3.1\tDull and tedious.\r\n3\t0.2\tIt exists."


def test_vader_loader_paths(tmp_path):
    txt = tmp_path / "movieReviewSnippets_GroundTruth.txt"
    txt.write_bytes(_SNIPPETS.encode("utf-8"))
    for p in (str(txt), str(tmp_path)):
        ds = dl.data.load_vader_movie_reviews(path=p)
        assert ds.text == ["A gorgeous, witty film.", "Dull and tedious.", "It exists."]
        np.testing.assert_array_equal(ds.rating, [2.5, -3.1, 0.2])
        assert ds.id.tolist() == [1, 2, 3]
    # the same file inside hutto_ICWSM_2014.tar.gz
    tgz = tmp_path / "hutto_ICWSM_2014.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        info = tarfile.TarInfo("hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt")
        data = _SNIPPETS.encode("utf-8")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert len(dl.data.load_vader_movie_reviews(path=str(tgz)).text) == 3


def test_vader_loader_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCORE_DATA_DIR", str(tmp_path / "cache"))
    assert dl.data.data_home() == str(tmp_path / "cache")
    with pytest.raises(dl.data.DatasetNotFoundError, match="dlcore data fetch vader"):
        dl.data.load_vader_movie_reviews()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        dl.data.load_vader_movie_reviews(path=str(tmp_path / "nope.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_text("1\tnot enough fields\n")
    with pytest.raises(ValueError, match="line 1"):
        dl.data.load_vader_movie_reviews(path=str(bad))


def test_fetch_vader_rejects_wrong_archive(tmp_path):
    fake = tmp_path / "vaderSentiment-3.3.2.tar.gz"
    with tarfile.open(fake, "w:gz"):
        pass
    with pytest.raises(RuntimeError, match="sha256"):
        dl.data.fetch_vader(data_home=str(tmp_path), sdist=str(fake), quiet=True)
    assert not os.path.exists(tmp_path / "vader" / "movieReviewSnippets_GroundTruth.txt")


def _run(argv):
    out = io.StringIO()
    return cli.main(argv, out=out), out.getvalue()


def test_cli_data(tmp_path, capsys):
    code, text = _run(["data", "list", "--data-home", str(tmp_path)])
    assert code == 0 and "sunspots" in text and "shakespeare" in text
    assert "vader" in text and "not fetched" in text
    code, _ = _run(["data", "fetch", "imagenet"])
    assert code == 2 and "unknown dataset" in capsys.readouterr().err
    code, _ = _run(["data", "fetch"])
    assert code == 2
    code, text = _run([])
    assert "data" in text
