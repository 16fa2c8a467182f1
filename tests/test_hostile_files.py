"""Hostile files: every file of the corpus (tests/data/hostile/make_corpus.py: crafted files,
truncations and bit-flips of a valid file of every format dlcore reads) through every loader.

Each load runs in a worker process under an address-space limit, with a timeout, so a loader
that regresses into a hang or an unbounded allocation fails this test instead of stalling CI.
A load must either succeed (a valid fixture, or a bit-flip inside tensor data) or raise a
ValueError/OSError whose message names the file; crafted files and truncations must be
refused; no load may grow the peak RSS by 100 MB or more; and no pickle payload may run.
"""
import json
import os
import re
import selectors
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS_DIR = os.path.join(HERE, "data", "hostile")
sys.path.insert(0, CORPUS_DIR)
import make_corpus  # noqa: E402

RSS_LIMIT_MB = 100
# A hang fails the test; the target is well under a second per load (the slowest load is
# printed), but the machine is shared, so the hard limit is generous.
HANG_SECONDS = 20

# (file, loader) pairs that fail because of code this suite does not own; each runs in
# test_known_failures, a strict xfail, so a fix shows up at once.
KNOWN_FAILURES = {}


class Worker:
    """tests/data/hostile/load_worker.py in a subprocess; restarted after a hang or a crash."""

    def __init__(self):
        self.proc = None

    def start(self):
        env = dict(os.environ, DLCORE_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   PYTHONPATH=os.pathsep.join(filter(None, [os.path.dirname(HERE),
                                                            os.environ.get("PYTHONPATH")])))
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(CORPUS_DIR, "load_worker.py")], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, bufsize=1, cwd=os.path.dirname(HERE))
        hello = self._read(120)
        assert hello and hello.get("ready"), "the load worker did not start: %r" % (hello,)
        self.peak_reset = hello["peak_reset"]

    def _read(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not sel.select(timeout):
                return None
            line = self.proc.stdout.readline()
        finally:
            sel.close()
        return json.loads(line) if line else {"died": self.proc.wait()}

    def load(self, loader, path):
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.proc.stdin.write("%s\t%s\n" % (loader, path))
        self.proc.stdin.flush()
        out = self._read(HANG_SECONDS)
        if out is None or "died" in out:
            self.stop()
            return {"hung" if out is None else "died": True}
        return out

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    return folder, make_corpus.build(str(folder))


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.stop()


def _judge(case, loader, r):
    """A list of what is wrong with result r of `loader` on `case` (empty if nothing)."""
    name = case.name
    if r.get("hung"):
        return ["hung (no answer in %d s)" % HANG_SECONDS]
    if r.get("died"):
        return ["killed the worker (exit status %r)" % r["died"]]
    bad = []
    # without /proc/self/clear_refs the peak cannot be reset; RLIMIT_AS still bounds the worker
    if r.get("peak_reset") and r["rss_growth_mb"] >= RSS_LIMIT_MB:
        bad.append("peak RSS grew %.0f MB" % r["rss_growth_mb"])
    if r["ok"]:
        if case.must_fail is True or loader in (case.must_fail or ()):
            bad.append("accepted a file it must refuse")
        return bad
    if loader in case.valid_for:
        bad.append("refused the valid fixture: %s: %s" % (r["type"], r["message"][:200]))
    if not {"ValueError", "OSError"} & set(r["mro"]):
        bad.append("raised %s, not a ValueError/OSError: %s | %s"
                   % (r["type"], r["message"][:200], r["where"][-300:]))
    elif name not in r["message"]:
        bad.append("error does not name the file: %s: %s" % (r["type"], r["message"][:200]))
    want = case.expect.get(loader)
    if want and not re.search(want, r["message"]):
        bad.append("error should match %r: %s" % (want, r["message"][:300]))
    return bad


def test_every_hostile_file_through_every_loader(corpus, worker):
    folder, cases = corpus
    loaders = json.loads(subprocess.check_output(
        [sys.executable, os.path.join(CORPUS_DIR, "load_worker.py"), "--list"],
        cwd=os.path.dirname(HERE)))
    assert len(cases) >= 300 and len(loaders) >= 7
    worker.start()
    problems, slowest, biggest, n, timings = [], (0.0, ""), (0.0, ""), 0, []
    for case in cases:
        for loader in loaders:
            if (case.name, loader) in KNOWN_FAILURES:
                continue
            r = worker.load(loader, case.path)
            timings.append((r.get("seconds", -1), case.name, loader))
            n += 1
            problems += ["%s via %s: %s" % (case.name, loader, b) for b in _judge(case, loader, r)]
            if "seconds" in r:
                slowest = max(slowest, (r["seconds"], "%s via %s" % (case.name, loader)))
                biggest = max(biggest, (r["rss_growth_mb"], "%s via %s" % (case.name, loader)))
    print("\n%d files x %d loaders = %d loads; slowest %.3f s (%s); largest RSS growth %.1f MB "
          "(%s)" % (len(cases), len(loaders), n, slowest[0], slowest[1], biggest[0], biggest[1]))
    if os.environ.get("DLCORE_HOSTILE_TIMINGS"):
        with open(os.environ["DLCORE_HOSTILE_TIMINGS"], "w") as f:
            json.dump(sorted(timings, reverse=True), f)
    assert not os.path.exists(os.path.join(str(folder), "PWNED")), "a pickle payload ran"
    assert not problems, "%d problems:\n%s" % (len(problems), "\n".join(problems))


@pytest.mark.xfail(strict=True, reason="io.py owner")
@pytest.mark.parametrize("pair", sorted(KNOWN_FAILURES), ids=lambda p: "%s-%s" % p)
def test_known_failures(corpus, worker, pair):
    folder, cases = corpus
    case = next(c for c in cases if c.name == pair[0])
    problems = _judge(case, pair[1], worker.load(pair[1], case.path))
    assert not problems, "%s: %s" % (KNOWN_FAILURES[pair], problems)


# ---- what the corpus cannot show from outside: opt-ins, and agreement with other readers ----
def test_stride0_view_needs_opt_in(tmp_path):
    from dlcore import weights as W
    from make_corpus import ODict, tensor_ref, torch_zip, torch_legacy
    one = np.full(1, 2.5, np.float32).tobytes()
    for legacy in (False, True):
        sd = ODict((("w", tensor_ref("0", "f4", 1, 0, (1024, 1024), (0, 0), legacy)),))
        p = tmp_path / ("s%d.pt" % legacy)
        p.write_bytes(torch_legacy(sd, {"0": (4, one)}) if legacy else torch_zip(sd, {"0": one}))
        with pytest.raises(ValueError, match=r"s%d\.pt.*4194304 bytes from a 4-byte storage.*"
                           r"max_expansion=None" % legacy):
            W.load_torch(p)
        got = W.load_torch(p, max_expansion=None)["w"]
        assert got.shape == (1024, 1024) and got.flags.writeable
        np.testing.assert_array_equal(got, np.full((1024, 1024), 2.5, np.float32))
    # a small broadcast (a scalar shown as a 1000-vector) stays within the default slack
    sd = ODict((("w", tensor_ref("0", "f4", 1, 0, (1000,), (0,), False)),))
    p.write_bytes(torch_zip(sd, {"0": one}))
    np.testing.assert_array_equal(W.load_torch(p)["w"], np.full(1000, 2.5, np.float32))


def test_pickle_graph_shared_and_cyclic(tmp_path):
    """Shared containers are visited once (a 2**80-path DAG loads at once) and stay shared."""
    from dlcore import weights as W
    from make_corpus import torch_zip
    dag = b"\x80\x02]q\x00" + b"".join(b"](h%sh%seq%s" % (bytes([i]), bytes([i]), bytes([i + 1]))
                                       for i in range(80)) + b"."
    p = tmp_path / "dag.pt"
    p.write_bytes(torch_zip(dag, {}))
    top = W.load_torch(p)
    assert top[0] is top[1] and top[0][0] is top[0][1]
    p.write_bytes(torch_zip(b"\x80\x02]q\x00h\x00a.", {}))
    cyc = W.load_torch(p)
    assert cyc[0] is cyc


def test_gguf_fixture_agrees_with_gguf_package(corpus):
    gguf = pytest.importorskip("gguf")
    from dlcore.weights import load_gguf
    folder, _ = corpus
    path = os.path.join(str(folder), "model.gguf")
    ours, theirs = load_gguf(path), gguf.GGUFReader(path)
    assert ours.names == [t.name for t in theirs.tensors]
    for t in theirs.tensors:
        np.testing.assert_array_equal(ours.raw(t.name), np.asarray(t.data))
        assert ours.tensor_type(t.name) == t.tensor_type.name
    assert ours.metadata["tokenizer.ggml.tokens"] == theirs.fields[
        "tokenizer.ggml.tokens"].contents()
    assert ours.metadata["nested"] == [[1, 2], [3]]
    assert ours.metadata["llama.attention.head_count_kv"] == 2
    f32 = ours.tensor("w.f32")
    assert f32.shape == (2, 32) and f32.dtype == np.float32
    np.testing.assert_array_equal(ours.tensor("w.f16"), f32.astype(np.float16).astype(np.float32))
    bf16 = ours.tensor("w.bf16")  # float32 with the low 16 bits dropped
    np.testing.assert_array_equal(bf16, (f32[:1].view(np.uint32) & 0xFFFF0000).view(np.float32))
    np.testing.assert_array_equal(ours.tensor("ids.i32"), [7, -1, 2 ** 31 - 1])
    assert ours.tensor("w.q8_0").shape == (2, 32) and ours.tensor("w.q4_0").shape == (1, 32)


@pytest.mark.parametrize("name", ["torch_zip.pt", "torch_legacy.pt"])
def test_torch_fixtures_agree_with_torch(corpus, torch, name):
    from dlcore.weights import load_torch
    folder, _ = corpus
    path = os.path.join(str(folder), name)
    ref = torch.load(path, weights_only=True)
    ours = load_torch(path)
    assert list(ours) == list(ref)
    for k, v in ref.items():
        np.testing.assert_array_equal(ours[k], v.numpy())
        assert ours[k].shape == tuple(v.shape) and ours[k].dtype == v.numpy().dtype
