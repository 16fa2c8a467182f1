"""fit / evaluate / predict: a Keras-style training loop over a dlcore model.

    history = dl.train.fit(model, train_loader, nn.CrossEntropyLoss(), optimizer, epochs=20,
                           val_loader=val_loader, metrics=["accuracy"],
                           callbacks=[EarlyStopping("val_loss", patience=3,
                                                    restore_best_weights=True)])
    history.history["val_accuracy"][-1]

Batches are tuples (inputs..., target): the model is called as model(*inputs) and the loss as
loss_fn(output, target).  On a terminal a tqdm progress bar shows each epoch; otherwise (a log
file, a notebook's captured output, CI) one line is printed per epoch; verbose=0 prints nothing.
"""
import math
import sys
import time
import warnings

import numpy as np

from . import metrics as _metrics
from .autograd import no_grad
from .distributed import is_main_process, mean_over_ranks
from .nn.parallel import DistributedDataParallel
from .tensor import Tensor

__all__ = ["fit", "evaluate", "predict", "History", "Callback", "EarlyStopping",
           "ModelCheckpoint", "TerminateOnNaN", "LambdaCallback"]


# ---- callbacks ---------------------------------------------------------------------------------
class Callback:
    """Hooks called by fit().  Set `self.stop_training = True` to end training after the epoch.

    During fit: self.model, self.optimizer and self.params ({"epochs", "steps"}) are set.
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
    return {k: np.array(v._data, copy=True) for k, v in model.state_dict().items()}


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
            _log("Epoch %d: early stopping (best %s = %.6g at epoch %d)"
                  % (self.stopped_epoch + 1, self.monitor, self.best,
                     (self.best_epoch or 0) + 1))
        if (self.restore_best_weights and self.best_weights is not None
                and self.best_epoch != self._last_epoch):
            self.model.load_state_dict(self.best_weights)
            if self.verbose:
                _log("Restoring model weights from the end of the best epoch: %d."
                      % (self.best_epoch + 1))


class ModelCheckpoint(Callback):
    """Save the model's state_dict with dl.save at the end of each epoch.

    `filepath` may hold format fields from the epoch logs, e.g.
    "ckpt-{epoch:02d}-{val_loss:.3f}.safetensors" (epoch counts from 1).  With
    save_best_only=True only epochs that improve `monitor` are saved.  The file's metadata holds
    the epoch and the logged values.
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto",
                 verbose=0):
        self.filepath = str(filepath)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = _resolve_mode(mode, monitor, "ModelCheckpoint")
        self.verbose = verbose
        self.best = None
        self.saved = []
        self._warned = False

    def on_epoch_end(self, epoch, logs=None):
        from .io import save
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
        model = self.model.module if isinstance(self.model, DistributedDataParallel) \
            else self.model
        save(model.state_dict(), path, metadata=meta)
        self.saved.append(path)
        if self.verbose:
            _log("Epoch %d: saved model to %s" % (epoch + 1, path))


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            _log("Batch %d: invalid loss %r, terminating training" % (batch, loss))
            self.stop_training = True


class LambdaCallback(Callback):
    """A callback from functions: LambdaCallback(on_epoch_end=lambda epoch, logs: ...)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None):
        for name, fn in list(locals().items()):
            if name != "self" and fn is not None:
                setattr(self, name, fn)


# ---- helpers -----------------------------------------------------------------------------------
def _split_batch(batch, unpack):
    if unpack is not None:
        inputs, target = unpack(batch)
        return (inputs if isinstance(inputs, tuple) else (inputs,)), target
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return tuple(batch[:-1]), batch[-1]
    if isinstance(batch, dict):
        raise TypeError("fit: the loader yields dicts; pass unpack=lambda b: (b['x'], b['y']) "
                        "(or your keys) to say which entries are inputs and target")
    raise TypeError("fit: each batch must be a tuple (inputs..., target), got %s"
                    % type(batch).__name__)


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x))


def _n(target):
    arr = target._data if isinstance(target, Tensor) else np.asarray(target)
    return int(arr.shape[0]) if arr.ndim else 1


def _loss_value(loss):
    if not isinstance(loss, Tensor):
        raise TypeError("fit: loss_fn must return a Tensor, got %s" % type(loss).__name__)
    if loss._data.size != 1:
        raise ValueError("fit: loss_fn must return a scalar (use reduction='mean'), got shape %s"
                         % (tuple(loss.shape),))
    return float(loss._data.reshape(-1)[0])


class _EvalMode:
    """Eval mode and no_grad for the block; every submodule's previous mode is restored."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        mods = list(self.model.modules()) if hasattr(self.model, "modules") else []
        self.modes = [(m, m.training) for m in mods]
        if hasattr(self.model, "eval"):
            self.model.eval()
        self.ng = no_grad()
        self.ng.__enter__()
        return self

    def __exit__(self, *exc):
        self.ng.__exit__(*exc)
        for m, mode in self.modes:
            object.__setattr__(m, "training", mode)
        return False


