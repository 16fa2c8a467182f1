"""The package's shape: no import cycle, the core's layering, no function-level imports in the
core, Tensor composed from its op families, and file sizes a reader can hold in their head."""
import ast
import os

import numpy as np
import pytest

import dlcore as dl
from dlcore import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(dl.__file__)))
PKG = os.path.join(ROOT, "dlcore")

# the core: leaf modules, storage, autograd, ops, Tensor, top-level functions, layers
LEAVES = ("dlcore.dtypes", "dlcore.shapes")
CORE = LEAVES + ("dlcore.tensor_base", "dlcore.autograd", "dlcore.tensor", "dlcore.functions")
# function-level imports the core may keep: only genuinely optional dependencies
OPTIONAL_IMPORTS = set()


def _modules():
    """{module name: (path, is_package)} for every .py file under dlcore/."""
    mods = {}
    for dirpath, dirnames, filenames in os.walk(PKG):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for f in filenames:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
                is_pkg = parts[-1] == "__init__"
                mods[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return mods


MODULES = _modules()


def _imports(name):
    """(ast node, absolute target module, at module level?) for each import in module `name`.

    `from pkg import x` targets pkg.x when that is a module, pkg otherwise."""
    path, is_pkg = MODULES[name]
    tree = ast.parse(open(path).read(), path)
    top = set(id(n) for n in tree.body)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node, a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            for a in node.names:
                sub = mod + "." + a.name
                out.append((node, sub if sub in MODULES else mod, id(node) in top))
    return out


def _graph():
    """Module -> set of dlcore modules that importing it runs (the target and every package on
    the way to it that is not already an ancestor of the importer)."""
    graph = {}
    for name in MODULES:
        parts = name.split(".")
        ancestors = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        deps = set()
        for _, target, _ in _imports(name):
            tparts = target.split(".")
            for i in range(1, len(tparts) + 1):
                p = ".".join(tparts[:i])
                if p in MODULES and p not in ancestors:
                    deps.add(p)
        graph[name] = deps
    return graph


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, comps = {}, {}, set(), [], []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))
    return comps


def _loop_in(comp, graph):
    """One concrete loop a -> b -> ... -> a inside a strongly connected component."""
    members = set(comp)
    path, seen = [comp[0]], {comp[0]: 0}
    while True:
        nxt = sorted(d for d in graph[path[-1]] if d in members)
        back = [d for d in nxt if d in seen]
        if back:
            return path[seen[back[0]]:] + [back[0]]
        seen[nxt[0]] = len(path)
        path.append(nxt[0])


def test_import_graph_has_no_cycle():
    graph = _graph()
    assert "dlcore.tensor" in graph and graph["dlcore.tensor"], "the graph walker found nothing"
    comps = _cycles(graph)
    loops = [" -> ".join(_loop_in(c, graph)) for c in comps]
    assert not comps, "import cycles among dlcore's modules:\n" + "\n".join(
        "  %s\n    (all of: %s)" % (loop, ", ".join(c)) for loop, c in zip(loops, comps))


def test_cycle_finder_reports_a_loop():
    # the checker itself: a planted loop is found and printed in order
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    comps = _cycles(graph)
    assert comps == [["a", "b", "c"]]
    assert _loop_in(comps[0], graph) == ["a", "b", "c", "a"]


def _dlcore_imports(name):
    return {t for _, t, _ in _imports(name) if t == "dlcore" or t.startswith("dlcore.")}


def test_core_layering():
    """leaf (dtypes, shapes) -> tensor_base -> autograd -> ops -> tensor -> functions -> nn."""
    for leaf in LEAVES:
        assert _dlcore_imports(leaf) == set(), "%s must import nothing from dlcore" % leaf
    assert _dlcore_imports("dlcore.tensor_base") <= set(LEAVES)
    autograd = [m for m in MODULES if m == "dlcore.autograd" or m.startswith("dlcore.autograd.")]
    assert len(autograd) > 1
    for m in autograd:  # the autograd package imports only below itself (and its own modules)
        extra = {t for t in _dlcore_imports(m) if not t.startswith("dlcore.autograd")}
        assert extra <= set(LEAVES) | {"dlcore.tensor_base"}, (m, extra)
    above_ops = ("dlcore.tensor", "dlcore.functions", "dlcore.nn", "dlcore.models",
                 "dlcore.optim", "dlcore.data", "dlcore.train", "dlcore.io", "dlcore.cli",
                 "dlcore.bench", "dlcore.text", "dlcore.metrics")
    ops = [m for m in MODULES if m.startswith("dlcore.ops.")]
    assert len(ops) > 10
    bad = {m: sorted(t for t in _dlcore_imports(m)
                     if t == "dlcore" or any(t == a or t.startswith(a + ".") for a in above_ops))
           for m in ops}
    bad = {m: t for m, t in bad.items() if t}
    assert not bad, "ops sit below Tensor; these import from above: %s" % bad


def test_no_function_level_imports_in_the_core():
    names = [m for m in MODULES if m in CORE or m.startswith("dlcore.ops.") or
             m.startswith("dlcore.autograd.") or
             m == "dlcore.nn" or m.startswith("dlcore.nn.")]
    assert len(names) > 30
    found = []
    for name in names:
        for node, target, at_top in _imports(name):
            if not at_top and target not in OPTIONAL_IMPORTS:
                found.append("%s:%d imports %s" % (MODULES[name][0], node.lineno, target))
    assert not found, "imports inside functions (move them to the top):\n" + "\n".join(found)


