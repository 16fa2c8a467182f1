"""Training state for crash-safe, resumable training: what a killed run needs to continue as if
it had never stopped, bit for bit.

A training-state checkpoint (ModelCheckpoint(..., training_state=True), written atomically by
dl.save, no pickle) holds the model's and the optimizer's state_dicts, the scheduler's, every
random stream the loop draws from (dlcore's global stream, NumPy's and Python's global ones and
the loader's own generator), the epoch and the number of batches done in it, the stream state
at the start of that epoch (which fixes its data order: a shuffling loader draws the epoch's
permutation when it starts) and the epoch's running sums and History so far.

fit(..., resume_from=path) restores all of it, replays the interrupted epoch's data order,
skips the batches already trained on, and continues.  Callback state (EarlyStopping's patience
counter, a metric object's running totals) is not saved.
"""
import random as _pyrandom

import numpy as np

from .. import random as _dlrandom
from ..io import load, save

FORMAT = "dlcore.training_state/1"


def _loader_generators(loader):
    """The dl.Generator objects a loader (or its sampler) shuffles with, without duplicates."""
    gens = []
    for owner in (loader, getattr(loader, "sampler", None),
                  getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
        g = getattr(owner, "generator", None)
        if isinstance(g, _dlrandom.Generator) and all(g is not h for h in gens):
            gens.append(g)
    return gens


def capture_rng(loader=None):
    """Every random stream's state, as plain data dl.save can store."""
    legacy = np.random.get_state()
    return {"dlcore": _dlrandom.get_rng_state(),
            "numpy": {"name": legacy[0], "key": np.array(legacy[1]), "pos": int(legacy[2]),
                      "has_gauss": int(legacy[3]), "cached_gaussian": float(legacy[4])},
            "python": _pyrandom.getstate(),
            "loader": [g.get_state() for g in _loader_generators(loader)]}


def restore_rng(state, loader=None):
    _dlrandom.set_rng_state(state["dlcore"])
    n = state["numpy"]
    np.random.set_state((n["name"], np.asarray(n["key"], np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    py = state["python"]
    _pyrandom.setstate((py[0], tuple(py[1]), py[2]))
    gens = _loader_generators(loader)
    if len(gens) != len(state["loader"]):
        raise ValueError("resume: the checkpoint saved %d loader generator(s), this loader has %d"
                         % (len(state["loader"]), len(gens)))
    for g, s in zip(gens, state["loader"]):
        g.set_state(s)


def _unwrap(model):
    return getattr(model, "module", model)


def save_training_state(trainer, path, metadata=None):
    """Write the trainer's state at its current point (see the module doc) to `path`."""
    st = trainer.progress_state
    sched = trainer.scheduler
    state = {"format": FORMAT,
             "model": {k: np.array(v.numpy(), copy=True)
                       for k, v in _unwrap(trainer.model).state_dict().items()},
             "optimizer": trainer.optimizer.state_dict() if trainer.optimizer is not None
             else None,
             "scheduler": sched.state_dict() if sched is not None and
             hasattr(sched, "state_dict") else None,
             "epoch": int(st["epoch"]), "step": int(st["step"]),
             "epoch_rng": st["epoch_rng"], "rng": capture_rng(st["loader"]),
             "sums": dict(st["sums"]), "count": st["count"],
             "history": {k: list(v) for k, v in st["history"].history.items()},
             "history_epochs": list(st["history"].epoch)}
    save(state, path, metadata=metadata)


def load_training_state(trainer, path):
    """Load a training-state checkpoint into the trainer's model, optimizer and scheduler;
    returns the state (epoch, step, random streams, sums) for the loop to continue from."""
    state = load(path, as_array=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError("fit: resume_from=%r is not a training-state checkpoint (write one "
                         "with ModelCheckpoint(..., training_state=True))" % (str(path),))
    model = _unwrap(trainer.model)
    model.load_state_dict(state["model"])
    if trainer.optimizer is not None:
        if state["optimizer"] is None:
            raise ValueError("fit: the checkpoint %r has no optimizer state" % (str(path),))
        trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scheduler is not None and hasattr(trainer.scheduler, "load_state_dict"):
        if state["scheduler"] is None:
            raise ValueError("fit: the checkpoint %r has no scheduler state" % (str(path),))
        trainer.scheduler.load_state_dict(state["scheduler"])
    return state