def _log(message):
    """Progress and callback messages: printed once, by rank 0 under DistributedDataParallel."""
    if is_main_process():
        print(message, flush=True)


def _use_bar(verbose):
    if verbose in (0, False, 2):
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return bool(getattr(sys.stdout, "isatty", lambda: False)())


def _fmt_logs(logs):
    return " - ".join("%s: %.4f" % (k, v) if isinstance(v, float) and abs(v) >= 1e-3 or v == 0
                      else "%s: %.4g" % (k, v) for k, v in logs.items())


def _current_lr(optimizer):
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        lr = groups[0].get("lr") if isinstance(groups[0], dict) else None
        if isinstance(lr, (int, float)):
            return float(lr)
    return None


def _run_eval(model, loader, loss_fn, metric_objs, unpack):
    for m in metric_objs:
        m.reset()
    total, count = 0.0, 0
    with _EvalMode(model):
        for batch in loader:
            inputs, target = _split_batch(batch, unpack)
            out = model(*inputs)
            n = _n(target)
            if loss_fn is not None:
                total += _loss_value(loss_fn(out, target)) * n
            for m in metric_objs:
                m.update(out, target)
            count += n
    logs = {}
    if loss_fn is not None:
        logs["loss"] = total / count if count else float("nan")
    for m in metric_objs:
        logs[m.name] = m.compute()
    return logs


def _loader_from(data, batch_size):
    """A DataLoader for (X, y) given as arrays/Tensors; anything iterable is used as is."""
    if isinstance(data, tuple) and len(data) >= 2 and all(
            isinstance(a, (Tensor, np.ndarray)) for a in data):
        from .data import DataLoader, TensorDataset
        return DataLoader(TensorDataset(*data), batch_size=batch_size)
    return data


