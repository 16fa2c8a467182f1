"""fit / evaluate / predict: the Keras-style functions over a model, on top of Trainer."""
import numpy as np

from ..tensor import Tensor, from_numpy
from .trainer import EvalMode, Trainer, _metric_objects, loader_from

__all__ = ["fit", "evaluate", "predict"]


def fit(model, train_loader, loss_fn, optimizer, epochs=1, val_loader=None, metrics=("accuracy",),
        callbacks=(), scheduler=None, verbose="auto", scheduler_step="epoch", initial_epoch=0,
        clip_grad_norm=None, unpack=None, resume_from=None):
    """Train `model` for `epochs` passes over `train_loader`; returns a History.

    loss_fn(output, target) -> scalar Tensor; optimizer has zero_grad() and step().
    val_loader: evaluated after each epoch (eval mode, no grad); its values are logged with a
    'val_' prefix.  metrics: names ('accuracy', 'top5', 'mse', 'mae'), functions
    fn(output, target) -> float, or dl.metrics.Metric objects.  scheduler: stepped after each
    epoch (scheduler_step='epoch') or after each optimizer step ('batch').  clip_grad_norm: a
    max norm for dl.nn.utils.clip_grad_norm_ before each step.  verbose: 0 silent, 2 one line per
    epoch, 1/'auto' a progress bar on a terminal (one line per epoch otherwise).
    unpack(batch) -> (inputs, target) for loaders whose batches are not (inputs..., target).
    resume_from: a checkpoint of ModelCheckpoint(..., training_state=True) to continue a killed
    run from; the result is bit-identical to the uninterrupted run (dlcore.train.resume).
    The same as Trainer(model, optimizer, loss_fn, ...).fit(train_loader, epochs, ...).
    """
    trainer = Trainer(model, optimizer, loss_fn, metrics=metrics, callbacks=callbacks,
                      scheduler=scheduler, scheduler_step=scheduler_step,
                      clip_grad_norm=clip_grad_norm, unpack=unpack, verbose=verbose)
    return trainer.fit(train_loader, epochs, val_loader=val_loader, initial_epoch=initial_epoch,
                       resume_from=resume_from)


def evaluate(model, loader, loss_fn=None, metrics=("accuracy",), batch_size=256, unpack=None):
    """Loss (when loss_fn is given) and metrics over `loader` (or an (X, y) tuple), in eval mode
    without gradients; the model's previous mode is restored.  Returns a dict."""
    trainer = Trainer(model, None, loss_fn, unpack=unpack)
    trainer.val_metrics = _metric_objects(metrics)
    return trainer.evaluate(loader_from(loader, batch_size))


def _as_array(x):
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


def predict(model, data, batch_size=256):
    """Model outputs for `data` (a Tensor/array of inputs, or a loader whose batches are
    (inputs..., [target]) or inputs alone), concatenated over batches, as a Tensor.  Runs in eval
    mode without gradients and restores the model's previous mode."""
    outs = []
    with EvalMode(model):
        if isinstance(data, (Tensor, np.ndarray)):
            arr = data.numpy() if isinstance(data, Tensor) else data
            if arr.ndim == 0:
                raise ValueError("predict: inputs must have a batch dimension, got a 0-d array")
            for s in range(0, arr.shape[0], batch_size):
                outs.append(model(from_numpy(arr[s:s + batch_size])))
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
        return tuple(from_numpy(np.concatenate([_as_array(o[i]) for o in outs]))
                     for i in range(len(first)))
    return from_numpy(np.concatenate([_as_array(o) for o in outs]))
