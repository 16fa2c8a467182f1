"""dl.train: one training loop (Trainer), the Keras-style fit / evaluate / predict on top of it,
and callbacks.

    history = dl.train.fit(model, train_loader, nn.CrossEntropyLoss(), optimizer, epochs=20,
                           val_loader=val_loader, metrics=["accuracy"],
                           callbacks=[EarlyStopping("val_loss", patience=3,
                                                    restore_best_weights=True)])
    history.history["val_accuracy"][-1]

Batches are tuples (inputs..., target): the model is called as model(*inputs) and the loss as
loss_fn(output, target).  Other kinds of training (a GAN's two optimizers, an autoencoder's
input as target, a recurrent state carried across batches) subclass Trainer and override
training_step: see dlcore/train/trainer.py.  On a terminal a tqdm progress bar shows each epoch;
otherwise one line is printed per epoch; verbose=0 prints nothing.

    trainer.py    Trainer: the loop, and the per-batch methods a subclass overrides
    fit.py        fit, evaluate, predict
    callbacks.py  Callback, History, EarlyStopping, ModelCheckpoint, TerminateOnNaN, LambdaCallback
    progress.py   the progress bar / per-epoch lines: the one place the loop prints
"""
from .callbacks import (Callback, EarlyStopping, History, LambdaCallback, ModelCheckpoint,
                        TerminateOnNaN)
from .fit import evaluate, fit, predict
from .trainer import Trainer

__all__ = ["Trainer", "fit", "evaluate", "predict", "History", "Callback", "EarlyStopping",
           "ModelCheckpoint", "TerminateOnNaN", "LambdaCallback"]
