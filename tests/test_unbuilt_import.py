"""Importing dlcore from a source tree whose extension is not built says what happened and what
to do, instead of a bare ModuleNotFoundError for dlcore._C._ext."""
import os
import shutil
import subprocess
import sys

import dlcore


def test_unbuilt_source_tree_explains(tmp_path):
    src = os.path.dirname(os.path.abspath(dlcore.__file__))
    shutil.copytree(src, tmp_path / "dlcore",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    env = dict(os.environ, PYTHONPATH="")
    proc = subprocess.run([sys.executable, "-c", "import dlcore"], cwd=str(tmp_path),
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0
    want = ("ImportError: dlcore's compiled kernels (dlcore._C._ext) are not built in %s"
            % (tmp_path / "dlcore"))
    assert any(ln.startswith(want) for ln in proc.stderr.splitlines()), proc.stderr
    assert "pip install -e ." in proc.stderr and "another directory" in proc.stderr
    assert "ModuleNotFoundError" not in proc.stderr


def test_other_import_errors_are_not_rewritten():
    from dlcore._unbuilt import explain
    e = ModuleNotFoundError("No module named 'foo'", name="foo")
    assert explain(e) is e
