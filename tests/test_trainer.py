"""dl.train.Trainer: the loop behind fit, and what its overridable steps make possible."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.data import DataLoader, TensorDataset
from dlcore.train import Callback, LambdaCallback, Trainer, fit


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def _mlp(seed=0):
    dl.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))


def _loader(X, y, bs=8, seed=0):
    return DataLoader(TensorDataset(X, y), batch_size=bs, shuffle=True,
                      generator=np.random.default_rng(seed))


def test_fit_history_equals_a_hand_written_loop_bit_for_bit():
    X, y = _data(42)          # 42 = 5 batches of 8 and one of 2: a short last batch
    loss_fn = nn.CrossEntropyLoss()

    model = _mlp()
    opt = dl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    hist = fit(model, _loader(X, y), loss_fn, opt, epochs=4, metrics=(), verbose=0)

    ref = _mlp()
    ref_opt = dl.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    want = []
    for _ in range(4):
        perm = rng.permutation(len(X))
        total = 0.0
        for i in range(0, len(X), 8):
            idx = perm[i:i + 8]
            ref_opt.zero_grad()
            loss = loss_fn(ref(dl.tensor(X[idx])), dl.tensor(y[idx]))
            loss.backward()
            ref_opt.step()
            total += loss.item() * len(idx)
        want.append(total / len(X))
    assert hist.history["loss"] == want      # exact float equality, epoch by epoch
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)


class _TwoOptimizers(Trainer):
    """Two halves of a model, each with its own optimizer and loss, updated by hand."""

    automatic_optimization = False

    def __init__(self, a, b):
        super().__init__(nn.ModuleList([a, b]), verbose=0)
        self.a, self.b = a, b
        self.opt_a = dl.optim.SGD(a.parameters(), lr=0.1)
        self.opt_b = dl.optim.SGD(b.parameters(), lr=0.05)

    def training_step(self, batch):
        x, y = batch
        loss_a = nn.functional.mse_loss(self.a(x).reshape(-1), y)
        self.backward_step(loss_a, self.opt_a, self.a.parameters())
        loss_b = nn.functional.mse_loss(self.b(x).reshape(-1), -y)
        self.backward_step(loss_b, self.opt_b, self.b.parameters())
        return {"a_loss": loss_a, "b_loss": loss_b.item()}


def test_custom_training_step_with_two_optimizers():
    X, y = _data()
    y = y.astype(np.float32)
    dl.manual_seed(0)
    a, b = nn.Linear(3, 1), nn.Linear(3, 1)
    a0, b0 = a.weight.numpy().copy(), b.weight.numpy().copy()
    trainer = _TwoOptimizers(a, b)
    hist = trainer.fit(_loader(X, y), epochs=30)
    assert list(hist.history) == ["a_loss", "b_loss"]
    la, lb = hist.history["a_loss"], hist.history["b_loss"]
    assert la[-1] < 0.5 * la[0] and lb[-1] < 0.5 * lb[0]
    # each optimizer moved only its own half, towards opposite targets
    assert not np.allclose(a.weight.numpy(), a0) and not np.allclose(b.weight.numpy(), b0)
    with dl.no_grad():
        pa, pb = a(dl.tensor(X)).numpy(), b(dl.tensor(X)).numpy()
    assert np.corrcoef(pa[:, 0], pb[:, 0])[0, 1] < -0.9


def test_automatic_optimization_needs_the_loss_and_none_skips_a_batch():
    X, y = _data()

    class NoLoss(Trainer):
        def training_step(self, batch):
            return {"something": 1.0}

    model = _mlp()
    with pytest.raises(TypeError, match="automatic_optimization = False"):
        NoLoss(model, dl.optim.SGD(model.parameters(), lr=0.1), verbose=0).fit(_loader(X, y))

    class EverySecond(Trainer):
        seen = 0

        def training_step(self, batch):
            self.seen += 1
            return super().training_step(batch) if self.seen % 2 else None

    counts = []
    t = EverySecond(model, dl.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                    callbacks=[LambdaCallback(on_train_batch_end=lambda i, logs:
                                              counts.append(logs["size"]))], verbose=0)
    t.fit(_loader(X, y), epochs=1)
    assert t.seen == 5 and counts == [8, 8, 8]      # batches 0, 2, 4 trained and logged


def test_callback_and_hook_order():
    X, y = _data(16)
    events = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            events.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            events.append(("epoch_begin", epoch))

        def on_train_batch_begin(self, batch, logs=None):
            events.append(("batch_begin", batch))

        def on_train_batch_end(self, batch, logs=None):
            events.append(("batch_end", batch, sorted(logs)))

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", epoch, sorted(logs)))

        def on_train_end(self, logs=None):
            events.append("train_end")

    class Hooked(Trainer):
        def on_epoch_begin(self, epoch):
            events.append(("trainer_epoch_begin", epoch))

        def on_evaluate_begin(self):
            events.append("trainer_evaluate_begin")

    model = _mlp()
    rec = Recorder()
    t = Hooked(model, dl.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
               metrics=["accuracy"], callbacks=[rec], verbose=0)
    t.fit(_loader(X, y), epochs=2, val_loader=(X, y))
    assert rec.trainer is t and rec.model is model and rec.params["steps"] == 2
    batch = [("batch_begin", 0), ("batch_end", 0, ["loss", "size"]),
             ("batch_begin", 1), ("batch_end", 1, ["loss", "size"])]
    epoch_logs = ["accuracy", "loss", "val_accuracy", "val_loss"]
    want = ["train_begin"]
    for e in range(2):
        want += [("trainer_epoch_begin", e), ("epoch_begin", e)] + batch + [
            "trainer_evaluate_begin", ("epoch_end", e, epoch_logs)]
    assert events == want + ["train_end"]


def test_scheduler_stepped_per_batch_and_per_epoch():
    X, y = _data(40)
    for where, want_steps in (("batch", 3 * 5), ("epoch", 3)):
        model = _mlp()
        opt = dl.optim.SGD(model.parameters(), lr=1.0)
        sched = dl.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 ** s)
        seen = []
        hist = fit(model, _loader(X, y), nn.CrossEntropyLoss(), opt, epochs=3, metrics=(),
                   scheduler=sched, scheduler_step=where, verbose=0,
                   callbacks=[LambdaCallback(on_train_batch_begin=lambda b, logs: seen.append(
                       opt.param_groups[0]["lr"]))])
        assert sched.last_epoch == want_steps
        if where == "batch":   # every batch runs at a new rate; the log shows each epoch's end
            assert seen == [0.5 ** s for s in range(15)]
            assert hist.history["lr"] == [0.5 ** 5, 0.5 ** 10, 0.5 ** 15]
        else:
            assert seen == [1.0] * 5 + [0.5] * 5 + [0.25] * 5
            assert hist.history["lr"] == [1.0, 0.5, 0.25]


def test_gradient_clipping_before_each_step():
    X, y = _data(16)
    model = _mlp()
    norms = []

    class Recording(dl.optim.SGD):
        def step(self):
            g = [p.grad.numpy() for p in model.parameters()]
            norms.append(float(np.sqrt(sum((a.astype(np.float64) ** 2).sum() for a in g))))
            super().step()

    opt = Recording(model.parameters(), lr=10.0)   # large steps: large gradients
    fit(model, _loader(X, y), nn.CrossEntropyLoss(), opt, epochs=3, metrics=(), verbose=0,
        clip_grad_norm=0.05)
    assert len(norms) == 6 and max(norms) <= 0.05 * (1 + 1e-5)
    unclipped = []
    model2 = _mlp()
    opt2 = dl.optim.SGD(model2.parameters(), lr=10.0)
    fit(model2, _loader(X, y), nn.CrossEntropyLoss(), opt2, epochs=1, metrics=(), verbose=0,
        callbacks=[LambdaCallback(on_train_batch_end=lambda b, logs: unclipped.append(float(
            np.sqrt(sum((p.grad.numpy().astype(np.float64) ** 2).sum()
                        for p in model2.parameters())))))])
    assert max(unclipped) > 0.05          # so the bound above is the clipping's doing


def test_state_carried_across_batches_and_reset_each_epoch():
    """A running state (as truncated BPTT carries an RNN's) through training_step, reset by
    the on_epoch_begin / on_evaluate_begin hooks; batch_size decides the averages' weights."""
    X, y = _data(24)

    class Carry(Trainer):
        def on_epoch_begin(self, epoch):
            self.carried = 0

        def on_evaluate_begin(self):
            self.carried = 0

        def training_step(self, batch):
            self.carried += 1
            loss = super().training_step(batch)
            return {"loss": loss, "carried": self.carried}

        def validation_step(self, batch):
            self.carried += 1
            return {"carried": self.carried}

        def batch_size(self, batch):
            return 1                      # plain means over batches

    model = _mlp()
    t = Carry(model, dl.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), verbose=0)
    hist = t.fit(_loader(X, y), epochs=2, val_loader=DataLoader(TensorDataset(X, y),
                                                                batch_size=12))
    assert hist.history["carried"] == [2.0, 2.0]          # mean of 1, 2, 3
    assert hist.history["val_carried"] == [1.5, 1.5]      # mean of 1, 2


def test_trainer_argument_errors():
    model = _mlp()
    with pytest.raises(ValueError, match="scheduler_step"):
        Trainer(model, dl.optim.SGD(model.parameters(), lr=0.1), scheduler_step="step")
    with pytest.raises(TypeError, match="zero_grad"):
        Trainer(model, None, nn.CrossEntropyLoss()).fit([(dl.randn(2, 3), dl.tensor([0, 1]))])

    class BadLog(Trainer):
        def training_step(self, batch):
            return {"loss": super().training_step(batch), "name": "text"}

    X, y = _data(8)
    with pytest.raises(TypeError, match="'name' is str"):
        BadLog(model, dl.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
               verbose=0).fit((X, y))
