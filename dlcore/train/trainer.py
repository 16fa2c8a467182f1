"""Trainer: the training loop of dl.train, with the work of one batch in methods to override.

    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), metrics=["accuracy"],
                      callbacks=[EarlyStopping("val_loss", patience=3)])
    history = trainer.fit(train_loader, epochs=20, val_loader=val_loader)

dl.train.fit(model, loader, loss_fn, optimizer, ...) is exactly this.  For anything other than
"model(*inputs), then loss_fn(output, target)", subclass and override training_step(batch) (and
validation_step(batch)):

    class Denoiser(Trainer):
        def training_step(self, batch):
            (clean,) = batch
            return mse_loss(self.model(add_noise(clean)), clean)

training_step returns the loss Tensor, or a dict of values to log with the loss under "loss";
the loop then zeroes the gradients, backpropagates, clips (clip_grad_norm) and steps the
optimizer.  A subclass that sets automatic_optimization = False updates its own optimizers
inside training_step (a GAN's two) and returns a dict of numbers to log.  Returning None skips
the batch.  Logged values are averaged over each epoch, weighted by batch_size(batch), into the
History; on_epoch_begin(epoch) and on_evaluate_begin() are hooks for per-run state, e.g. a
recurrent state carried across the batches of an epoch.  Subclasses to read:
dlcore.models.gan.GANTrainer (two optimizers), TruncatedBPTT in
python/06_lstm_text_generation.py, TeacherForcing in python/10_translation.py.
"""
import copy
import time

import numpy as np

from .. import metrics as _metrics
from ..autograd import no_grad
from ..data import DataLoader, TensorDataset
from ..distributed import mean_over_ranks
from ..nn.utils import clip_grad_norm_
from ..tensor import Tensor
from .callbacks import History
from .progress import Progress
from .resume import capture_rng, load_training_state, restore_rng

__all__ = ["Trainer"]


def _metric_objects(metrics):
    if isinstance(metrics, (str, _metrics.Metric)) or callable(metrics):
        metrics = [metrics]
    return [_metrics.get_metric(m) for m in (metrics or ())]


def _first_dim(x):
    """Examples in a batch: the first dimension of its first array (its length for a sequence
    of them)."""
    while isinstance(x, (tuple, list, dict)) and len(x):
        x = next(iter(x.values())) if isinstance(x, dict) else x[0]
    shape = x.shape if isinstance(x, Tensor) else np.shape(x)
    return int(shape[0]) if len(shape) else 1


def _loss_value(loss, who="fit: loss_fn"):
    if not isinstance(loss, Tensor):
        raise TypeError("%s must return a Tensor, got %s" % (who, type(loss).__name__))
    value = loss.numpy()
    if value.size != 1:
        raise ValueError("%s must return a scalar (use reduction='mean'), got shape %s"
                         % (who, tuple(loss.shape)))
    return float(value.reshape(-1)[0])


def _number(name, v):
    if isinstance(v, Tensor):
        return _loss_value(v, "Trainer: the logged value %r" % name)
    if isinstance(v, (bool, int, float, np.number)) or (isinstance(v, np.ndarray) and v.size == 1):
        return float(v)
    raise TypeError("Trainer: logged values must be numbers or scalar Tensors; %r is %s"
                    % (name, type(v).__name__))


def _current_lr(optimizer):
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        lr = groups[0].get("lr") if isinstance(groups[0], dict) else None
        if isinstance(lr, (int, float)):
            return float(lr)
    return None


def loader_from(data, batch_size):
    """A DataLoader for (X, y, ...) given as arrays/Tensors; anything iterable is used as is."""
    if isinstance(data, tuple) and len(data) >= 2 and all(
            isinstance(a, (Tensor, np.ndarray)) for a in data):
        return DataLoader(TensorDataset(*data), batch_size=batch_size)
    return data


class EvalMode:
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


