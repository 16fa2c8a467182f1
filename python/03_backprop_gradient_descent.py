"""Chapter 3 — backpropagation by hand, then gradient descent and its two knobs.

Part 1 writes the forward and backward pass of a small MLP in plain NumPy (the chain rule, one
layer at a time) and checks every gradient against dlcore's autograd: they agree to rounding.

Part 2 trains an MLP on the 8x8 digits with plain mini-batch SGD and sweeps the learning rate
(too small: slow; too large: the loss jumps or diverges) and the batch size (small batches: more,
noisier steps per epoch; large batches: fewer, smoother ones).  With matplotlib installed the loss
curves are saved as 03_loss_curves.png (in --out DIR).

    python python/03_backprop_gradient_descent.py [--quick] [--out DIR]
"""
import os

import numpy as np

import dlcore as dl
from dlcore import nn
from dlcore.data import DataLoader, StandardScaler, TensorDataset, load_digits, train_test_split
from dlcore.examples.common import pyplot, run, save_figure


# ---- part 1: backprop by hand ----------------------------------------------------------
def numpy_forward_backward(X, y, W1, b1, W2, b2):
    """MLP x -> tanh(x W1^T + b1) -> h W2^T + b2 -> softmax cross-entropy (mean over the batch).

    Weights use PyTorch's Linear layout (out_features, in_features).  Returns the loss and the
    gradients of the loss with respect to W1, b1, W2, b2.
    """
    n = X.shape[0]
    # forward, keeping what backward needs
    z1 = X @ W1.T + b1
    h = np.tanh(z1)
    z2 = h @ W2.T + b2
    z2s = z2 - z2.max(axis=1, keepdims=True)            # stable softmax
    p = np.exp(z2s) / np.exp(z2s).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    # backward: d loss / d z2 of softmax + cross-entropy is (p - onehot) / n
    dz2 = p.copy()
    dz2[np.arange(n), y] -= 1.0
    dz2 /= n
    dW2 = dz2.T @ h                                     # z2 = h W2^T + b2
    db2 = dz2.sum(axis=0)
    dh = dz2 @ W2
    dz1 = dh * (1.0 - h * h)                            # tanh' = 1 - tanh^2
    dW1 = dz1.T @ X
    db1 = dz1.sum(axis=0)
    return loss, {"0.weight": dW1, "0.bias": db1, "2.weight": dW2, "2.bias": db2}


def check_backprop():
    rng = np.random.default_rng(0)
    n, d_in, d_hidden, d_out = 16, 5, 7, 3
    X = rng.standard_normal((n, d_in))
    y = rng.integers(0, d_out, n)
    model = nn.Sequential(nn.Linear(d_in, d_hidden), nn.Tanh(), nn.Linear(d_hidden, d_out))
    model.double()  # float64, so the comparison shows the algorithm, not float32 rounding
    sd = {k: v.numpy() for k, v in model.state_dict().items()}

    loss_np, grads_np = numpy_forward_backward(X, y, sd["0.weight"], sd["0.bias"],
                                               sd["2.weight"], sd["2.bias"])
    loss = nn.CrossEntropyLoss()(model(dl.tensor(X)), dl.tensor(y))
    loss.backward()
    grads_dl = {name: p.grad.numpy() for name, p in model.named_parameters()}

    print("loss: NumPy %.12f   dlcore %.12f" % (loss_np, loss.item()))
    worst = abs(loss_np - loss.item())
    for name, g in grads_np.items():
        diff = float(np.max(np.abs(g - grads_dl[name])))
        worst = max(worst, diff)
        print("  d loss / d %-9s shape %-7s max |NumPy - autograd| = %.2e"
              % (name, str(tuple(g.shape)), diff))
    assert worst < 1e-10, "hand-written backprop disagrees with autograd: %.3e" % worst
    return worst


# ---- part 2: learning rate and batch size ----------------------------------------------
def digits_data(n_train=None):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=0)
    if n_train is not None:
        X_train, y_train = X_train[:n_train], y_train[:n_train]
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), y_train, scaler.transform(X_test), y_test


