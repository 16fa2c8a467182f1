"""Callbacks: hooks the training loop (dl.train.Trainer, dl.train.fit) calls around epochs and
batches, and the ones that ship: History, EarlyStopping, ModelCheckpoint, TerminateOnNaN,
LambdaCallback.

Order of calls in one fit: on_train_begin, then per epoch on_epoch_begin, per batch
on_train_batch_begin / on_train_batch_end, then on_epoch_end with the epoch's logs (training
averages, val_* values, lr), and on_train_end once at the end.  Callbacks run in the order given,
after the History that fit() returns.
"""
import math
import warnings

import numpy as np

from ..distributed import is_main_process
from ..io import save
from ..nn.parallel import DistributedDataParallel
from .progress import log

__all__ = ["Callback", "History", "EarlyStopping", "ModelCheckpoint", "TerminateOnNaN",
           "LambdaCallback"]


class Callback:
    """Hooks called by the training loop.  Set `self.stop_training = True` to end training (the
    loop stops after the current batch).

    During fit: self.model, self.optimizer, self.params ({"epochs", "steps", "verbose"}) and
    self.trainer (the Trainer running the loop) are set.
    """

    stop_training = False

    def set_context(self, model, optimizer, params):
        self.model, self.optimizer, self.params = model, optimizer, params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass


class History(Callback):
    """What fit() returns: .history maps each logged name to its per-epoch list; .epoch lists the
    epoch indices (0-based) that ran."""

    def __init__(self):
        self.history = {}
        self.epoch = []
        self.params = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self):
        last = ", ".join("%s=%.4g" % (k, v[-1]) for k, v in self.history.items() if v)
        return "History(epochs=%d%s)" % (len(self.epoch), ", " + last if last else "")


def _resolve_mode(mode, monitor, who):
    if mode not in ("auto", "min", "max"):
        raise ValueError("%s: mode must be 'auto', 'min' or 'max', got %r" % (who, mode))
    if mode != "auto":
        return mode
    m = monitor.lower()
    return "max" if ("acc" in m or m.endswith("auc") or "f1" in m) else "min"


def _improved(mode, current, best, min_delta):
    if best is None:
        return True
    if mode == "min":
        return current < best - min_delta
    return current > best + min_delta


