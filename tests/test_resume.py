"""Crash-safe, resumable training: a run SIGKILLed mid-epoch and resumed from its last
training-state checkpoint ends with the same parameter bytes as an uninterrupted run."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import dlcore as dl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent('''
    import json, os, signal, sys
    import numpy as np
    import dlcore as dl
    from dlcore.train import fit, ModelCheckpoint, LambdaCallback

    mode, ckpt, out, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    dl.manual_seed(0)
    np.random.seed(1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    gen = dl.Generator().manual_seed(5)
    loader = dl.data.DataLoader(dl.data.TensorDataset(x, y), batch_size=8, shuffle=True,
                                generator=gen)
    model = dl.nn.Sequential(dl.nn.Linear(6, 16), dl.nn.ReLU(), dl.nn.Dropout(0.3),
                             dl.nn.Linear(16, 2))
    opt = dl.optim.Adam(model.parameters(), lr=0.01)
    sched = dl.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    seen = [0]

    def batch_end(batch, logs):
        # every stream is saved: NumPy's global one and the loader's generator too
        np.random.random()
        gen._rng.random()
        seen[0] += 1
        if mode == "killed" and seen[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    # the checkpoint is taken where it stands in the callback list: after the drawing one
    cbs = [LambdaCallback(on_train_batch_end=batch_end),
           ModelCheckpoint(ckpt, training_state=True, save_freq=5)]
    hist = fit(model, loader, dl.nn.CrossEntropyLoss(), opt, epochs=3, callbacks=cbs,
               scheduler=sched, verbose=0, metrics=(),
               resume_from=ckpt if mode == "resume" else None)
    dl.save(model.state_dict(), out)
    with open(out + ".json", "w") as f:
        json.dump({"loss": hist.history["loss"], "epochs": hist.epoch,
                   "np": float(np.random.random()), "gen": float(gen._rng.random()),
                   "dl": float(dl.rand(1).item())}, f)
''')


def _run(tmp_path, *args):
    env = dict(os.environ, DLCORE_NUM_THREADS="1", PYTHONPATH=ROOT)
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    return subprocess.run([sys.executable, str(script)] + [str(a) for a in args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


# 12 batches an epoch, a save every 5 batches and at each epoch's end: killed at batch 19 the
# last save is batch 15 (epoch 2, 3 batches in); killed at batch 13 it is the end of epoch 1
@pytest.mark.parametrize("kill_at,epoch,batch", [(19, "2", "3"), (13, "1", None)],
                         ids=["mid-epoch", "after-epoch-end"])
def test_resume_after_sigkill_is_bit_identical(tmp_path, kill_at, epoch, batch):
    full = _run(tmp_path, "full", tmp_path / "full.ckpt", tmp_path / "full.st", 0)
    assert full.returncode == 0, full.stderr
    killed = _run(tmp_path, "killed", tmp_path / "run.ckpt", tmp_path / "run.st", kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (tmp_path / "run.st").exists()
    meta = dl.io.read_metadata(tmp_path / "run.ckpt")
    assert meta["epoch"] == epoch and meta.get("batch") == batch
    resumed = _run(tmp_path, "resume", tmp_path / "run.ckpt", tmp_path / "run.st", 0)
    assert resumed.returncode == 0, resumed.stderr
    a, b = dl.load(tmp_path / "full.st", as_array=True), dl.load(tmp_path / "run.st", as_array=True)
    assert list(a) == list(b)
    for k in a:
        assert a[k].tobytes() == b[k].tobytes(), k
    ha = json.loads((tmp_path / "full.st.json").read_text())
    hb = json.loads((tmp_path / "run.st.json").read_text())
    assert ha == hb  # per-epoch losses, epochs and the NumPy stream afterwards
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers


def test_resume_from_a_weights_only_checkpoint_is_a_clear_error(tmp_path):
    model = dl.nn.Linear(2, 2)
    dl.save(model.state_dict(), tmp_path / "w.safetensors")
    x = np.zeros((4, 2), np.float32)
    y = np.zeros(4, np.int64)
    with pytest.raises(ValueError, match="not a training-state checkpoint"):
        dl.train.fit(model, (x, y), dl.nn.CrossEntropyLoss(),
                     dl.optim.SGD(model.parameters(), lr=0.1), verbose=0,
                     resume_from=tmp_path / "w.safetensors")


def test_mid_epoch_saves_need_training_state():
    with pytest.raises(ValueError, match="training_state=True"):
        dl.train.ModelCheckpoint("x.safetensors", save_freq=3)
    with pytest.raises(ValueError, match="save_freq"):
        dl.train.ModelCheckpoint("x.safetensors", save_freq=0, training_state=True)


def test_a_later_save_removes_temp_files_of_killed_saves(tmp_path):
    """Saves SIGKILLed mid-write leave `.<name>.<pid>.<token>.tmp`; the next save of the same
    file removes those of dead processes and leaves a live process's alone."""
    target = tmp_path / "big.safetensors"
    code = textwrap.dedent('''
        import sys, numpy as np, dlcore as dl
        x = np.ones(16_000_000, np.float32)
        print("ready", flush=True)
        while True:
            dl.save({"x": x}, sys.argv[1])
    ''')
    env = dict(os.environ, PYTHONPATH=ROOT)
    for _ in range(3):
        p = subprocess.Popen([sys.executable, "-c", code, str(target)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / (".big.safetensors.%s.deadbeef.tmp" % dead)
    stale.write_bytes(b"x" * 1000)
    live = tmp_path / (".big.safetensors.%d.cafe0001.tmp" % os.getpid())
    live.write_bytes(b"y")
    dl.save({"x": np.zeros(3, np.float32)}, target)
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
    assert left == [live.name]
    np.testing.assert_array_equal(dl.load(target, as_array=True)["x"], np.zeros(3))
