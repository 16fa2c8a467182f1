"""The README's roadmap table says exactly what the examples print: it is rendered from the
record of a full `dlcore tour` run (dlcore/tour/full_run.json) and the prose in
dlcore/tour/roadmap_text.py, and the record is of the examples' current code."""
import os
import re

import pytest

from dlcore.tour import roadmap
from dlcore.tour.examples import example_docstring, list_examples
from dlcore.tour.roadmap_text import EXAMPLES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFRESH = ("dlcore tour --out /tmp/tour [--only CHAPTERS] && python -m dlcore.tour.roadmap "
           "/tmp/tour/results.json --readme README.md")


def _readme():
    path = os.path.join(ROOT, "README.md")
    if not os.path.exists(path):
        pytest.skip("README.md is not in this checkout")
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_readme_table_is_the_rendered_record():
    text = _readme()
    assert roadmap.readme_block(text) == text, (
        "the README's roadmap block differs from what the record renders; regenerate it: "
        "python -m dlcore.tour.roadmap --readme README.md")


def test_every_example_is_described_and_recorded():
    stems = [s for _, s, _ in list_examples()]
    assert sorted(EXAMPLES) == sorted(stems), "roadmap_text.EXAMPLES must describe each example"
    record = roadmap.load_record()
    assert record is not None, "no dlcore/tour/full_run.json"
    missing = [s for s in stems if s not in record["rows"]]
    assert not missing, "no recorded full run of %s: %s" % (missing, REFRESH)


def test_the_record_is_of_the_current_code():
    stale = roadmap.stale_examples()
    assert not stale, ("these examples' code changed since their numbers were recorded: %s. "
                       "Run them and record the results: %s" % (", ".join(stale), REFRESH))


def test_claims_in_words_hold_in_the_record():
    record = roadmap.load_record()
    for stem, (_, claims) in EXAMPLES.items():
        result = record["rows"][stem]["result"]
        for key, want in claims.items():
            assert roadmap._lookup(result, key) == want, (stem, key)


def test_every_placeholder_resolves():
    record = roadmap.load_record()
    for stem in EXAMPLES:
        text = roadmap.render_snippet(stem, record["rows"][stem]["result"])
        assert "{" not in text and "}" not in text, (stem, text)


def test_literal_measurements_are_the_examples_documented_ones():
    """A number typed into the prose (not filled from the record) must be one the example's
    docstring states, e.g. a result of a mode the tour does not run (--full)."""
    paths = {s: p for _, s, p in list_examples()}
    for stem, (text, _) in EXAMPLES.items():
        prose = roadmap._PLACEHOLDER.sub("", text)
        doc = example_docstring(paths[stem])
        for number in re.findall(r"\d+\.\d+%?|\d+%", prose):
            assert number in doc, "%s: %s is in the roadmap prose but not in %s's docstring" % (
                stem, number, stem)


def test_the_table_lists_every_example_file():
    text = _readme()
    for _, stem, _ in list_examples():
        assert "`%s.py`" % stem in text


def test_rendering_formats():
    assert roadmap._format(0.9667, "pct1") == "96.7%"
    assert roadmap._format(0.1349, "pts") == "+13.5 points"
    assert roadmap._format(2.22e-16, "e0") == "2e-16"
    assert roadmap._format(3, "d") == "3"
    result = {"a": {"b": 0.5}, "c": 2.0}
    assert roadmap._lookup(result, "a.b") == 0.5
    with pytest.raises(KeyError):
        roadmap._lookup(result, "a.x")
