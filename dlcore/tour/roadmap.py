"""The roadmap's one source of numbers: the record of the last full `dlcore tour` run.

full_run.json (beside this file) keeps every example's result row and run time from a full run
on the project's machine, with a fingerprint of each example's code.  From it come the run times
`dlcore tour --help` lists and the README's roadmap table (rendered by readme_table()); the
tests check that the README's table is exactly what readme_table() renders and that no
example's code changed since it was recorded.  After changing examples:

    dlcore tour --out /tmp/tour                       # or --only the changed chapters
    python -m dlcore.tour.roadmap /tmp/tour/results.json --readme README.md
"""
import argparse
import ast
import hashlib
import json
import os
import re
import sys

from .examples import example_title, list_examples
from .roadmap_text import CHAPTER_NAMES, EXAMPLES

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
    """{"machine": facts, "quick": {seconds, date, cpu_seconds, jobs, threads_per_job, load},
    "rows": {example: row}}, None if absent.
    A row: example, seconds, date, code (fingerprint), result (the example's row)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return {"machine": data.get("machine", {}), "quick": data.get("quick"),
            "rows": {r["example"]: r for r in data.get("rows", [])}}


def save_record(record, path=RECORD):
    rows = [record["rows"][stem] for stem in sorted(record["rows"])]
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"machine": record["machine"], "quick": record["quick"], "rows": rows}, f,
                  indent=1, sort_keys=True)
        f.write("\n")


def _trim(v):
    """Keep what prose could quote: scalars and small containers (no per-epoch curves)."""
    if isinstance(v, dict):
        return {k: _trim(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_trim(x) for x in v] if len(v) <= 12 else None
    if isinstance(v, str) and len(v) > 200:
        return v[:200]
    return v


def merge_results(record, results_path, quick=False):
    """Put a tour's results.json into the record: a full run's rows replace those examples'
    rows (only rows that ran); a quick run of every example gives the quick total."""
    with open(results_path, encoding="utf-8") as f:
        res = json.load(f)
    run = res.get("run", {})
    if (run.get("mode") == "quick") != bool(quick):
        raise ValueError("%s is a %s run; pass --quick for a quick run's results"
                         % (results_path, run.get("mode", "?")))
    record = record or {"machine": {}, "quick": None, "rows": {}}
    note = record.get("machine", {}).get("note")
    record["machine"] = {k: run.get(k) for k in ("cpu", "cores", "threads", "simd")}
    record["machine"]["note"] = note
    if not record["machine"]["cpu"]:       # results written before the tour noted the CPU
        from .report import _cpu_name
        record["machine"].update(cpu=_cpu_name(), cores=os.cpu_count())
    paths = {stem: p for _, stem, p in list_examples()}
    if quick:
        stems = {r["example"] for r in res["rows"]}
        missing = sorted(set(paths) - stems)
        if missing:
            raise ValueError("a quick record needs every example; %s did not run: %s"
                             % (results_path, ", ".join(missing)))
        record["quick"] = {k: run.get(k) for k in ("seconds", "date", "cpu_seconds", "jobs",
                                                   "threads_per_job", "load")}
        return record
    for r in res["rows"]:
        stem = r["example"]
        if r["status"] != "run" or stem not in paths:
            print("not recorded: %s (%s)" % (stem, r["status"]), file=sys.stderr)
            continue
        record["rows"][stem] = {"example": stem, "seconds": r["seconds"],
                                "cpu_seconds": r.get("cpu_seconds"), "load": run.get("load"),
                                "date": run.get("date"), "code": code_fingerprint(paths[stem]),
                                "result": _trim(r["result"])}
    return record


# ---- the README's table -------------------------------------------------------------------------
BEGIN = ("<!-- roadmap: generated by `python -m dlcore.tour.roadmap` from "
         "dlcore/tour/full_run.json and roadmap_text.py; do not edit by hand -->")
END = "<!-- end of the generated roadmap -->"
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_./]+):(\w+)\}")


def _lookup(result, path):
    v = result
    for part in path.split("."):
        if isinstance(v, list) and part.isdigit() and int(part) < len(v):
            v = v[int(part)]
        elif isinstance(v, dict) and part in v:
            v = v[part]
        else:
            raise KeyError(path)
    return v


def _format(v, fmt):
    if fmt == "d":
        return str(v)
    if fmt == "n":
        return "{:,}".format(int(v))
    v = float(v)
    if fmt.startswith("pct"):
        return "%.*f%%" % (int(fmt[3:]), 100 * v)
    if fmt.startswith("f"):
        return "%.*f" % (int(fmt[1:]), v)
    if fmt == "e0":
        return "%.0e" % v
    if fmt == "s1":
        return "%.1f s" % v
    if fmt == "pts":
        return "%+.1f points" % (100 * v)
    raise ValueError("unknown placeholder format %r" % fmt)


def render_snippet(stem, result):
    """An example's prose with its numbers filled in from its recorded result row."""
    text = EXAMPLES[stem][0]

    def fill(m):
        expr, fmt = m.group(1), m.group(2)
        if "/" in expr:
            a, b = expr.split("/")
            return _format(float(_lookup(result, a)) / float(_lookup(result, b)), fmt)
        return _format(_lookup(result, expr), fmt)
    return _PLACEHOLDER.sub(fill, text)


