"""The chapter 5-6 recurrent examples in python/ run in quick mode and reach what they state."""
import os

import numpy as np
import pytest

import dlcore as dl
from dlcore import cli
from _examples import load_example



# tiny models (hidden 32-64); the stated results do not depend on the thread count
pytestmark = pytest.mark.usefixtures("one_thread")


def test_05_rnn_timeseries():
    row = load_example("05_rnn_timeseries").main(quick=True)
    assert row["chapter"].startswith("05")
    assert row["metric"] == "min MSE reduction vs seasonal naive"
    assert set(row["results"]) == {"sunspots", "co2", "seasonal"}
    for name, r in row["results"].items():
        # stated: >= 50% lower test MSE than seasonal naive, and below persistence
        assert r["mse"] <= 0.5 * r["mse_seasonal_naive"], name
        assert r["mse"] < r["mse_persistence"], name
    assert row["value"] >= 0.5 and row["beats_persistence"]


def test_06_lstm_text_generation(capsys):
    row = load_example("06_lstm_text_generation").main(quick=True)
    assert row["chapter"].startswith("06")
    base, bpc = row["unigram_bpc"], row["value"]
    assert 4.0 < base < 5.5            # the unigram cross-entropy of English characters
    assert bpc <= base - 1.0           # stated for the quick mode
    out = capsys.readouterr().out
    assert "--- sample, temperature 0.8, top_k 10 ---" in out
    sample = out.split("top_k 10 ---\n", 1)[1]
    assert sample.startswith("Ham.\n") and len(sample.strip()) > 100


def test_06_vanishing_gradients():
    row = load_example("06_vanishing_gradients").main(quick=True)
    assert row["chapter"].startswith("06") and row["T"] == 40
    mse = row["mse"]
    assert mse["RNN"] > 0.12           # stays near the predict-the-mean level 0.167
    assert mse["GRU"] < 0.05           # learns the task
    ratio = row["grad_ratio"]          # ||dL/dx_0|| / ||dL/dx_T-1|| after training
    assert ratio["RNN"] < 1e-6 and ratio["GRU"] > 0.1


@pytest.fixture(scope="module")
def vader_path(tmp_path_factory):
    """The VADER snippets: from the usual cache, else fetched (pip download) into a temporary
    folder; skip when pip cannot reach PyPI."""
    try:
        return dl.data.load_vader_movie_reviews().filename
    except dl.data.DatasetNotFoundError:
        pass
    home = tmp_path_factory.mktemp("dlcore_data")
    try:
        return dl.data.fetch_vader(data_home=str(home), quiet=True)
    except RuntimeError as e:
        pytest.skip("could not fetch the VADER data with pip: %s" % str(e).splitlines()[0])


def test_06_sentiment(vader_path):
    # the tour's quick run is a smoke run; the bounds are for two epochs on all snippets
    row = load_example("06_sentiment").main(quick=True, data=vader_path, epochs=2, subset=1.0)
    assert row["chapter"].startswith("06")
    assert row["acc_lstm"] >= 0.72 and row["acc_bow"] >= 0.72   # stated for the quick mode


def test_06_sentiment_without_data_names_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCORE_DATA_DIR", str(tmp_path))
    with pytest.raises(dl.data.DatasetNotFoundError, match="dlcore data fetch vader"):
        load_example("06_sentiment").main(quick=True)


def test_tour_skips_sentiment_without_data(tmp_path, monkeypatch):
    import io
    monkeypatch.setenv("DLCORE_DATA_DIR", str(tmp_path))
    only_sentiment = [e for e in cli.list_examples() if e[1] == "06_sentiment"]
    assert len(only_sentiment) == 1
    monkeypatch.setattr(cli, "list_examples", lambda only=None: only_sentiment)
    out = io.StringIO()
    rows, failures = cli.run_tour(quick=True, out=out, workdir=str(tmp_path / "tour"))
    assert failures == 0
    assert [(r.stem, r.status, r.enable) for r in rows] == [
        ("06_sentiment", "skipped", "dlcore data fetch vader")]
    text = out.getvalue()
    row = [ln for ln in text.splitlines() if ln.startswith("06_sentiment")]
    assert len(row) == 1 and "skipped" in row[0] and "dlcore data fetch vader" in row[0]
    assert "1 example: 0 run, 1 skipped, 0 failed" in text


def test_bench_rnn_is_listed():
    assert "rnn" in cli.bench_families()


def test_examples_present():
    d = cli.examples_dir()
    for stem in ("05_rnn_timeseries", "06_lstm_text_generation", "06_sentiment",
                 "06_vanishing_gradients"):
        assert os.path.exists(os.path.join(d, stem + ".py"))
    assert np.isfinite(dl.data.make_seasonal_series(n=100, period=10)).all()


def test_06_spoken_digits(tmp_path):
    """The GRU on log-mel frames recognizes unheard speakers' digits well above the order-blind
    baseline after 12 epochs (the full run trains 30)."""
    row = load_example("06_spoken_digits").main(quick=True, out_dir=str(tmp_path), epochs=12)
    assert row["chapter"].startswith("06")
    assert row["accuracy"] >= 0.8 and row["accuracy"] > row["baseline_accuracy"] + 0.05
    assert row["epochs"] == 12


def test_spoken_digits_data_and_spectrogram():
    import numpy as np
    ds = dl.data.load_spoken_digits()
    assert len(ds.audio) == 400 and ds.sample_rate == 8000 and len(ds.words) == 10
    assert np.bincount(ds.target).tolist() == [40] * 10
    assert len(np.unique(ds.speaker)) == 40 == len(ds.speaker_info)
    assert all(a.dtype == np.float32 and np.abs(a).max() <= 1.0 for a in ds.audio)
    # a pure tone lands in the mel band whose filter covers its frequency
    t = np.arange(8000) / 8000.0
    spec = dl.data.log_mel_spectrogram(np.sin(2 * np.pi * 1000 * t).astype(np.float32), 8000)
    fb = dl.data.mel_filterbank(32, 256, 8000)
    assert spec.shape == (1 + (8000 - 256) // 80, 32)
    assert spec.mean(0).argmax() == fb[:, int(round(1000 / 8000 * 256))].argmax()
    with pytest.raises(ValueError, match="1-D"):
        dl.data.log_mel_spectrogram(np.zeros((2, 300), np.float32), 8000)
