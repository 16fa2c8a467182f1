"""dl.train (fit/evaluate/predict, callbacks) and dl.metrics."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import metrics as M
from dlcore import nn
from dlcore.data import DataLoader, StandardScaler, TensorDataset, load_iris, train_test_split
from dlcore.train import (Callback, EarlyStopping, LambdaCallback, ModelCheckpoint,
                          TerminateOnNaN, evaluate, fit, predict)


class _TinySGD:
    """Plain SGD, for use until dl.optim is merged into this branch."""

    def __init__(self, params, lr):
        self.params = list(params)
        self.param_groups = [{"lr": lr, "params": self.params}]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        lr = self.param_groups[0]["lr"]
        for p in self.params:
            if p.grad is not None:
                p._data -= lr * p.grad._data


def sgd(params, lr):
    try:
        from dlcore.optim import SGD
    except ImportError:
        SGD = _TinySGD
    return SGD(params, lr=lr)


@pytest.fixture(scope="module")
def iris_split():
    X, y = load_iris(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr), ytr, sc.transform(Xte), yte


def _mlp():
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def _loaders(split, bs=16):
    Xtr, ytr, Xte, yte = split
    train = DataLoader(TensorDataset(Xtr, ytr), batch_size=bs, shuffle=True,
                       generator=dl.Generator().manual_seed(0))
    return train, DataLoader(TensorDataset(Xte, yte), batch_size=64)


def test_fit_reaches_accuracy_on_iris(iris_split, capsys):
    model = _mlp()
    train, val = _loaders(iris_split)
    hist = fit(model, train, nn.CrossEntropyLoss(), sgd(model.parameters(), 0.1), epochs=40,
               val_loader=val, metrics=["accuracy"], verbose=0)
    assert capsys.readouterr().out == ""
    assert hist.epoch == list(range(40))
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 40 for v in hist.history.values())
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert hist.history["accuracy"][-1] >= 0.95
    assert hist.history["val_accuracy"][-1] >= 0.9
    res = evaluate(model, val, nn.CrossEntropyLoss())
    assert res["accuracy"] == pytest.approx(hist.history["val_accuracy"][-1])
    assert res["loss"] == pytest.approx(hist.history["val_loss"][-1], rel=1e-6)
    assert model.training  # fit leaves the model's mode as it found it


def test_fit_prints_one_line_per_epoch_off_a_terminal(iris_split, capsys):
    model = _mlp()
    train, val = _loaders(iris_split)
    fit(model, train, nn.CrossEntropyLoss(), sgd(model.parameters(), 0.1), epochs=3,
        val_loader=val, metrics=["accuracy", "top2"])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert len(lines) == 3
    assert lines[0].startswith("Epoch 1/3") and "loss:" in lines[0]
    assert "val_accuracy:" in lines[2] and "top2_accuracy:" in lines[2]


def test_fit_accepts_arrays_and_metric_functions(iris_split):
    Xtr, ytr, Xte, yte = iris_split
    model = _mlp()

    def wrong(output, target):
        return 1.0 - M.accuracy(output, target)

    hist = fit(model, (Xtr, ytr), nn.CrossEntropyLoss(), sgd(model.parameters(), 0.1),
               epochs=2, val_loader=(Xte, yte), metrics=[wrong, "acc"], verbose=0)
    for a, w in zip(hist.history["accuracy"], hist.history["wrong"]):
        assert a + w == pytest.approx(1.0)


def test_early_stopping_stops_when_nothing_improves(iris_split):
    model = _mlp()
    train, val = _loaders(iris_split)
    es = EarlyStopping(monitor="val_loss", patience=2)
    hist = fit(model, train, nn.CrossEntropyLoss(), sgd(model.parameters(), 0.0), epochs=20,
               val_loader=val, callbacks=[es], verbose=0)
    # lr 0: epoch 0 sets the best, epochs 1 and 2 fail to improve -> stop after epoch 2
    assert hist.epoch == [0, 1, 2] and es.stopped_epoch == 2


def test_early_stopping_restores_best_weights():
    model = nn.Linear(2, 1)
    es = EarlyStopping(monitor="val_accuracy", patience=1, restore_best_weights=True)
    assert es.mode == "max"
    es.set_context(model, None, {})
    es.on_train_begin()
    values = [0.5, 0.8, 0.7, 0.6]
    snapshots = []
    for epoch, v in enumerate(values):
        model.weight.data = dl.full((1, 2), float(epoch))
        snapshots.append(model.weight.numpy().copy())
        es.on_epoch_end(epoch, {"val_accuracy": v})
        if es.stop_training:
            break
    assert es.stopped_epoch == 2 and es.best_epoch == 1
    es.on_train_end()
    np.testing.assert_array_equal(model.weight.numpy(), snapshots[1])


def test_early_stopping_min_delta_and_missing_metric():
    es = EarlyStopping(monitor="loss", patience=0, min_delta=0.1)
    es.set_context(nn.Linear(1, 1), None, {})
    es.on_train_begin()
    es.on_epoch_end(0, {"loss": 1.0})
    es.on_epoch_end(1, {"loss": 0.95})  # better, but by less than min_delta
    assert es.stop_training
    es2 = EarlyStopping(monitor="val_loss")
    es2.set_context(nn.Linear(1, 1), None, {})
    es2.on_train_begin()
    with pytest.warns(RuntimeWarning, match="val_loss"):
        es2.on_epoch_end(0, {"loss": 1.0})
    assert not es2.stop_training


def test_model_checkpoint_writes(tmp_path, iris_split):
    model = _mlp()
    train, val = _loaders(iris_split)
    every = ModelCheckpoint(str(tmp_path / "e{epoch:02d}.safetensors"), monitor="val_loss")
    best = ModelCheckpoint(str(tmp_path / "best.safetensors"), monitor="val_accuracy",
                           save_best_only=True)
    fit(model, train, nn.CrossEntropyLoss(), sgd(model.parameters(), 0.1), epochs=3,
        val_loader=val, callbacks=[every, best], verbose=0)
    assert sorted(p.name for p in tmp_path.glob("e*.safetensors")) == [
        "e01.safetensors", "e02.safetensors", "e03.safetensors"]
    last = dl.load(tmp_path / "e03.safetensors")
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(last[k].numpy(), v.numpy())
    meta = dl.io.read_metadata(tmp_path / "e03.safetensors")
    assert meta["epoch"] == "3" and "val_loss" in meta
    assert (tmp_path / "best.safetensors").exists() and len(best.saved) >= 1
    # save_best_only: a worse epoch does not overwrite
    ck = ModelCheckpoint(str(tmp_path / "b.safetensors"), monitor="val_loss",
                         save_best_only=True)
    ck.set_context(model, None, {})
    ck.on_epoch_end(0, {"val_loss": 1.0})
    ck.on_epoch_end(1, {"val_loss": 2.0})
    ck.on_epoch_end(2, {"val_loss": 0.5})
    assert len(ck.saved) == 2
    assert dl.io.read_metadata(tmp_path / "b.safetensors")["epoch"] == "3"


def test_callback_hooks_scheduler_and_nan_termination(iris_split):
    Xtr, ytr, _, _ = iris_split
    events = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            events.append("begin")

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch", epoch, "lr" in logs))

        def on_train_end(self, logs=None):
            events.append("end")

    class Halver:
        def __init__(self, opt):
            self.opt, self.steps = opt, 0

        def step(self):
            self.steps += 1
            self.opt.param_groups[0]["lr"] *= 0.5

    model = _mlp()
    opt = sgd(model.parameters(), 0.2)
    sched = Halver(opt)
    batches = []
    hist = fit(model, (Xtr, ytr), nn.CrossEntropyLoss(), opt, epochs=3, scheduler=sched,
               callbacks=[Recorder(), LambdaCallback(
                   on_train_batch_end=lambda b, logs: batches.append(logs["size"]))],
               verbose=0)
    assert events == ["begin", ("epoch", 0, True), ("epoch", 1, True), ("epoch", 2, True), "end"]
    assert sched.steps == 3 and hist.history["lr"] == [0.2, 0.1, 0.05]
    assert sum(batches) == 3 * len(Xtr)

    class Exploding:
        param_groups = [{"lr": 1.0}]

        def zero_grad(self):
            pass

        def step(self):
            for p in model.parameters():
                p._data[...] = np.nan

    hist = fit(model, (Xtr, ytr), nn.CrossEntropyLoss(), Exploding(), epochs=5,
               callbacks=[TerminateOnNaN()], verbose=0)
    assert len(hist.epoch) == 1


def test_fit_argument_errors(iris_split):
    Xtr, ytr, _, _ = iris_split
    model = _mlp()
    with pytest.raises(TypeError, match="zero_grad"):
        fit(model, (Xtr, ytr), nn.CrossEntropyLoss(), object(), epochs=1)
    with pytest.raises(ValueError, match="scalar"):
        fit(model, (Xtr, ytr), lambda out, t: out, sgd(model.parameters(), 0.1), epochs=1,
            metrics=(), verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, (Xtr, ytr), nn.CrossEntropyLoss(), sgd(model.parameters(), 0.1), epochs=-1)
    with pytest.raises(ValueError, match="unknown metric"):
        fit(model, (Xtr, ytr), nn.CrossEntropyLoss(), sgd(model.parameters(), 0.1), epochs=1,
            metrics=["bogus"])
    dict_loader = [{"x": dl.tensor(Xtr[:4]), "y": dl.tensor(ytr[:4])}]
    with pytest.raises(TypeError, match="unpack"):
        fit(model, dict_loader, nn.CrossEntropyLoss(), sgd(model.parameters(), 0.1), epochs=1,
            verbose=0)
    hist = fit(model, dict_loader, nn.CrossEntropyLoss(), sgd(model.parameters(), 0.1),
               epochs=1, verbose=0, unpack=lambda b: (b["x"], b["y"]))
    assert len(hist.history["loss"]) == 1


def test_predict_and_evaluate_restore_modes(iris_split):
    Xtr, ytr, Xte, yte = iris_split
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.ReLU(), nn.Linear(8, 3))
    model.train()
    model[1].eval()  # a mixed state must come back exactly
    out = predict(model, Xte, batch_size=7)
    assert out.shape == (len(Xte), 3) and not out.requires_grad
    assert model.training and not model[1].training and model[3].training
    model.eval()
    with dl.no_grad():
        ref = model(dl.tensor(Xte)).numpy()
    model.train()
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6, atol=1e-6)
    loader = DataLoader(TensorDataset(Xte, yte), batch_size=10)
    np.testing.assert_allclose(predict(model, loader).numpy(), ref, rtol=1e-6, atol=1e-6)
    res = evaluate(model, loader, metrics=["accuracy"])
    assert set(res) == {"accuracy"}
    assert res["accuracy"] == pytest.approx(M.accuracy(ref, yte))
    assert model.training


# ---- metrics -----------------------------------------------------------------------------------
def test_accuracy_variants():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 1.0], [5.0, 0.0, 0.0]])
    y = np.array([0, 1, 1, 0])
    assert M.accuracy(logits, y) == 0.75
    assert M.accuracy(dl.tensor(logits), dl.tensor(y)) == 0.75
    assert M.accuracy(np.array([[0.3], [-2.0], [0.1]]), np.array([1, 0, 0])) == pytest.approx(2 / 3)
    assert M.accuracy(np.array([0.9, 0.2]), np.array([1, 1]), threshold=0.5) == 0.5
    assert M.accuracy(np.array([2, 1, 0]), np.array([2, 1, 1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="shape"):
        M.accuracy(logits, np.array([0, 1]))
    assert M.top_k_accuracy(logits, np.array([1, 2, 0, 2]), k=2) == 0.75
    assert M.top_k_accuracy(logits, np.array([2, 0, 0, 0]), k=3) == 1.0


def test_regression_metrics_and_confusion_matrix():
    assert M.mean_squared_error(np.array([[1.0], [3.0]]), np.array([0.0, 1.0])) == 2.5
    assert M.mean_absolute_error([1.0, -1.0], [0.0, 0.0]) == 1.0
    cm = M.confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 2, 1])
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 1, 1], [0, 0, 2]])
    logits = np.eye(3)[[0, 2, 2, 2, 1]]
    np.testing.assert_array_equal(M.confusion_matrix([0, 1, 2, 2, 1], logits), cm)
    assert M.confusion_matrix([0], [0], num_classes=4).shape == (4, 4)
    p, r, f = M.precision_recall_f1([0, 1, 2, 2, 1], [0, 2, 2, 2, 1])
    assert p == pytest.approx((1 + 1 + 2 / 3) / 3) and r == pytest.approx((1 + 0.5 + 1) / 3)
    with pytest.raises(ValueError, match="num_classes"):
        M.confusion_matrix([0, 5], [0, 1], num_classes=3)


def test_progress_bar_on_a_terminal(iris_split, capsys, monkeypatch):
    pytest.importorskip("tqdm")
    import dlcore.train.progress as P
    monkeypatch.setattr(P, "_use_bar", lambda verbose: verbose not in (0, False, 2))
    Xtr, ytr, _, _ = iris_split
    model = _mlp()
    fit(model, (Xtr, ytr), nn.CrossEntropyLoss(), sgd(model.parameters(), 0.1), epochs=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "batch" in out and "accuracy" in out