# ---- the loop ----------------------------------------------------------------------------------
def fit(model, train_loader, loss_fn, optimizer, epochs=1, val_loader=None, metrics=("accuracy",),
        callbacks=(), scheduler=None, verbose="auto", scheduler_step="epoch", initial_epoch=0,
        clip_grad_norm=None, unpack=None):
    """Train `model` for `epochs` passes over `train_loader`; returns a History.

    loss_fn(output, target) -> scalar Tensor; optimizer has zero_grad() and step().
    val_loader: evaluated after each epoch (eval mode, no grad); its values are logged with a
    'val_' prefix.  metrics: names ('accuracy', 'top5', 'mse', 'mae'), functions
    fn(output, target) -> float, or dl.metrics.Metric objects.  scheduler: stepped after each
    epoch (scheduler_step='epoch') or after each optimizer step ('batch').  clip_grad_norm: a
    max norm for dl.nn.utils.clip_grad_norm_ before each step.  verbose: 0 silent, 2 one line per
    epoch, 1/'auto' a progress bar on a terminal (one line per epoch otherwise).
    unpack(batch) -> (inputs, target) for loaders whose batches are not (inputs..., target).
    """
    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 0:
        raise ValueError("fit: epochs must be a non-negative integer, got %r" % (epochs,))
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError("fit: scheduler_step must be 'epoch' or 'batch', got %r"
                         % (scheduler_step,))
    for name in ("zero_grad", "step"):
        if not callable(getattr(optimizer, name, None)):
            raise TypeError("fit: optimizer must have zero_grad() and step() (e.g. dl.optim.SGD), "
                            "got %s" % type(optimizer).__name__)
    if isinstance(metrics, (str, _metrics.Metric)) or callable(metrics):
        metrics = [metrics]
    train_metrics = [_metrics.get_metric(m) for m in (metrics or ())]
    val_metrics = [_metrics.get_metric(m) for m in (metrics or ())]
    # a Metric instance passed in is reused for validation: give validation its own copy
    import copy
    val_metrics = [copy.deepcopy(m) for m in val_metrics]
    train_loader = _loader_from(train_loader, 32)
    val_loader = _loader_from(val_loader, 256) if val_loader is not None else None

    history = History()
    cbs = [history] + list(callbacks or ())
    try:
        steps = len(train_loader)
    except TypeError:
        steps = None
    params = {"epochs": int(epochs), "steps": steps, "verbose": verbose}
    history.params = params
    for cb in cbs:
        cb.set_context(model, optimizer, params)
    bar_on = _use_bar(verbose) and is_main_process()
    lines_on = verbose not in (0, False) and not bar_on and is_main_process()
    clip = None
    if clip_grad_norm is not None:
        from .nn.utils import clip_grad_norm_ as clip
    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []

    for cb in cbs:
        cb.on_train_begin({})
    logs = {}
    try:
        for epoch in range(int(initial_epoch), int(epochs)):
            for cb in cbs:
                cb.on_epoch_begin(epoch, {})
            t0 = time.perf_counter()
            # a DistributedSampler shuffles by epoch: each epoch its own order, on every rank
            if hasattr(getattr(train_loader, "sampler", None), "set_epoch"):
                train_loader.sampler.set_epoch(epoch)
            if hasattr(model, "train"):
                model.train()
            for m in train_metrics:
                m.reset()
            total, count = 0.0, 0
            bar = None
            if bar_on:
                from tqdm.auto import tqdm
                bar = tqdm(total=steps, desc="Epoch %d/%d" % (epoch + 1, epochs), unit="batch",
                           file=sys.stdout, leave=True, dynamic_ncols=True)
            stop = False
            for step, batch in enumerate(train_loader):
                for cb in cbs:
                    cb.on_train_batch_begin(step, {})
                inputs, target = _split_batch(batch, unpack)
                optimizer.zero_grad()
                out = model(*inputs)
                loss = loss_fn(out, target)
                lv = _loss_value(loss)
                loss.backward()
                if clip is not None:
                    clip(model.parameters(), clip_grad_norm)
                optimizer.step()
                if scheduler is not None and scheduler_step == "batch":
                    scheduler.step()
                n = _n(target)
                total += lv * n
                count += n
                detached = out.detach() if isinstance(out, Tensor) else out
                for m in train_metrics:
                    m.update(detached, target)
                for cb in cbs:
                    cb.on_train_batch_end(step, {"loss": lv, "size": n})
                if bar is not None:
                    bar.update(1)
                    if step % 10 == 0 or step + 1 == steps:
                        bar.set_postfix(loss="%.4f" % (total / count))
                if any(cb.stop_training for cb in cbs):
                    stop = True
                    break
            logs = {"loss": total / count if count else float("nan")}
            for m in train_metrics:
                logs[m.name] = m.compute()
            if val_loader is not None:
                vlogs = _run_eval(model, val_loader, loss_fn, val_metrics, unpack)
                logs.update(("val_" + k, v) for k, v in vlogs.items())
            # under DDP: the mean over the ranks, so every rank logs and decides alike
            logs = mean_over_ranks(logs)
            lr = _current_lr(optimizer)
            if scheduler is not None and lr is not None:
                logs["lr"] = lr
            if scheduler is not None and scheduler_step == "epoch":
                scheduler.step()
            seconds = time.perf_counter() - t0
            if bar is not None:
                bar.set_postfix_str(_fmt_logs(logs))
                bar.close()
            elif lines_on:
                _log("Epoch %d/%d - %.2fs - %s" % (epoch + 1, epochs, seconds, _fmt_logs(logs)))
            for cb in cbs:
                cb.on_epoch_end(epoch, logs)
            if stop or any(cb.stop_training for cb in cbs):
                break
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    for cb in cbs:
        cb.on_train_end(logs)
    return history


def evaluate(model, loader, loss_fn=None, metrics=("accuracy",), batch_size=256, unpack=None):
    """Loss (when loss_fn is given) and metrics over `loader` (or an (X, y) tuple), in eval mode
    without gradients; the model's previous mode is restored.  Returns a dict."""
    if isinstance(metrics, (str, _metrics.Metric)) or callable(metrics):
        metrics = [metrics]
    objs = [_metrics.get_metric(m) for m in (metrics or ())]
    return _run_eval(model, _loader_from(loader, batch_size), loss_fn, objs, unpack)


def predict(model, data, batch_size=256):
    """Model outputs for `data` (a Tensor/array of inputs, or a loader whose batches are
    (inputs..., [target]) or inputs alone), concatenated over batches, as a Tensor.  Runs in eval
    mode without gradients and restores the model's previous mode."""
    outs = []
    with _EvalMode(model):
        if isinstance(data, (Tensor, np.ndarray)):
            arr = data._data if isinstance(data, Tensor) else data
            if arr.ndim == 0:
                raise ValueError("predict: inputs must have a batch dimension, got a 0-d array")
            for s in range(0, arr.shape[0], batch_size):
                outs.append(model(Tensor._wrap(arr[s:s + batch_size])))
        else:
            for batch in data:
                if isinstance(batch, (tuple, list)):
                    inputs = tuple(batch[:-1]) if len(batch) >= 2 else tuple(batch)
                else:
                    inputs = (batch,)
                outs.append(model(*inputs))
    if not outs:
        raise ValueError("predict: no data")
    first = outs[0]
    if isinstance(first, tuple):
        return tuple(Tensor._wrap(np.concatenate([_as_tensor(o[i])._data for o in outs]))
                     for i in range(len(first)))
    return Tensor._wrap(np.concatenate([_as_tensor(o)._data for o in outs]))
