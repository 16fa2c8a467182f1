"""What the tour leaves in its output folder besides the figures: results.json (every row in
full), results.txt (the full-width table) and index.html (the table and every figure with its
caption; a page that needs no network: the images are the files beside it)."""
import datetime
import html
import json
import os
import platform

from .examples import example_title
from .table import format_value, full_table, result_text, summary_line


def _cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_facts(quick, jobs=1):
    """Where and how the tour ran: shown on the page, stored in results.json.  threads is the
    engine's thread count; with jobs > 1 examples ran that many at once in worker processes
    of threads_per_job threads each."""
    from .parallel import threads_per_job
    import dlcore
    from dlcore import runtime
    return {"dlcore": dlcore.__version__, "python": platform.python_version(),
            "machine": "%s %s" % (platform.system(), platform.machine()),
            "cpu": _cpu_name(), "cores": os.cpu_count(),
            "simd": runtime.get_isa(), "threads": runtime.get_num_threads(),
            "jobs": jobs, "threads_per_job": threads_per_job(jobs) if jobs > 1 else None,
            "mode": "quick" if quick else "full",
            "load": round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None,
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}


def write_all(rows, out_dir, quick, seconds, jobs=1, cpu=None):
    facts = dict(run_facts(quick, jobs), seconds=round(seconds, 1),
                 cpu_seconds=None if cpu is None else round(cpu, 1))
    with open(os.path.join(out_dir, "results.json"), "w", encoding="utf-8") as f:
        json.dump({"run": facts, "rows": [r.as_dict() for r in rows]}, f, indent=1)
    with open(os.path.join(out_dir, "results.txt"), "w", encoding="utf-8") as f:
        f.write(full_table(rows))
        f.write(summary_line(rows, seconds) + "\n")
    page = os.path.join(out_dir, "index.html")
    with open(page, "w", encoding="utf-8") as f:
        f.write(index_html(rows, facts, summary_line(rows, seconds)))
    return page


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.skipped td { color: #777; } tr.failed td { color: #b00; }
figure { display: inline-block; margin: 0.5em 1em 1em 0; max-width: 100%; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; max-width: 640px; }
code { background: #f4f4f4; padding: 0 3px; }
"""


def _e(x):
    return html.escape(str(x), quote=True)


def _how_run(facts):
    if (facts.get("jobs") or 1) > 1:
        return "%d examples at a time in worker processes of %d thread(s)" % (
            facts["jobs"], facts.get("threads_per_job") or 1)
    return "%d thread(s)" % facts["threads"]


def index_html(rows, facts, summary):
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>dlcore tour (%s)</title>" % _e(facts["mode"]),
           "<style>%s</style></head><body>" % _STYLE,
           "<h1>dlcore tour: the deep-learning roadmap, run</h1>",
           "<p>%s mode, %s; dlcore %s, Python %s on %s, SIMD path %s, %s.<br>%s.</p>"
           % (_e(facts["mode"]), _e(facts["date"]), _e(facts["dlcore"]), _e(facts["python"]),
              _e(facts["machine"]), _e(facts["simd"]), _e(_how_run(facts)), _e(summary)),
           "<h2>Results</h2>", "<table><thead><tr>"]
    out += ["<th>%s</th>" % h for h in ("example", "model", "data", "result", "value",
                                         "seconds", "output")]
    out.append("</tr></thead><tbody>")
    for r in rows:
        res = r.result
        ran = r.status == "run"
        out.append('<tr class="%s"><td><a href="#%s">%s</a></td><td>%s</td><td>%s</td>'
                   '<td>%s</td><td class="num">%s</td><td class="num">%.1f</td>'
                   '<td><a href="logs/%s.txt">log</a></td></tr>'
                   % (r.status, _e(r.stem), _e(r.stem), _e(res.get("model", "-")),
                      _e(res.get("data", "-")),
                      _e(str(res.get("metric", "-")) + (" (%s)" % r.note if r.note else ""))
                      if ran else _e(result_text(r)),
                      _e(format_value(res.get("value"))) if ran else "-", r.seconds,
                      _e(r.stem)))
    out.append("</tbody></table>")
    out.append("<h2>Figures</h2>")
    shown = [r for r in rows if r.figures]
    if not shown:
        out.append("<p>No figures in this run (the examples draw them with matplotlib in the "
                   "full run; <code>pip install matplotlib</code>).</p>")
    for r in rows:
        out.append('<h3 id="%s">%s</h3>' % (_e(r.stem), _e(r.stem)))
        title = example_title(r.path)
        if title:
            out.append("<p>%s</p>" % _e(title))
        if not r.figures:
            out.append("<p><em>no figure%s</em></p>"
                       % (" (skipped)" if r.status == "skipped" else ""))
        for rel, caption in r.figures:
            out.append('<figure><img src="%s" alt="%s"><figcaption>%s</figcaption></figure>'
                       % (_e(rel), _e(caption), _e(caption)))
    out.append("</body></html>\n")
    return "\n".join(out)
