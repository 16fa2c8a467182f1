"""DataLoader workers start as torch's do on Linux (fork): a script without a main guard works,
lambdas need no pickling, and a parent that has run multi-threaded OpenMP kernels does not hang
its workers (dlcore.runtime's at-fork handler puts the child's kernels on one thread)."""
import multiprocessing
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dlcore as dl
from dlcore.data import DataLoader, Dataset, TensorDataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(dl.__file__)))
needs_fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="the platform has no fork()")


class KernelDataset(Dataset):
    """Each sample runs a matmul in the worker: an OpenMP kernel inside the forked child."""

    def __init__(self, n):
        self.x = np.random.default_rng(0).standard_normal((n, 64, 64)).astype(np.float32)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x = dl.tensor(self.x[i])
        return (x @ x).sum(), dl.get_num_threads()


@needs_fork
def test_script_without_main_guard_runs_two_workers(tmp_path):
    script = tmp_path / "no_guard.py"
    script.write_text(textwrap.dedent('''
        import numpy as np
        import dlcore as dl
        from dlcore.data import DataLoader, TensorDataset

        dl.set_num_threads(2)
        a = dl.randn(256, 256)
        (a @ a).sum()           # the parent has run a 2-thread OpenMP region
        ds = TensorDataset(dl.arange(40).float().reshape(20, 2), dl.arange(20))
        loader = DataLoader(ds, batch_size=4, shuffle=False, num_workers=2,
                            collate_fn=lambda rows: [r[1].item() for r in rows])
        got = [v for batch in loader for v in batch]
        assert got == list(range(20)), got
        w = DataLoader(ds, batch_size=5, num_workers=2,
                       worker_init_fn=lambda wid: (dl.randn(128, 128) @ dl.randn(128, 128)))
        assert sum(len(b[1]) for b in w) == 20
        print("OK", dl.get_num_threads())
    '''))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       timeout=120, cwd=str(tmp_path), env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["OK", "2"]  # the parent keeps its own thread count


@needs_fork
def test_forked_workers_run_kernels_after_the_parent_used_threads():
    with dl.num_threads(2):
        a = dl.randn(256, 256)
        (a @ a).sum()
        loader = DataLoader(KernelDataset(6), batch_size=2, num_workers=2)
        batches = list(loader)
    ref = [KernelDataset(6)[i][0].item() for i in range(6)]
    got = [v for b in batches for v in b[0].tolist()]
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    # in the workers the kernels ran on one thread
    assert all(t == 1 for b in batches for t in b[1].tolist())


@needs_fork
def test_plain_fork_child_gets_one_thread():
    with dl.num_threads(2):
        (dl.randn(128, 128) @ dl.randn(128, 128)).sum()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: a kernel must finish, on one thread
            os.close(r)
            x = dl.randn(256, 256)
            (x @ x).sum()
            os.write(w, str(dl.get_num_threads()).encode())
            os._exit(0)
        os.close(w)
        _, status = os.waitpid(pid, 0)
        assert os.read(r, 16) == b"1" and status == 0
        os.close(r)
        assert dl.get_num_threads() == 2


@pytest.mark.parametrize("context", ["spawn", "forkserver"])
def test_other_start_methods_stay_available(context):
    if context not in multiprocessing.get_all_start_methods():
        pytest.skip("no %s here" % context)
    ds = TensorDataset(dl.arange(10).float(), dl.arange(10))
    got = [b[1].tolist() for b in DataLoader(ds, batch_size=5, num_workers=2,
                                             multiprocessing_context=context)]
    assert got == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