def test_function_level_import_is_detected(tmp_path):
    # the checker itself sees an import nested in a function, a method and a conditional
    src = "import os\n\ndef f():\n    import json\n\nclass C:\n    def m(self):\n" \
          "        from . import x\n\nif True:\n    import re\n"
    tree = ast.parse(src)
    top = set(id(n) for n in tree.body)
    nested = [n.lineno for n in ast.walk(tree)
              if isinstance(n, (ast.Import, ast.ImportFrom)) and id(n) not in top]
    assert sorted(nested) == [4, 8, 11]


def _lines(path):
    with open(path) as f:
        return sum(1 for _ in f)


def test_class_tensor_is_small():
    path = MODULES["dlcore.tensor"][0]
    tree = ast.parse(open(path).read())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor"]
    n = cls.end_lineno - cls.lineno + 1
    assert n < 300, "class Tensor is %d lines; its op families' methods belong in ops/" % n


def test_no_file_over_600_lines():
    long = sorted((_lines(p), os.path.relpath(p, ROOT)) for p, _ in MODULES.values()
                  if _lines(p) > 600)
    assert not long, "files over 600 lines: %s" % long


# ---- Tensor composed from its families ----------------------------------------------------------
def test_every_op_returns_exactly_tensor():
    a = dl.randn(3, 4, requires_grad=True)
    p = nn.Parameter(np.ones((3, 4), np.float32))
    results = [a + 1, 2 * a, a @ a.T, a.sum(), a.max(1).values, a.max(1).indices, a.argmax(),
               a.reshape(12), a[0], a.T, a.relu(), a.softmax(-1), a > 0, a.all(), a.detach(),
               a.data, a.clone(), a.to(dl.float64), a.sort().values, p + 1, p * p, p.sum(),
               p[0], p.detach(), dl.cat([a, p]), dl.where(a > 0, a, p), dl.zeros(2),
               dl.tensor([1]), dl.from_numpy(np.zeros(2)), nn.functional.linear(a, p),
               dl.Tensor._wrap(np.zeros(1)), nn.Parameter._wrap(np.zeros(1))]
    (a * p).sum().backward()
    results += [a.grad, p.grad]
    for i, r in enumerate(results):
        assert type(r) is dl.Tensor, "result %d is a %s" % (i, type(r).__name__)
        assert isinstance(r, dl.Tensor)


def test_tensor_methods_come_from_their_families():
    from dlcore.autograd import tensor_methods
    from dlcore.ops import activation, arith, compare, matmul, reduce, shape
    owner = {"backward": tensor_methods, "__add__": arith, "exp": arith, "__eq__": compare,
             "sum": reduce, "max": reduce, "reshape": shape, "__getitem__": shape,
             "relu": activation, "__matmul__": matmul}
    for name, module in owner.items():
        defining = next(c for c in dl.Tensor.__mro__ if name in vars(c))
        assert defining.__module__ == module.__name__, (name, defining)
    t = dl.ones(2)
    assert hash(t) == id(t) and len({t, t}) == 1  # defining __eq__ must not drop __hash__
    assert "_data" not in vars(t)  # storage stays in slots, not the instance dict


def test_second_concrete_tensor_class_is_refused():
    from dlcore.tensor_base import TensorBase
    with pytest.raises(TypeError, match="second concrete Tensor class"):
        class Other(TensorBase, concrete=True):
            pass
    assert type(dl.ones(1) + 1) is dl.Tensor


def test_old_import_paths_still_work():
    from dlcore.tensor import (Tensor, Size, SortResult, float32, _norm_dim,  # noqa: F401
                               _check_device, get_default_dtype, _operand, randn)
    from dlcore.autograd import Function, gradcheck, no_grad  # noqa: F401
    from dlcore.ops.matmul import linear, mm  # noqa: F401
    from dlcore.ops.shape import Cat, Reshape  # noqa: F401
    assert _norm_dim(-1, 3, "x") == 2 and Size((2, 3)).numel() == 6


# Only the op layer, the fused optimizers and the runtime module talk to the compiled kernels;
# everything else (nn, data, models, bench, cli, jit above its executor) goes through them, so a
# kernel signature change is absorbed in one place and every call passes the ops' checks.
# dlcore.jit.executor is the inference executor's one door to the extension: it hands a whole
# plan (a flat step list over pre-planned buffers) to the C loop that runs it without Python,
# which no op-level function can express; the rest of dlcore.jit goes through it.
C_CALLERS = ("dlcore.ops", "dlcore.optim", "dlcore.runtime", "dlcore._C", "dlcore.jit.executor")


def _imports_extension(name):
    for _node, target, _top in _imports(name):
        if target == "dlcore._C" or target.startswith("dlcore._C."):
            return True
    return False


def test_only_ops_optim_and_runtime_import_the_extension():
    offenders = [m for m in MODULES
                 if not any(m == c or m.startswith(c + ".") for c in C_CALLERS)
                 and _imports_extension(m)]
    assert offenders == [], "modules importing dlcore._C outside %s: %s" % (C_CALLERS, offenders)
