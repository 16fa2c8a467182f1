"""dl.distributed and DistributedDataParallel on 2 real MPI ranks (mpirun, loopback only).

Skipped only where mpi4py or mpirun is missing (pip install "dlcore[distributed]").  Each test
launches one script of tests/mpi under `mpirun -np 2`, with a timeout, and reads what rank 0
wrote."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "tests", "mpi")

pytest.importorskip("mpi4py", reason='needs mpi4py: pip install "dlcore[distributed]"')
MPIRUN = shutil.which("mpirun")
pytestmark = pytest.mark.skipif(MPIRUN is None, reason="needs mpirun (Open MPI)")


def mpirun(args, timeout, np_=2):
    """Run `python args...` on np_ ranks; returns (returncode, output, seconds)."""
    cmd = [MPIRUN, "-np", str(np_), "--oversubscribe"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    # MPI traffic over TCP on the loopback interface only
    cmd += ["--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo", sys.executable]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + ([env["PYTHONPATH"]]
                                                  if env.get("PYTHONPATH") else []))
    env["DLCORE_NUM_THREADS"] = "1"  # two ranks on a shared machine: one kernel thread each
    t0 = time.monotonic()
    p = subprocess.run(cmd + list(args), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return p.returncode, p.stdout, time.monotonic() - t0


def _equivalence(tmp_path, *args):
    out = tmp_path / "eq.json"
    code, text, _ = mpirun([os.path.join(SCRIPTS, "ddp_equivalence.py"), str(out), "--steps",
                            "50", "--lr", "0.05", "--momentum", "0.9"] + list(args), 240)
    assert code == 0, text
    res = json.loads(out.read_text())
    assert res["world_size"] == 2 and res["steps"] == 50
    return res["models"]


def _check_equal(models, kinds, tol):
    for kind in kinds:
        r = models[kind]
        assert r["param_rel_diff"] <= tol, (kind, r)
        assert r["buffer_rel_diff"] <= tol, (kind, r)
        assert r["replicas_identical"], (kind, r)
        assert r["trained_rel_change"] > 1e-2, (kind, r)  # training really moved the weights


def test_two_ranks_equal_one_process_with_twice_the_batch(tmp_path):
    """Acceptance: after 50 SGD steps, 2 ranks x batch B hold the parameters (and SyncBatchNorm
    running statistics) of 1 process x batch 2B, for an MLP, the chapter-4 CNN, an LSTM, and a
    model with shared weights whose buckets start during backward.  In float64 the match is to
    rounding (asked: 1e-5 relative; asserted: 1e-9), which is what shows the reduction exact."""
    models = _equivalence(tmp_path, "--float64")
    _check_equal(models, ("mlp", "cnn", "lstm", "shared"), 1e-9)
    shared = models["shared"]
    assert shared["max_contributions_per_param"] == 2
    assert shared["buckets"] > 2
    # the first bucket left while backward still had contributions to deliver
    assert shared["launch_log"][0][1] < shared["contributions"]
    assert [b for b, _ in shared["launch_log"]] == list(range(shared["buckets"]))


def test_two_ranks_equal_one_process_in_float32(tmp_path):
    """The same in float32 within 1e-5.  Not the CNN: its ReLUs after batch norm turn float32
    rounding differences into different gradients whenever an activation sits within rounding
    of zero; one process with BatchNorm2d's C kernel against the same model with float64
    statistics (no communication at all) differs by 1e-2 after these 50 steps too
    (docs/scaling.md)."""
    _check_equal(_equivalence(tmp_path, "mlp", "lstm", "shared"), ("mlp", "lstm", "shared"), 1e-5)


def test_collectives_no_sync_unused_parameters_and_errors(tmp_path):
    out = tmp_path / "features.json"
    code, text, _ = mpirun([os.path.join(SCRIPTS, "dist_features.py"), str(out)], 120)
    assert code == 0, text
    assert len(re.findall(r"^Epoch 2/2", text, re.M)) == 1, text  # fit printed on rank 0 only
    assert json.loads(out.read_text()) == [
        "all_reduce_ops_in_place", "broadcast_gather_scatter", "mean_over_ranks_for_logs",
        "point_to_point_and_timeout",
        "no_sync_accumulates_then_reduces", "unused_parameters",
        "errors_instead_of_silent_or_hanging", "broadcasts_weights_and_buffers",
        "sync_batchnorm_matches_batchnorm_on_all_samples", "fit_under_ddp_logs_and_saves_once"]


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_failing_rank_ends_the_job(how):
    """Acceptance: a rank that raises or is killed makes the others exit with an error within
    60 s; subprocess's timeout turns a hang into a failure."""
    code, text, seconds = mpirun([os.path.join(SCRIPTS, "ddp_fault.py"), how], 60)
    assert code != 0, text
    assert "rank 0 step 3" not in text  # rank 0 never finished a step without rank 1
    assert "rank 0 step 2" in text  # ...but it did train until the failure
    if how == "raise":
        assert "injected failure on rank 1" in text
        assert "rank 1 failed with RuntimeError; aborting the MPI job" in text
    else:
        assert re.search(r"signal 9|Killed|Socket closed|stopped by the launcher", text), text


def test_example_12_trains_on_two_ranks():
    code, text, _ = mpirun([os.path.join(ROOT, "python", "12_data_parallel.py"), "--quick",
                            "--epochs", "2"], 180)  # the tour's quick run trains 1 epoch
    assert code == 0, text
    assert "2 rank(s) x 1 thread(s)" in text
    # progress lines come from rank 0 only
    assert len(re.findall(r"^Epoch 2/2", text, re.M)) == 1, text
    acc = float(re.search(r"test accuracy: ([0-9.]+)", text).group(1))
    assert acc >= 0.9, text


def test_join_trains_ranks_with_uneven_inputs(tmp_path):
    """join(): a rank that runs out of batches shadows the others' all-reduces with zero
    gradients; every rank ends with the parameters (and BatchNorm statistics) of one process
    that applies, per step, the active ranks' summed gradient divided by the initial world
    size or by the active ranks (float64, to rounding); throw_on_early_termination raises on
    every rank."""
    out = tmp_path / "join.json"
    code, text, _ = mpirun([os.path.join(SCRIPTS, "ddp_join.py"), str(out)], 120)
    assert code == 0, text
    res = json.loads(out.read_text())
    for name in ("rank1_joins_first", "rank0_joins_first_divide_by_active", "equal_inputs"):
        r = res[name]
        assert r["rel_diff"] <= 1e-9, (name, r)
        assert r["replicas_identical"], (name, r)
        assert r["trained_rel_change"] > 1e-2, (name, r)
    assert res["early_termination_raises_on_every_rank"] is True
