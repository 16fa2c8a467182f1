"""The tour's tables: a 100-column one printed a row at a time, and a full-width one for a file.

The terminal table has three columns (example, result, seconds); a result longer than its column
wraps onto continuation lines.  The model and data descriptions, which make rows several hundred
characters wide, go to the full table (results.txt) and to index.html.
"""
import textwrap

WIDTH = 100
_EXAMPLE_W = 28
_SECONDS_W = 8
_RESULT_W = WIDTH - _EXAMPLE_W - _SECONDS_W - 4      # two spaces between columns


def format_value(v):
    """A result value as the tables show it: floats to 4 significant digits, None as '-'."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return _float(v)
    try:                                   # NumPy scalars
        import numpy as np
        if isinstance(v, np.floating):
            return _float(float(v))
        if isinstance(v, np.integer):
            return str(int(v))
    except ImportError:
        pass
    return str(v)


def _float(v):
    s = "%.4g" % v
    # 1.0 stays a float to the eye (an accuracy of 1.0, not a count of 1)
    return s if any(c in s for c in ".enai") else s + ".0"


def result_text(row):
    """What the result column says for one row (see runner.Row)."""
    if row.status == "failed":
        return "FAILED %s" % row.error
    if row.status == "skipped":
        return "skipped: needs `%s`" % row.enable if row.enable else "skipped"
    r = row.result
    text = "%s: %s" % (r.get("metric", "-"), format_value(r.get("value")))
    if row.note:
        text += " (%s)" % row.note
    return text


def header():
    line = "%-*s  %-*s  %*s" % (_EXAMPLE_W, "example", _RESULT_W, "result", _SECONDS_W, "seconds")
    return line.rstrip() + "\n" + "-" * WIDTH


def row_lines(row):
    """One row of the terminal table: a list of lines, none longer than WIDTH."""
    name = row.stem if len(row.stem) <= _EXAMPLE_W else row.stem[:_EXAMPLE_W - 1] + "~"
    parts = textwrap.wrap(result_text(row), _RESULT_W, break_long_words=True,
                          break_on_hyphens=False) or [""]
    secs = "%.1f" % row.seconds
    lines = ["%-*s  %-*s  %*s" % (_EXAMPLE_W, name, _RESULT_W, parts[0], _SECONDS_W, secs)]
    lines += [("%-*s  %s" % (_EXAMPLE_W, "", p)).rstrip() for p in parts[1:]]
    return lines


def summary_line(rows, seconds):
    """'21 examples: 17 run, 3 skipped, 1 failed in 512.3 s'."""
    n = {s: sum(r.status == s for r in rows) for s in ("run", "skipped", "failed")}
    return ("%d example%s: %d run, %d skipped, %d failed in %.1f s"
            % (len(rows), "" if len(rows) == 1 else "s", n["run"], n["skipped"], n["failed"],
               seconds))


def full_table(rows):
    """Every column at its full width: the text of results.txt."""
    cols = ["example", "chapter", "status", "model", "data", "metric", "value", "seconds",
            "figures", "note"]
    cells = []
    for r in rows:
        res = r.result
        cells.append([r.stem, str(res.get("chapter", "%02d" % r.chapter)), r.status,
                      str(res.get("model", "-")), str(res.get("data", "-")),
                      str(res.get("metric", "-")) if r.status == "run" else result_text(r),
                      format_value(res.get("value")) if r.status == "run" else "-",
                      "%.1f" % r.seconds, ", ".join(f for f, _ in r.figures) or "-",
                      r.note or "-"])
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    lines = [fmt % tuple(cols), fmt % tuple("-" * w for w in widths)]
    lines += [fmt % tuple(row) for row in cells]
    return "\n".join(ln.rstrip() for ln in lines) + "\n"
