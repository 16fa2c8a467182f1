"""CI runs what a new user is told to run: every command in the README's shell blocks is a
line of .ci/run, exactly as written."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(*parts):
    path = os.path.join(ROOT, *parts)
    if not os.path.exists(path):
        pytest.skip("%s is not in this checkout" % os.path.join(*parts))
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_every_readme_shell_command_is_run_by_ci():
    readme, ci = _read("README.md"), _read(".ci", "run")
    blocks = re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", readme, re.S)
    commands = [ln.strip() for b in blocks for ln in b.splitlines()
                if ln.strip() and not ln.strip().startswith("#")]
    assert commands, "the README has no shell commands"
    ci_lines = {ln.strip() for ln in ci.splitlines()}
    missing = [c for c in commands if c not in ci_lines]
    assert not missing, "README commands that .ci/run does not run: %s" % missing


def test_readme_has_no_untyped_code_blocks():
    """An unlabelled fence could be read as commands; every block says what it holds."""
    readme = _read("README.md")
    fences = re.findall(r"^```(\w*)$", readme, re.M)
    openers = fences[0::2]
    assert all(openers), "README code blocks without a language: %d" % openers.count("")
