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
    assert "SIMD path in use: %s" % dl._C.get_isa() in text
    assert "OpenMP" in text and "threads: %d" % dl.get_num_threads() in text
    assert "numpy" in text and "compiler" in text


def test_no_command_prints_help():
    code, text = run([])
    assert code == 0 and "info" in text and "tour" in text and "bench" in text


def test_tour_machinery_on_fake_examples(tmp_path, monkeypatch):
    (tmp_path / "01_ok.py").write_text(textwrap.dedent('''
        def main(quick=False):
            print("noise from the example")
            open("figure.png", "w").close()
            return {"chapter": "01", "model": "M", "data": "D", "metric": "acc",
                    "value": 0.5 if quick else 1.0}
    '''))
    (tmp_path / "02_optional.py").write_text("import surely_not_installed_pkg\n"
                                             "def main(quick=False):\n    return {}\n")
    (tmp_path / "03_broken.py").write_text("def main(quick=False):\n"
                                           "    raise RuntimeError('kaput')\n")
    (tmp_path / "notes.py").write_text("raise SystemExit('not an example')\n")
    monkeypatch.setattr(cli, "examples_dir", lambda: str(tmp_path))
    monkeypatch.chdir(tmp_path)
    here = os.getcwd()
    code, text = run(["tour", "--quick", "--only", "1", "--out", "figs"])
    assert code == 0
    # the example ran inside --out, and the tour came back to where it started
    assert (tmp_path / "figs" / "figure.png").exists() and os.getcwd() == here
    assert "01" in text and "0.5" in text and "noise" not in text
    code, text = run(["tour", "--quick"])
    assert code == 1  # the broken example fails the tour
    assert "02_optional: skipped" in text and "surely_not_installed_pkg" in text
    assert "03_broken: FAILED: RuntimeError: kaput" in text
    code, text = run(["tour", "--only", "1-2", "-v"])
    assert code == 0 and "noise from the example" in text and "1.0" in text
    code, _ = run(["tour", "--only", "9"])
    assert code == 2
    code, _ = run(["tour", "--only", "x"])
    assert code == 2


def test_examples_are_found_in_this_checkout():
    found = [stem for _, stem, _ in cli.list_examples()]
    assert found[:3] == ["01_perceptron", "02_mlp_iris", "03_backprop_gradient_descent"]


def test_tour_runs_chapter_02():
    pytest.importorskip("dlcore.optim", reason="dl.optim is not merged in this branch")
    code, text = run(["tour", "--quick", "--only", "02"])
    assert code == 0, text
    row = [ln for ln in text.splitlines() if ln.startswith("02")]
    assert row and "MLP 4-16-3" in row[0] and "test accuracy" in row[0]


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
