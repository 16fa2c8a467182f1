"""The error for importing dlcore from a source tree whose extension was never built.

The usual way to get there: `pip install .` in a clone, then running Python inside the clone.
The current directory comes first on sys.path, so its dlcore/ (sources only) shadows the
installed package, and the import stops at the missing compiled module.
"""
import os

EXTENSION = "dlcore._C._ext"


def _installed_elsewhere(here):
    """Folder of an installed dlcore that this one hides, or None."""
    try:
        from importlib.metadata import distribution
        dist = distribution("dlcore")
        located = os.path.realpath(os.path.join(str(dist.locate_file("")), "dlcore"))
    except Exception:
        return None
    if located != os.path.realpath(here) and os.path.isdir(located):
        return located
    return None


def explain(exc):
    """An ImportError saying what happened and what to do, for a missing extension module;
    any other import error comes back unchanged."""
    if getattr(exc, "name", None) != EXTENSION:
        return exc
    here = os.path.dirname(os.path.abspath(__file__))
    other = _installed_elsewhere(here)
    lines = ["dlcore's compiled kernels (%s) are not built in %s: this is a source tree." % (
        EXTENSION, here)]
    if other:
        lines.append("An installed dlcore is at %s, but the current directory's dlcore/ comes "
                     "first on sys.path and shadows it." % other)
    lines.append("Either run Python from another directory (cd elsewhere), or build this tree "
                 "in place: pip install -e .  (or: python setup.py build_ext --inplace)")
    err = ImportError("\n".join(lines), name="dlcore")
    return err