def _copy_state(model):
    return {k: np.array(v.numpy(), copy=True) for k, v in model.state_dict().items()}


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    mode 'auto' maximises names containing 'acc' and minimises the rest.  With
    restore_best_weights=True the model gets back the weights of its best epoch when training
    ends.  `baseline`: the value to beat (training stops if it is not beaten within patience).
    """

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="auto",
                 restore_best_weights=False, baseline=None, start_from_epoch=0, verbose=0):
        if patience < 0:
            raise ValueError("EarlyStopping: patience must be >= 0, got %r" % (patience,))
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = abs(float(min_delta))
        self.mode = _resolve_mode(mode, monitor, "EarlyStopping")
        self.restore_best_weights = restore_best_weights
        self.baseline = baseline
        self.start_from_epoch = int(start_from_epoch)
        self.verbose = verbose
        self._warned = False

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.best = self.baseline
        self.best_epoch = None
        self.best_weights = None
        self.stopped_epoch = None
        self.stop_training = False
        self._last_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch
        current = (logs or {}).get(self.monitor)
        if current is None:
            if not self._warned:
                warnings.warn("EarlyStopping: monitored metric %r is not in the logs (available: "
                              "%s); early stopping is inactive" % (self.monitor,
                                                                  ", ".join(sorted(logs or {}))),
                              RuntimeWarning, stacklevel=2)
                self._warned = True
            return
        if epoch < self.start_from_epoch or (isinstance(current, float) and math.isnan(current)):
            return
        if _improved(self.mode, current, self.best, self.min_delta):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = _copy_state(self.model)
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stop_training = True
            self.stopped_epoch = epoch

    def on_train_end(self, logs=None):
        if self.stopped_epoch is not None and self.verbose:
            log("Epoch %d: early stopping (best %s = %.6g at epoch %d)"
                  % (self.stopped_epoch + 1, self.monitor, self.best,
                     (self.best_epoch or 0) + 1))
        if (self.restore_best_weights and self.best_weights is not None
                and self.best_epoch != self._last_epoch):
            self.model.load_state_dict(self.best_weights)
            if self.verbose:
                log("Restoring model weights from the end of the best epoch: %d."
                      % (self.best_epoch + 1))


class ModelCheckpoint(Callback):
    """Save the model's state_dict with dl.save at the end of each epoch.

    `filepath` may hold format fields from the epoch logs, e.g.
    "ckpt-{epoch:02d}-{val_loss:.3f}.safetensors" (epoch counts from 1).  With
    save_best_only=True only epochs that improve `monitor` are saved.  The file's metadata holds
    the epoch and the logged values.

    training_state=True saves everything a killed run needs to continue bit-identically with
    fit(..., resume_from=path): model, optimizer, scheduler, random streams, epoch, batch and
    data order (dlcore.train.resume).  save_freq: "epoch", or an int N to save (to the same
    filepath, formatted with the epoch only) after every N training batches as well.
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto",
                 verbose=0, training_state=False, save_freq="epoch"):
        if save_freq != "epoch" and (isinstance(save_freq, bool) or
                                     not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError("ModelCheckpoint: save_freq must be 'epoch' or a positive int, "
                             "got %r" % (save_freq,))
        if save_freq != "epoch" and (save_best_only or not training_state):
            raise ValueError("ModelCheckpoint: save_freq=%r (mid-epoch saves) needs "
                             "training_state=True and save_best_only=False" % (save_freq,))
        self.training_state, self.save_freq = bool(training_state), save_freq
        self._batches = 0
        self.filepath = str(filepath)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = _resolve_mode(mode, monitor, "ModelCheckpoint")
        self.verbose = verbose
        self.best = None
        self.saved = []
        self._warned = False

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                if not self._warned:
                    warnings.warn("ModelCheckpoint: monitored metric %r is not in the logs "
                                  "(available: %s); nothing is saved"
                                  % (self.monitor, ", ".join(sorted(logs))), RuntimeWarning,
                                  stacklevel=2)
                    self._warned = True
                return
            if isinstance(current, float) and math.isnan(current):
                return
            if not _improved(self.mode, current, self.best, 0.0):
                return
            self.best = current
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, ValueError, IndexError) as e:
            raise ValueError("ModelCheckpoint: cannot format filepath %r with epoch and logs %s "
                             "(%s)" % (self.filepath, sorted(logs), e)) from None
        if not is_main_process():
            return  # under DDP every rank holds the same weights: rank 0 writes them
        meta = {"epoch": str(epoch + 1)}
        meta.update({k: repr(float(v)) for k, v in logs.items()})
        self._write(path, meta)
        if self.verbose:
            log("Epoch %d: saved model to %s" % (epoch + 1, path))

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches += 1
        if self._batches % self.save_freq or not is_main_process():
            return
        st = self.trainer.progress_state
        try:
            path = self.filepath.format(epoch=st["epoch"] + 1)
        except (KeyError, ValueError, IndexError) as e:
            raise ValueError("ModelCheckpoint: with save_freq=%r the filepath %r may use only "
                             "{epoch} (%s)" % (self.save_freq, self.filepath, e)) from None
        self._write(path, {"epoch": str(st["epoch"] + 1), "batch": str(st["step"])})

    def _write(self, path, meta):
        if self.training_state:
            from .resume import save_training_state
            save_training_state(self.trainer, path, metadata=meta)
        else:
            model = self.model.module if isinstance(self.model, DistributedDataParallel) \
                else self.model
            save(model.state_dict(), path, metadata=meta)
        self.saved.append(path)


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss (any logged value named "loss" or "..._loss", e.g.
    a GAN's d_loss and g_loss) is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            if (name == "loss" or name.endswith("_loss")) and not math.isfinite(value):
                log("Batch %d: invalid %s %r, terminating training" % (batch, name, value))
                self.stop_training = True
                return


class LambdaCallback(Callback):
    """A callback from functions: LambdaCallback(on_epoch_end=lambda epoch, logs: ...)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None):
        for name, fn in list(locals().items()):
            if name != "self" and fn is not None:
                setattr(self, name, fn)