def train_curve(data, lr, batch_size, epochs):
    """Per-epoch mean training loss and final test accuracy of a 64-32-10 MLP under SGD."""
    X_train, y_train, X_test, y_test = data
    dl.manual_seed(0)  # same initial weights for every run of the sweep
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch_size, shuffle=True,
                        generator=dl.Generator().manual_seed(0))
    opt = dl.optim.SGD(model.parameters(), lr=lr)
    with np.errstate(over="ignore", invalid="ignore"):  # a too-large lr overflows on purpose
        hist = dl.train.fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=epochs,
                            metrics=(), verbose=0)
        acc = dl.train.evaluate(model, (X_test, y_test), metrics=["accuracy"])["accuracy"]
    return hist.history["loss"], acc


def _losses(losses):
    return " ".join("%.3g" % v if np.isfinite(v) and v < 1e3 else "diverged" for v in losses)


def sweep(data, epochs):
    lr_runs, bs_runs = {}, {}
    print("learning-rate sweep (batch size 32, %d epochs):" % epochs)
    for lr in (0.001, 0.01, 0.1, 1.0, 5.0):
        losses, acc = train_curve(data, lr, 32, epochs)
        lr_runs[lr] = (losses, acc)
        print("  lr %-6g loss per epoch %s   test acc %.3f" % (lr, _losses(losses), acc))
    print("batch-size sweep (lr 0.1, %d epochs):" % epochs)
    for bs in (8, 32, 128, len(data[0])):
        losses, acc = train_curve(data, 0.1, bs, epochs)
        bs_runs[bs] = (losses, acc)
        steps = -(-len(data[0]) // bs)
        print("  batch %-5d (%3d steps/epoch) loss per epoch %s   test acc %.3f"
              % (bs, steps, _losses(losses), acc))
    return lr_runs, bs_runs


def plot(lr_runs, bs_runs, path):
    plt = pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for lr, (losses, _) in lr_runs.items():
        shown = [v if np.isfinite(v) and v < 1e3 else np.nan for v in losses]
        label = "lr %g" % lr + (" (diverged)" if np.isnan(shown).any() else "")
        axes[0].plot(range(1, len(shown) + 1), shown, marker="o", label=label)
    axes[0].set(title="learning rate (batch 32)", xlabel="epoch", ylabel="training loss",
                yscale="log")
    for bs, (losses, _) in bs_runs.items():
        axes[1].plot(range(1, len(losses) + 1), losses, marker="o", label="batch %d" % bs)
    axes[1].set(title="batch size (lr 0.1)", xlabel="epoch", yscale="log")
    for ax in axes:
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, os.path.dirname(path) or ".", os.path.basename(path), dpi=100)


def main(quick=False, out_dir=".", plot_path=None):
    print("== Part 1: backprop by hand vs autograd ==")
    worst = check_backprop()
    print("\n== Part 2: gradient descent on the 8x8 digits ==")
    data = digits_data(n_train=400 if quick else None)
    epochs = 3 if quick else 10
    lr_runs, bs_runs = sweep(data, epochs)
    if plot_path is None:
        plot_path = os.path.join(out_dir, "03_loss_curves.png")
    saved = plot(lr_runs, bs_runs, plot_path)
    best_lr = min(lr_runs, key=lambda k: lr_runs[k][0][-1])
    return {"chapter": "03", "model": "MLP + hand backprop", "data": "random; Digits",
            "metric": "max|grad diff|", "value": worst, "best_lr": best_lr,
            "best_lr_test_accuracy": lr_runs[best_lr][1],
            "lr_final_loss": {lr: r[0][-1] for lr, r in lr_runs.items()},
            "lr_first_loss": {lr: r[0][0] for lr, r in lr_runs.items()},
            "batch_final_loss": {bs: r[0][-1] for bs, r in bs_runs.items()},
            "plot": saved}


if __name__ == "__main__":
    run(main)