def readme_table(record=None):
    """The roadmap table (markdown) and the line on run times under it."""
    record = record or load_record() or {"machine": {}, "quick": None, "rows": {}}
    by_chapter = {}
    for ch, stem, _ in list_examples():
        by_chapter.setdefault(ch, []).append(stem)
    lines = ["| chapter | example | what it shows (seeded full run) |", "|---|---|---|"]
    for ch in sorted(by_chapter):
        stems = by_chapter[ch]
        texts = []
        for stem in stems:
            row = record["rows"].get(stem)
            if stem not in EXAMPLES:
                texts.append("(%s is not described in dlcore/tour/roadmap_text.py)" % stem)
            elif row is None:
                texts.append("(%s has no recorded full run)" % stem)
            else:
                texts.append(render_snippet(stem, row["result"]))
        lines.append("| %d %s | %s | %s |" % (ch, CHAPTER_NAMES.get(ch, ""),
                                               ", ".join("`%s.py`" % s for s in stems),
                                               "; ".join(texts)))
    return "\n".join(lines) + "\n\n" + timing_text(record)


def timing_text(record):
    rows = list(record["rows"].values())
    if not rows:
        return "(no recorded run)"
    m = record["machine"]
    total = sum(r["seconds"] for r in rows)
    slow = sorted(rows, key=lambda r: -r["seconds"])[:3]
    dates = sorted({(r.get("date") or "?")[:10] for r in rows})
    quick = record.get("quick") or {}
    cpu = [r.get("cpu_seconds") for r in rows]
    cpu_text = (" and %.0f minutes of CPU time" % (sum(cpu) / 60)) if all(cpu) else ""
    loads = [r["load"] for r in rows if r.get("load")]
    load_text = ("; load average %.0f to %.0f on %s cores while it ran"
                 % (min(loads), max(loads), m.get("cores") or "?")) if loads else ""
    note = (" (%s)" % m["note"]) if m.get("note") else ""
    return ("Measured with `dlcore tour` on the project's machine (%s, %s cores, %s threads, "
            "SIMD path %s, shared with other work; %s): the full tour took %.0f minutes%s%s%s, "
            "longest %s; `dlcore tour --quick` took %s."
            % (m.get("cpu") or "?", m.get("cores") or "?", m.get("threads") or "?",
               m.get("simd") or "?", " to ".join([dates[0], dates[-1]] if len(dates) > 1
                                                 else dates), total / 60, cpu_text,
               load_text, note,
               ", ".join("%s %.0f s" % (r["example"], r["seconds"]) for r in slow),
               quick_text(quick)))


def quick_text(quick):
    """How long `dlcore tour --quick` took, and how it ran."""
    if not quick.get("seconds"):
        return "(not recorded)"
    how = []
    if (quick.get("jobs") or 1) > 1:
        how.append("%d examples at a time, %d thread(s) each"
                   % (quick["jobs"], quick.get("threads_per_job") or 1))
    if quick.get("cpu_seconds"):
        how.append("%.0f s of CPU time" % quick["cpu_seconds"])
    if quick.get("load") is not None:
        how.append("load average %.1f as it ended, its own workers included" % quick["load"])
    return "%.1f s" % quick["seconds"] + (" (%s)" % "; ".join(how) if how else "")


def readme_block(text, record=None):
    """README text with the generated block replaced by a fresh rendering."""
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        raise ValueError("the README has no generated roadmap block (%s ... %s)" % (BEGIN, END))
    return text[:i] + BEGIN + "\n\n" + readme_table(record) + "\n\n" + text[j:]


def stale_examples(record=None):
    """Examples whose code changed since their row was recorded (or that have no row)."""
    record = record or load_record() or {"rows": {}}
    out = []
    for _, stem, path in list_examples():
        row = record["rows"].get(stem)
        if row is None or row.get("code") != code_fingerprint(path):
            out.append(stem)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m dlcore.tour.roadmap",
                                 description="Record a tour's results.json as the roadmap's "
                                 "source and regenerate the README's roadmap table.")
    ap.add_argument("results", nargs="*", help="results.json files of `dlcore tour` runs")
    ap.add_argument("--quick", action="store_true", help="the results are of a --quick run "
                    "of every example (records its total time)")
    ap.add_argument("--readme", metavar="PATH", help="README to rewrite the table in")
    ap.add_argument("--note", help="a remark on how the run went, printed with its run time "
                    "('' clears it)")
    args = ap.parse_args(argv)
    record = load_record()
    for path in args.results:
        record = merge_results(record, path, quick=args.quick)
    if args.note is not None and record is not None:
        record["machine"]["note"] = args.note or None
    if args.results or args.note is not None:
        save_record(record)
        print("recorded %s in %s" % (", ".join(args.results), RECORD))
    if args.readme:
        with open(args.readme, encoding="utf-8") as f:
            text = f.read()
        with open(args.readme, "w", encoding="utf-8") as f:
            f.write(readme_block(text, record))
        print("rewrote the roadmap table in %s" % args.readme)
    stale = stale_examples(record)
    if stale:
        print("examples changed since their recorded run: %s" % ", ".join(stale))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _short_title(path):
    t = example_title(path)
    for sep in (" — ", " - ", ": "):
        head, found, rest = t.partition(sep)
        if found and head.lower().startswith("chapter"):
            return rest.rstrip(".")
    return t


def help_text(width=100):
    """The chapters and examples with their recorded full-run seconds, for `tour --help`."""
    rec = load_record() or {"machine": {}, "rows": {}}
    m = rec["machine"]
    when = ("the recorded full run (%s, %s threads; %.0f s in all)"
            % (m.get("cpu") or "?", m.get("threads") or "?",
               sum(r["seconds"] for r in rec["rows"].values()))) if rec["rows"] \
        else "no recorded run"
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
