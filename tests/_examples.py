"""What the example tests share: finding a roadmap example (python/NN_name.py, or the installed
dlcore.examples) by its file stem, and the keys every result row has."""
from dlcore import cli


def load_example(stem):
    """The example `stem` (e.g. '05_rnn_timeseries'), freshly imported."""
    for _, s, path in cli.list_examples():
        if s == stem:
            return cli.load_example(path, stem)
    raise AssertionError("example %s not found in %s" % (stem, cli.examples_dir()))


def check_row(row, chapter):
    """A result row as `dlcore tour` reads it: its chapter, model, data, metric and value."""
    assert row["chapter"] == chapter
    for key in ("model", "data", "metric", "value"):
        assert key in row
