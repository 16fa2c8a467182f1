"""Run a public-script module with `import torch` bound to a chosen engine.

`load(name, engine)` executes tests/public_scripts/<name>.py from its source text while
`sys.modules["torch"]` is `engine` (dlcore or real torch); every `import torch.x.y` / `from
torch.x import z` inside the script then resolves to `engine.x.y`. dlcore's submodules are
served under their torch names by a finder that hands back the very module objects dlcore
already has (no second copy of any class), and the previous `torch*` entries of sys.modules
come back when the block ends.
"""
import contextlib
import importlib
import importlib.abc
import importlib.util
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self._own_spec = module.__spec__
        return module

    def exec_module(self, module):
        # The import system stamped the alias spec on the module; dlcore keeps its own.
        module.__spec__ = self._own_spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    def __init__(self, alias, target):
        self.alias, self.target = alias, target

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(self.alias + "."):
            return None
        real = self.target + fullname[len(self.alias):]
        if importlib.util.find_spec(real) is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(real))


@contextlib.contextmanager
def torch_is(engine):
    """Within the block `import torch` (and its submodules) gives `engine`."""
    saved = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    finder = None
    if engine.__name__ != "torch":
        for k in saved:
            del sys.modules[k]
        sys.modules["torch"] = engine
        prefix = engine.__name__ + "."
        for k, v in list(sys.modules.items()):
            if k.startswith(prefix):
                sys.modules["torch." + k[len(prefix):]] = v
        finder = _AliasFinder("torch", engine.__name__)
        sys.meta_path.insert(0, finder)
    try:
        yield engine
    finally:
        if finder is not None:
            sys.meta_path.remove(finder)
            for k in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
                del sys.modules[k]
            sys.modules.update(saved)


def source(name):
    with open(os.path.join(HERE, name + ".py"), encoding="utf-8") as f:
        return f.read()


def load(name, engine, run_name=None):
    """Execute the script's source with torch bound to `engine`; return its module.

    The module is registered in sys.modules under a per-engine name while the caller uses it,
    so `torch.save(model)` of a class defined in the script can name that class's module.
    """
    run_name = run_name or "public_script_{}_{}".format(name, engine.__name__)
    module = types.ModuleType(run_name)
    module.__file__ = os.path.join(HERE, name + ".py")
    sys.modules[run_name] = module
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    with torch_is(engine):
        exec(compile(source(name), module.__file__, "exec"), module.__dict__)
    return module


def run(name, engine, quick=True, **kwargs):
    """Run the script's main() on `engine` (dlcore or torch); returns main's result dict."""
    module = load(name, engine)
    try:
        with torch_is(engine):
            return module.main(quick=quick, **kwargs)
    finally:
        # a script may set a process-wide default device (the autograd tutorial does); put it back
        engine.set_default_device(None)
        sys.modules.pop(module.__name__, None)


if __name__ == "__main__":
    # python tests/public_scripts/as_torch.py SCRIPT [--engine dlcore|torch] [--full] [ARGS...]
    import argparse
    import importlib as _il
    cli = argparse.ArgumentParser(description="run a public script with torch bound to an engine")
    cli.add_argument("script")
    cli.add_argument("--engine", default="dlcore", choices=["dlcore", "torch"])
    cli.add_argument("--full", action="store_true", help="the script's full sizes, not quick")
    known, rest = cli.parse_known_args()
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # this checkout's dlcore
    print(run(known.script, _il.import_module(known.engine), quick=not known.full, argv=rest))
