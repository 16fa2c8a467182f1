"""ONNX's backend conformance cases on dlcore, through ONNX's own runner.

    python -m dlcore.onnx.conformance            # counts, and each case that did not pass

The cases ship inside the onnx wheel: node cases generated from onnx/backend/test/case/node
and the models of onnx/backend/test/data/pytorch-converted and pytorch-operator.  Only cases
whose ops all have a converter here are run (the rest count as "not implemented"); each run
case ends as passed, failed (wrong result or an error), or unsupported (the importer raised
UnsupportedOpError: an attribute value or input form dlcore does not implement, e.g. a GRU
with linear_before_reset=0).
"""
import contextlib
import io
import os
import re
import sys
import unittest
import warnings

import onnx
from onnx.backend.test import BackendTest
from onnx.backend.test.loader import load_model_tests

from .backend import DlcoreBackend, is_compatible
from .errors import UnsupportedOpError

__all__ = ["KINDS", "implemented_cases", "run_conformance", "main"]

KINDS = ("node", "pytorch-converted", "pytorch-operator")


def _model(case):
    if case.model is not None:
        return case.model
    return onnx.load(os.path.join(case.model_dir, "model.onnx"))


def implemented_cases(kinds=KINDS):
    """{kind: ([names of cases dlcore implements], number of cases of that kind)}."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind in kinds:
            cases = load_model_tests(kind=kind)
            out[kind] = (sorted(c.name for c in cases if is_compatible(_model(c))), len(cases))
    return out


class _Result(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.passed = []
        self.unsupported = []
        self.failed = []

    @staticmethod
    def _name(test):
        return test.id().rsplit(".", 1)[-1]

    def addSuccess(self, test):
        self.passed.append(self._name(test))

    def addFailure(self, test, err):
        self.failed.append((self._name(test), "%s: %s" % (err[0].__name__, err[1])))

    def addError(self, test, err):
        if issubclass(err[0], UnsupportedOpError):
            self.unsupported.append((self._name(test), str(err[1])))
        else:
            self.failed.append((self._name(test), "%s: %s" % (err[0].__name__, err[1])))


def run_conformance(kinds=KINDS, pattern=None):
    """Runs the implemented cases of `kinds` (names matching the regex `pattern`, if given);
    returns {kind: {"total", "implemented", "passed", "failed", "unsupported"}} with the
    lists of names (failed and unsupported as (name, message))."""
    todo = implemented_cases(kinds)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        bt = BackendTest(DlcoreBackend, __name__)
        names = {}
        for kind, (cases, _) in todo.items():
            for name in cases:
                if pattern is None or re.search(pattern, name):
                    bt.include("^%s_cpu$" % re.escape(name))
                    names[name + "_cpu"] = kind
        if not names:
            bt.include("^$")
        suite = unittest.TestSuite()
        for case in bt.test_cases.values():
            for t in unittest.defaultTestLoader.loadTestsFromTestCase(case):
                if t.id().rsplit(".", 1)[-1] in names:
                    suite.addTest(t)
        res = _Result()
        suite.run(res)
    report = {}
    for kind, (cases, total) in todo.items():
        mine = {n for n, k in names.items() if k == kind}
        report[kind] = {
            "total": total, "implemented": len(mine),
            "passed": sorted(n for n in res.passed if n in mine),
            "failed": sorted((n, m) for n, m in res.failed if n in mine),
            "unsupported": sorted((n, m) for n, m in res.unsupported if n in mine)}
    return report


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    rep = run_conformance(pattern=argv[0] if argv else None)
    for kind, r in rep.items():
        print("%-18s %4d cases, %4d with implemented ops: %4d passed, %3d unsupported variants, "
              "%3d failed" % (kind, r["total"], r["implemented"], len(r["passed"]),
                              len(r["unsupported"]), len(r["failed"])))
    for kind, r in rep.items():
        for n, m in r["unsupported"]:
            print("  unsupported %s: %s" % (n, m.splitlines()[0][:160]))
        for n, m in r["failed"]:
            print("  FAILED %s: %s" % (n, " ".join(m.split())[:300]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
