"""The roadmap's one source of numbers: the record of the last full `dlcore tour` run.

full_run.json (beside this file) keeps every example's result row and run time from a full run
on the project's machine, with a fingerprint of each example's code.  From it come the run times
`dlcore tour --help` lists and the README's roadmap table (rendered by readme_table()); the
tests check that the README's table is exactly what readme_table() renders and that no
example's code changed since it was recorded.  After changing examples:

    dlcore tour --out /tmp/tour                       # or --only the changed chapters
    python -m dlcore.tour.roadmap /tmp/tour/results.json --readme README.md
"""
import ast
import hashlib
import json
import os

from .examples import example_title, list_examples

RECORD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "full_run.json")


def code_fingerprint(path):
    """Hash of an example's code without its comments and docstrings (editing prose does not
    make its recorded numbers stale; editing code does)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:16]


def load_record(path=RECORD):
    """{"run": facts, "rows": {example: row}} or None when there is no record."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return {"run": data.get("run", {}), "rows": {r["example"]: r for r in data.get("rows", [])}}


def _short_title(path):
    t = example_title(path)
    for sep in (" — ", " - ", ": "):
        head, found, rest = t.partition(sep)
        if found and head.lower().startswith("chapter"):
            return rest.rstrip(".")
    return t


def help_text(width=100):
    """The chapters and examples with their recorded full-run seconds, for `tour --help`."""
    rec = load_record() or {"run": {}, "rows": {}}
    run = rec["run"]
    when = ("the recorded full run (%s, %s, %s thread(s); %.0f s in all)"
            % (run.get("date", "?"), run.get("cpu", run.get("machine", "?")),
               run.get("threads", "?"), run.get("seconds", 0))) if run else "no recorded run"
    lines = ["chapters and examples, with seconds in %s:" % when]
    for ch, stem, path in list_examples():
        r = rec["rows"].get(stem)
        secs = "%6.1f s" % r["seconds"] if r else "       -"
        head = "  %2d  %-29s %s  " % (ch, stem, secs)
        title = _short_title(path)
        room = width - len(head)
        lines.append(head + (title if len(title) <= room else title[:room - 1] + "~"))
    lines += ["",
              "--quick runs every example in its quick mode (a smoke test of the whole roadmap).",
              "Figures need matplotlib: pip install \"dlcore[tour]\" (or pip install matplotlib).",
              "The pretrained examples (09_semantic_search, 09_transfer_text, 09_transfer_vision "
              "part A,", "10_chat) need `dlcore data fetch models`; 06_sentiment needs "
              "`dlcore data fetch vader`."]
    return "\n".join(lines)
