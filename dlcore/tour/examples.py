"""Finding the roadmap examples: the installed dlcore.examples package, or python/ in a checkout.

An example is a file NN_name.py (NN = roadmap chapter) with main(quick=False, ...) returning a
result row (a dict: chapter, model, data, metric, value, and any other keys it likes).  Its
docstring's first line is its title; nothing here imports an example except load_example.
"""
import ast
import importlib
import importlib.util
import os
import re

_EXAMPLE = re.compile(r"^(\d+)_([A-Za-z0-9_]+)\.py$")


def _checkout_examples():
    """python/ beside the imported dlcore package in a source checkout, else None."""
    import dlcore
    d = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(dlcore.__file__))), "python")
    ok = all(os.path.isfile(os.path.join(d, f)) for f in ("__init__.py", "common.py"))
    return d if ok else None


def _bind_examples_package(folder):
    """Make `dlcore.examples` (which the examples import their helpers from) the package in
    `folder`.  An editable install maps that name to its own tree's python/, so a second
    checkout (a git worktree) that shadows the install would otherwise run its own dlcore with
    the other tree's examples."""
    import sys
    mod = sys.modules.get("dlcore.examples")
    if mod is not None:
        if os.path.dirname(os.path.abspath(mod.__file__)) == os.path.abspath(folder):
            return
        for name in [n for n in sys.modules if n.startswith("dlcore.examples.")]:
            del sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        "dlcore.examples", os.path.join(folder, "__init__.py"),
        submodule_search_locations=[folder])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["dlcore.examples"] = mod
    spec.loader.exec_module(mod)
    import dlcore
    dlcore.examples = mod


def examples_dir():
    """Folder of the roadmap examples: python/ beside the dlcore package in a source checkout,
    else the installed dlcore.examples package (None when neither exists)."""
    d = _checkout_examples()
    if d is not None:
        _bind_examples_package(d)
        return d
    try:
        mod = importlib.import_module("dlcore.examples")
        d = os.path.dirname(os.path.abspath(mod.__file__))
        if os.path.isdir(d):
            return d
    except ImportError:
        pass
    return None


def list_examples(only=None, folder=None):
    """[(chapter number, file stem, path)] in roadmap order, filtered by `only` (a set of chapter
    numbers and example stems, or None for all)."""
    d = folder or examples_dir()
    if d is None:
        return []
    found = []
    for name in sorted(os.listdir(d)):
        m = _EXAMPLE.match(name)
        if m:
            ch = int(m.group(1))
            if only is None or ch in only or name[:-3] in only:
                found.append((ch, name[:-3], os.path.join(d, name)))
    return found


def parse_only(values):
    """--only arguments ('2', '02', '1-3', '1,4', or an example's name such as 10_chat) -> a set
    of chapter numbers and example stems; None for all."""
    if not values:
        return None
    chosen = set()
    for v in values:
        for part in str(v).split(","):
            part = part.strip()
            if part.endswith(".py"):
                part = part[:-3]
            if not part:
                continue
            if _EXAMPLE.match(part + ".py"):
                chosen.add(part)
                continue
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if not m:
                raise ValueError("--only: expected chapter numbers like 2, 02, 1-3 or 1,4, or an "
                                 "example such as 10_chat; got %r" % part)
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
            if hi < lo:
                raise ValueError("--only: range %r runs backwards" % part)
            chosen.update(range(lo, hi + 1))
    return chosen


def example_title(path):
    """First line of the example's docstring, read without running the file ('' if none)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = ast.get_docstring(ast.parse(f.read()))
    except (OSError, SyntaxError, ValueError):
        return ""
    return doc.strip().splitlines()[0].strip() if doc else ""


def example_docstring(path):
    try:
        with open(path, encoding="utf-8") as f:
            return ast.get_docstring(ast.parse(f.read())) or ""
    except (OSError, SyntaxError, ValueError):
        return ""


def load_example(path, stem):
    """Import an example file as a fresh module (its name cannot clash with anything else)."""
    spec = importlib.util.spec_from_file_location("dlcore_tour_" + stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