class Trainer:
    """Trains `model` with `optimizer` on `loss_fn(model(*inputs), target)`, or on what a
    subclass's training_step says.

    metrics: names ('accuracy', 'top5', 'mse', 'mae'), functions fn(output, target) -> float,
    or dl.metrics.Metric objects, computed on training and validation batches.  scheduler:
    stepped after each epoch (scheduler_step='epoch') or after each batch ('batch').
    clip_grad_norm: a max norm for dl.nn.utils.clip_grad_norm_ before each optimizer step.
    unpack(batch) -> (inputs, target) for loaders whose batches are not (inputs..., target).
    verbose: 0 silent, 2 one line per epoch, 1/'auto' a progress bar on a terminal.
    """

    automatic_optimization = True

    def __init__(self, model, optimizer=None, loss_fn=None, *, metrics=(), callbacks=(),
                 scheduler=None, scheduler_step="epoch", clip_grad_norm=None, unpack=None,
                 verbose="auto"):
        if scheduler_step not in ("epoch", "batch"):
            raise ValueError("fit: scheduler_step must be 'epoch' or 'batch', got %r"
                             % (scheduler_step,))
        if optimizer is not None:
            self._check_optimizer(optimizer)
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.metrics = _metric_objects(metrics)
        # a Metric instance passed in serves training: validation gets its own copy
        self.val_metrics = [copy.deepcopy(m) for m in self.metrics]
        self.callbacks = list(callbacks or ())
        self.scheduler, self.scheduler_step = scheduler, scheduler_step
        self.clip_grad_norm, self.unpack, self.verbose = clip_grad_norm, unpack, verbose
        self.stop_training = False

    @staticmethod
    def _check_optimizer(optimizer):
        for name in ("zero_grad", "step"):
            if not callable(getattr(optimizer, name, None)):
                raise TypeError("fit: optimizer must have zero_grad() and step() (e.g. "
                                "dl.optim.SGD), got %s" % type(optimizer).__name__)

    # ---- the work of one batch: override these ------------------------------------------------
    def split_batch(self, batch):
        """(inputs tuple, target) of a batch (inputs..., target), or what unpack(batch) says."""
        if self.unpack is not None:
            inputs, target = self.unpack(batch)
            return (inputs if isinstance(inputs, tuple) else (inputs,)), target
        if isinstance(batch, (tuple, list)) and len(batch) >= 2:
            return tuple(batch[:-1]), batch[-1]
        if isinstance(batch, dict):
            raise TypeError("fit: the loader yields dicts; pass unpack=lambda b: (b['x'], b['y']) "
                            "(or your keys) to say which entries are inputs and target")
        raise TypeError("fit: each batch must be a tuple (inputs..., target), got %s"
                        % type(batch).__name__)

    def batch_size(self, batch):
        """How many examples `batch` holds (the weight of its values in the epoch averages):
        the first dimension of its first array."""
        return _first_dim(batch)

    def training_step(self, batch):
        """The loss of one training batch (the loop backpropagates and steps)."""
        inputs, target = self.split_batch(batch)
        out = self.model(*inputs)
        loss = self.loss_fn(out, target)
        _loss_value(loss)
        if self.metrics:
            detached = out.detach() if isinstance(out, Tensor) else out
            for m in self.metrics:
                m.update(detached, target)
        return loss

    def validation_step(self, batch):
        """The loss of one validation batch (eval mode, no gradients), or None without loss_fn;
        updates the validation metrics."""
        inputs, target = self.split_batch(batch)
        out = self.model(*inputs)
        for m in self.val_metrics:
            m.update(out, target)
        if self.loss_fn is None:
            return None
        loss = self.loss_fn(out, target)
        _loss_value(loss)
        return loss

    def backward_step(self, loss, optimizer=None, parameters=None):
        """Zero `optimizer`'s gradients, backpropagate `loss`, clip the gradients of
        `parameters` (default: the model's) to clip_grad_norm, and step."""
        optimizer = self.optimizer if optimizer is None else optimizer
        optimizer.zero_grad()
        loss.backward()
        if self.clip_grad_norm is not None:
            clip_grad_norm_(self.model.parameters() if parameters is None else parameters,
                            self.clip_grad_norm)
        optimizer.step()

    def on_epoch_begin(self, epoch):
        """Called at the start of each training epoch, after the model is put in training mode
        (so it may change modes, e.g. keep dropout off) and before the callbacks'
        on_epoch_begin."""

    def on_evaluate_begin(self):
        """Called before each pass over validation data (in fit, and by evaluate)."""

    # ---- the loop ---------------------------------------------------------------------------
    def _logged(self, result, who):
        """(loss Tensor or None, {name: float}) from what a step returned."""
        if isinstance(result, Tensor):
            return result, {"loss": _loss_value(result, "Trainer: %s" % who)}
        if isinstance(result, dict):
            loss = result.get("loss")
            return (loss if isinstance(loss, Tensor) else None,
                    {k: _number(k, v) for k, v in result.items()})
        if isinstance(result, (int, float, np.number)) and not isinstance(result, bool):
            return None, {"loss": float(result)}
        raise TypeError("Trainer: %s must return a loss Tensor, a dict of values to log or None "
                        "(skip the batch), got %s" % (who, type(result).__name__))

    def _train_epoch(self, loader, callbacks, progress, resume=None):
        sums, count, stop = {}, 0, False
        skip = 0
        if resume is not None:  # the interrupted epoch: same order, its first batches done
            sums, count, skip = dict(resume["sums"]), int(resume["count"]), int(resume["step"])
        st = self.progress_state
        st["sums"], st["count"] = sums, count
        for step, batch in enumerate(loader):
            if step < skip:
                if step == skip - 1:
                    restore_rng(resume["rng"], loader)
                continue
            for cb in callbacks:
                cb.on_train_batch_begin(step, {})
            result = self.training_step(batch)
            if result is None:
                progress.batch_end(step, None, 0.0)
                continue
            loss, values = self._logged(result, "training_step")
            if self.automatic_optimization:
                if loss is None:
                    raise TypeError("Trainer: training_step must return the loss Tensor (or a "
                                    "dict with it under 'loss'); a step that updates its own "
                                    "optimizers sets automatic_optimization = False")
                self.backward_step(loss)
            if self.scheduler is not None and self.scheduler_step == "batch":
                self.scheduler.step()
            n = self.batch_size(batch)
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v * n
            count += n
            st["step"], st["count"] = step + 1, count
            for cb in callbacks:
                cb.on_train_batch_end(step, dict(values, size=n))
            first = next(iter(sums), None)
            progress.batch_end(step, first, sums[first] / count if first else 0.0)
            if self.stop_training or any(cb.stop_training for cb in callbacks):
                stop = True
                break
        logs = {k: s / count for k, s in sums.items()} if count else {"loss": float("nan")}
        for m in self.metrics:
            logs[m.name] = m.compute()
        return logs, stop

    def fit(self, train_loader, epochs=1, val_loader=None, initial_epoch=0, resume_from=None):
        """Train for `epochs` passes over `train_loader` (a loader, any iterable of batches, or
        an (X, y) tuple of arrays); returns a History of per-epoch logs.  val_loader is
        evaluated after each epoch; its values are logged with a 'val_' prefix.

        resume_from: a checkpoint of ModelCheckpoint(..., training_state=True); training goes
        on from the point it was saved at (its epoch and batch) and ends as an uninterrupted
        run with the same arguments would, bit for bit (dlcore.train.resume)."""
        if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 0:
            raise ValueError("fit: epochs must be a non-negative integer, got %r" % (epochs,))
        if self.automatic_optimization:
            self._check_optimizer(self.optimizer)
        train_loader = loader_from(train_loader, 32)
        val_loader = loader_from(val_loader, 256) if val_loader is not None else None
        history = History()
        resume = None
        if resume_from is not None:
            resume = load_training_state(self, resume_from)
            initial_epoch = int(resume["epoch"])
            history.history = {k: list(v) for k, v in resume["history"].items()}
            history.epoch = [int(e) for e in resume["history_epochs"]]
            if not resume["step"]:  # saved at an epoch's end: the next one starts afresh
                restore_rng(resume["rng"], train_loader)
                resume = None
        self.progress_state = {"epoch": int(initial_epoch), "step": 0, "epoch_rng": None,
                               "loader": train_loader, "sums": {}, "count": 0,
                               "history": history}
        callbacks = [history] + self.callbacks
        try:
            steps = len(train_loader)
        except TypeError:
            steps = None
        params = {"epochs": int(epochs), "steps": steps, "verbose": self.verbose}
        history.params = params
        for cb in callbacks:
            cb.set_context(self.model, self.optimizer, params)
            cb.trainer = self
        progress = Progress(self.verbose, int(epochs), steps)
        model = self.model
        modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
        self.stop_training = False
        for cb in callbacks:
            cb.on_train_begin({})
        logs = {}
        try:
            for epoch in range(int(initial_epoch), int(epochs)):
                t0 = time.perf_counter()
                # a DistributedSampler shuffles by epoch: each epoch its own order, on every rank
                if hasattr(getattr(train_loader, "sampler", None), "set_epoch"):
                    train_loader.sampler.set_epoch(epoch)
                if hasattr(model, "train"):
                    model.train()
                self.on_epoch_begin(epoch)
                for cb in callbacks:
                    cb.on_epoch_begin(epoch, {})
                for m in self.metrics:
                    m.reset()
                progress.epoch_begin(epoch)
                if resume is not None:
                    restore_rng(resume["epoch_rng"], train_loader)
                st = self.progress_state
                st["epoch"], st["step"] = epoch, 0
                st["epoch_rng"] = capture_rng(train_loader)  # fixes this epoch's data order
                logs, stop = self._train_epoch(train_loader, callbacks, progress, resume)
                resume = None
                st["epoch"], st["step"], st["sums"], st["count"] = epoch + 1, 0, {}, 0
                if val_loader is not None:
                    logs.update(("val_" + k, v) for k, v in self.evaluate(val_loader).items())
                # under DDP: the mean over the ranks, so every rank logs and decides alike
                logs = mean_over_ranks(logs)
                lr = _current_lr(self.optimizer)
                if self.scheduler is not None and lr is not None:
                    logs["lr"] = lr
                if self.scheduler is not None and self.scheduler_step == "epoch":
                    self.scheduler.step()
                progress.epoch_end(epoch, logs, time.perf_counter() - t0)
                for cb in callbacks:
                    cb.on_epoch_end(epoch, logs)
                if stop or self.stop_training or any(cb.stop_training for cb in callbacks):
                    break
        finally:
            for m, mode in modes:
                object.__setattr__(m, "training", mode)
        for cb in callbacks:
            cb.on_train_end(logs)
        return history

    def evaluate(self, loader):
        """Averages of validation_step's values over `loader` and the validation metrics, in
        eval mode without gradients (the model's modes are restored); a dict."""
        self.on_evaluate_begin()
        for m in self.val_metrics:
            m.reset()
        sums, count = {}, 0
        with EvalMode(self.model):
            for batch in loader:
                result = self.validation_step(batch)
                n = self.batch_size(batch)
                count += n
                if result is not None:
                    for k, v in self._logged(result, "validation_step")[1].items():
                        sums[k] = sums.get(k, 0.0) + v * n
        logs = {k: s / count for k, s in sums.items()}
        if self.loss_fn is not None and not logs:
            logs["loss"] = float("nan")
        for m in self.val_metrics:
            logs[m.name] = m.compute()
        return logs
