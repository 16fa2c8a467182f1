"""What the roadmap examples share: their command line, seeding, figures and the result line.

Each example defines main(quick=False, ...) that returns its row for `dlcore tour` (a dict with
chapter, model, data, metric, value and whatever else it measured) and ends with

    if __name__ == "__main__":
        run(main)

run() makes a command-line option of each keyword argument of main (--quick; --out DIR for
out_dir, where the example saves its figures; others such as --full or --data PATH), calls
main, and prints the result line.  `dlcore tour` calls main(quick=...) itself, in its output
folder.
"""
import argparse
import functools
import inspect
import os
import sys

import numpy as np

import dlcore as dl

__all__ = ["run", "seed", "one_thread", "pyplot", "save_figure"]


def seed(s=0):
    """Seed dlcore's random stream (initial weights, dropout, shuffling) with `s` and return a
    NumPy Generator seeded alike, for the example's own draws."""
    dl.manual_seed(s)
    return np.random.default_rng(s)


def one_thread(main):
    """Decorator: run `main` on one kernel thread and restore the thread count afterwards.  For
    small models, where no layer has work worth splitting and, on a busy machine, OpenMP's
    synchronisation costs more than a second thread saves."""
    @functools.wraps(main)
    def single_threaded(*args, **kwargs):
        with dl.num_threads(1):
            return main(*args, **kwargs)
    return single_threaded


def pyplot():
    """matplotlib.pyplot drawing to files only (the Agg backend), or None with a note when
    matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        print("(matplotlib is not installed: no figures)")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, out_dir, name, dpi=80):
    """Save `fig` as out_dir/name, close it and return the path."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    print("saved", path)
    return path


def plot_per_start(curves, out_dir, name, xlabel, ylabel, first_x=0, log_y=False,
                   legend_fontsize=None, **line):
    """One panel per starting point, side by side: curves is {start: {label: values}}, each
    label a line (x counted from first_x).  Saved as out_dir/name; None without matplotlib."""
    plt = pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, len(curves), figsize=(10, 3.5), sharey=True)
    for ax, (start, by_label) in zip(axes, curves.items()):
        for label, ys in by_label.items():
            ax.plot(range(first_x, first_x + len(ys)), ys, label=label, **line)
        ax.set_title("%s start" % start)
        ax.set_xlabel(xlabel)
        if log_y:
            ax.set_yscale("log")
    axes[0].set_ylabel(ylabel)
    axes[-1].legend(fontsize=legend_fontsize)
    fig.tight_layout()
    return save_figure(fig, out_dir, name)


def _options(main):
    doc = sys.modules[main.__module__].__doc__ or ""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, p in inspect.signature(main).parameters.items():
        if p.default is inspect.Parameter.empty:
            continue
        flag = "--out" if name == "out_dir" else "--" + name.replace("_", "-")
        if name == "quick":
            parser.add_argument(flag, action="store_true",
                                help="a few seconds: less data, smaller models, weaker numbers")
        elif isinstance(p.default, bool) or p.annotation is bool:
            parser.add_argument(flag, dest=name, action="store_true", default=p.default)
        else:
            # an annotated knob (`steps: int = None`) parses to its type; None = quick/full's value
            kind = p.annotation if p.annotation in (int, float) else None
            parser.add_argument(flag, dest=name, default=p.default, metavar=name.upper(),
                                type=kind, help="default: %s" % (
                                    "set by --quick" if p.default is None else p.default,))
    return parser


def run(main, argv=None):
    """Parse the command line into main's keyword arguments, run main and print its result."""
    row = main(**vars(_options(main).parse_args(argv)))
    print("\nresult: %s | %s | %s | %s = %s" % (row.get("chapter"), row.get("model"),
                                                row.get("data"), row.get("metric"),
                                                row.get("value")))
    return row
