"""`dlcore tour --jobs N`: examples run at once in worker processes.  The rows come back in
roadmap order whatever order they finish in, an example that kills its worker is a failed row
and the tour goes on, and each figure belongs to the example that drew it even when two
examples write into the output folder at the same time."""
import io
import json
import textwrap

import pytest

from dlcore import cli
from dlcore.tour import parallel

PNG_1x1 = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                        "0000000d4944415478da63f8cfc0f01f0005000201a1bb9fd10000000049454e44"
                        "ae426082")

# each waits (at most 60 s) for a file the other one writes, so both run at once, and each
# writes its own picture while the other is still running
WAIT = textwrap.dedent('''
    import os, time
    def wait_for(name):
        t0 = time.time()
        while not os.path.exists(name) and time.time() - t0 < 60:
            time.sleep(0.01)
        return os.path.exists(name)
''')


def _tour(tmp_path, monkeypatch, files, argv):
    from dlcore.tour import examples as tour_examples
    ex = tmp_path / "ex"
    ex.mkdir()
    for name, text in files.items():
        (ex / name).write_text(text)
    monkeypatch.setattr(tour_examples, "examples_dir", lambda: str(ex))
    monkeypatch.setattr(cli, "examples_dir", lambda: str(ex))
    out = io.StringIO()
    code = cli.main(["tour", "--out", str(tmp_path / "o")] + argv, out=out)
    rec = json.loads((tmp_path / "o" / "results.json").read_text())
    return code, out.getvalue(), rec


def test_rows_in_roadmap_order_and_a_dead_worker_is_a_failed_row(tmp_path, monkeypatch):
    files = {
        # the slow first example finishes last; its row still comes first in the results
        "01_slow.py": WAIT + "def main(quick=False):\n"
                             "    wait_for('03_done')\n    return {'value': 1.0}\n",
        "02_crash.py": "import os\ndef main(quick=False):\n    print('bye')\n"
                       "    os._exit(3)\n",
        "03_exit.py": "import sys\ndef main(quick=False):\n"
                      "    open('03_done', 'w').close()\n    sys.exit('stopped')\n",
        "04_after.py": "def main(quick=False):\n    return {'metric': 'm', 'value': 4.0}\n",
    }
    code, text, rec = _tour(tmp_path, monkeypatch, files, ["--quick", "--jobs", "2"])
    assert code == 1, text
    rows = rec["rows"]
    assert [r["example"] for r in rows] == ["01_slow", "02_crash", "03_exit", "04_after"]
    assert [r["status"] for r in rows] == ["run", "failed", "failed", "run"]
    assert "worker process died (exit code 3)" in rows[1]["error"]
    assert rows[2]["error"] == "SystemExit: stopped"
    assert rows[3]["result"]["value"] == 4.0
    assert rec["run"]["jobs"] == 2 and rec["run"]["threads_per_job"] >= 1
    assert "4 examples: 2 run, 0 skipped, 2 failed" in text
    # the rows were printed in the order the examples finished: 01_slow waits for 03_exit,
    # which starts only after 02_crash's row is out
    printed = [ln.split()[0] for ln in text.splitlines() if ln[:2].isdigit()]
    assert sorted(printed) == ["01_slow", "02_crash", "03_exit", "04_after"]
    assert printed.index("02_crash") < printed.index("01_slow")


def test_each_figure_goes_to_the_example_that_drew_it(tmp_path, monkeypatch):
    png = "bytes.fromhex(%r)" % PNG_1x1.hex()
    files = {
        "01_a.py": WAIT + textwrap.dedent('''
            def main(quick=False):
                open("a.png", "wb").write(%s)
                wait_for("b.png")
                return {"value": wait_for("b.png")}
        ''' % png),
        "02_b.py": WAIT + textwrap.dedent('''
            def main(quick=False):
                wait_for("a.png")
                open("b.png", "wb").write(%s)
                wait_for("c.png")
                return {"value": 1.0}
        ''' % png),
        # drawn by a subprocess: no open() in the worker sees it, the diff of the folder does
        "03_c.py": WAIT + textwrap.dedent('''
            import subprocess, sys
            def main(quick=False):
                wait_for("b.png")
                subprocess.run([sys.executable, "-c",
                                "open('c.png', 'wb').write(%s)"], check=True)
                return {"value": 1.0}
        ''' % png),
    }
    code, text, rec = _tour(tmp_path, monkeypatch, files, ["--quick", "--jobs", "3"])
    assert code == 0, text
    figs = {r["example"]: [f["file"] for f in r["figures"]] for r in rec["rows"]}
    assert figs == {"01_a": ["a.png"], "02_b": ["b.png"], "03_c": ["c.png"]}
    page = (tmp_path / "o" / "index.html").read_text()
    for f in ("a.png", "b.png", "c.png"):
        assert page.count('<img src="%s"' % f) == 1


def test_verbose_with_jobs_prefixes_each_line_with_its_example(tmp_path, monkeypatch):
    files = {"01_x.py": "def main(quick=False):\n    print('hello from x')\n"
                        "    return {'value': 1.0}\n",
             "02_y.py": "def main(quick=False):\n    print('hello from y')\n"
                        "    return {'value': 2.0}\n"}
    code, text, rec = _tour(tmp_path, monkeypatch, files, ["-v", "--jobs", "2"])
    assert code == 0, text
    assert "[01_x] hello from x" in text and "[02_y] hello from y" in text
    assert rec["run"]["jobs"] == 2


def test_default_jobs(monkeypatch):
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert parallel.default_jobs(quick=True) == 2
    assert parallel.default_jobs(quick=False) == 1
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: set(range(64)),
                        raising=False)
    assert parallel.default_jobs(quick=True) == 4
    monkeypatch.delenv("DLCORE_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 8)
    assert parallel.threads_per_job(2) == 4 and parallel.threads_per_job(16) == 1
    monkeypatch.setenv("DLCORE_NUM_THREADS", "3")
    assert parallel.threads_per_job(2) == 3


def test_jobs_must_be_positive(capsys):
    assert cli.main(["tour", "--quick", "--jobs", "0"], out=io.StringIO()) == 2
    assert "--jobs must be >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_only_one_example_runs_in_process(tmp_path, monkeypatch, jobs):
    """One example never starts a worker: its row is the same either way."""
    files = {"01_pid.py": "import os\ndef main(quick=False):\n"
                          "    return {'value': os.getpid()}\n"}
    import os
    code, text, rec = _tour(tmp_path, monkeypatch, files, ["--quick", "--jobs", jobs])
    assert code == 0 and rec["rows"][0]["result"]["value"] == os.getpid()
    assert rec["run"]["jobs"] == 1
