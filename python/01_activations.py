"""Chapter 1 — the neuron computes activation(w . x + b): step, sigmoid, tanh, ReLU.

A neuron weighs its inputs, adds a bias and passes the sum z = w . x + b through an activation
function.  Rosenblatt's perceptron used the step function; gradient descent cannot, because the
step's derivative is zero everywhere it exists, so it learns with its own rule (01_perceptron).
The smooth activations have derivatives autograd can follow:

    sigmoid(z) = 1 / (1 + e^-z)        sigmoid'(z) = sigmoid(z) (1 - sigmoid(z))   <= 0.25
    tanh(z)                            tanh'(z)    = 1 - tanh(z)^2                 <= 1
    relu(z)    = max(0, z)             relu'(z)    = 1 for z > 0, else 0
    leaky_relu(z) = max(a z, z)        derivative  = 1 for z > 0, else a (here a = 0.1)

Sigmoid and tanh *saturate*: for |z| beyond a few units their derivative is almost zero, so a
neuron that is confidently wrong receives almost no gradient and barely moves.  ReLU does not
saturate for z > 0 (its derivative stays 1), but for z < 0 it is flat: a unit that is negative
on the examples it should fire for gets no gradient from them ("dead").  Leaky ReLU keeps a
small slope there.

The experiment: one neuron per activation, the same separable data (two Gaussian blobs in 2-D,
200 points, a margin around the separating line), the same loss (mean squared error to 0/1 targets, -1/1 for tanh) and 300 steps of
gradient descent (lr 0.1), from two starts: small random weights, and w = (-6, -6), a start
that is confidently wrong (it scores the positive blob far below the negative one).  The step
neuron is trained with the perceptron rule from the same two starts.

Measured (seeded; the numbers do not depend on the machine): from the small start every neuron
separates the blobs (100% training accuracy; the step neuron's perceptron rule converges in 3
epochs); from the confidently wrong start sigmoid and tanh stay at 0% (mean |dL/dw| at the first
step 0.0011 and 0.00055: saturated — their derivatives at z = 6 are 2.5e-03 and 2.5e-05), ReLU
ends at 50% (the positive blob is dead: no gradient from it), leaky ReLU reaches 100% and the
perceptron rule converges in 5 epochs.

Figures (with matplotlib, in --out): activations.png (each function and its derivative, the
derivatives computed by dlcore's autograd) and activation_training.png (loss curves).

    python python/01_activations.py [--quick] [--out DIR]
"""
import numpy as np

import dlcore as dl
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.examples.common import plot_per_start, pyplot, run, save_figure

LEAK = 0.1
# name: (function on tensors, decision threshold on the output, targets for the two classes)
ACTIVATIONS = {
    "sigmoid": (dl.sigmoid, 0.5, (0.0, 1.0)),
    "tanh": (dl.tanh, 0.0, (-1.0, 1.0)),
    "ReLU": (dl.relu, 0.5, (0.0, 1.0)),
    "leaky ReLU": (lambda z: F.leaky_relu(z, LEAK), 0.5, (0.0, 1.0)),
}
STARTS = {"small": None, "confidently wrong": np.array([-6.0, -6.0], np.float32)}


def blobs(n=200, seed=0, margin=0.5):
    """Two Gaussian blobs, labels 0 and 1, with the points closer than `margin` to the line
    1.5 x1 + x2 = 0 left out, so a straight line separates them (the perceptron's condition)."""
    rng = np.random.default_rng(seed)
    centre = np.array([1.5, 1.0])
    normal = centre / np.linalg.norm(centre)
    classes = []
    for sign in (-1, 1):
        pts = rng.normal(sign * centre, 0.8, (4 * n, 2))
        pts = pts[sign * (pts @ normal) > margin][:n // 2]
        classes.append(pts)
    X = np.concatenate(classes).astype(np.float32)
    y = np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(np.int64)
    return X, y


def derivative(fn, z):
    """d fn(z) / dz at every point of z, by autograd (each output depends on its own input)."""
    zt = dl.tensor(z, requires_grad=True)
    fn(zt).sum().backward()
    return zt.grad.numpy()


def analytic_derivatives(z):
    s = 1 / (1 + np.exp(-z))
    return {"sigmoid": s * (1 - s), "tanh": 1 - np.tanh(z) ** 2,
            "ReLU": (z > 0).astype(z.dtype), "leaky ReLU": np.where(z > 0, 1.0, LEAK)}


def train_neuron(name, X, y, w0, b0=0.0, steps=300, lr=0.1):
    """Gradient descent on mean squared error for one neuron; returns accuracy, the mean |dL/dw|
    at the first step and the loss after every step."""
    fn, threshold, (lo, hi) = ACTIVATIONS[name]
    target = dl.tensor(np.where(y == 1, hi, lo).astype(np.float32))
    w = dl.tensor(np.array(w0, np.float32), requires_grad=True)
    b = dl.tensor(np.float32(b0), requires_grad=True)
    Xt = dl.tensor(X)
    first_grad, losses = None, []
    for _ in range(steps):
        loss = ((fn(Xt @ w + b) - target) ** 2).mean()
        loss.backward()
        if first_grad is None:
            first_grad = float(np.abs(w.grad.numpy()).mean())
        with dl.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = b.grad = None
        losses.append(loss.item())
    with dl.no_grad():
        pred = (fn(Xt @ w + b).numpy() > threshold).astype(np.int64)
    return float((pred == y).mean()), first_grad, losses


def step_neuron(X, y, w0):
    """The step activation cannot be trained by gradient descent (its derivative is 0 almost
    everywhere): the perceptron rule instead, from the same start."""
    p = nn.Perceptron(2, lr=0.1, max_epochs=100)
    with dl.no_grad():
        p.weight._data[...] = w0
        p.bias._data[...] = 0.0
    fit = p.fit(X, y)  # continues from the current weights
    return fit.converged, fit.epochs, float(p.score(X, y))


def plot_activations(out_dir):
    plt = pyplot()
    if plt is None:
        return None
    z = np.linspace(-6, 6, 601).astype(np.float32)
    fns = dict(step=None, **{k: v[0] for k, v in ACTIVATIONS.items()})
    fig, axes = plt.subplots(2, len(fns), figsize=(3 * len(fns), 5), sharex=True)
    for j, (name, fn) in enumerate(fns.items()):
        if fn is None:
            val, der = (z > 0).astype(np.float32), np.zeros_like(z)
        else:
            with dl.no_grad():
                val = fn(dl.tensor(z)).numpy()
            der = derivative(fn, z)
        axes[0, j].plot(z, val, color="C0")
        axes[0, j].set_title(name)
        axes[1, j].plot(z, der, color="C1")
        axes[1, j].set_xlabel("z = w . x + b")
        for ax in axes[:, j]:
            ax.axhline(0, color="0.8", lw=0.5)
            ax.axvline(0, color="0.8", lw=0.5)
    axes[0, 0].set_ylabel("activation(z)")
    axes[1, 0].set_ylabel("derivative (autograd)")
    fig.suptitle("activation functions and their derivatives (step: 0 almost everywhere)")
    fig.tight_layout()
    return save_figure(fig, out_dir, "activations.png")


def plot_training(curves, out_dir):
    return plot_per_start(curves, out_dir, "activation_training.png", "gradient-descent step",
                          "mean squared error (training)", log_y=True, legend_fontsize=8)


def main(quick=False, out_dir=".", steps: int = None):
    """quick is the tour's smoke run (100 gradient steps per neuron); the test asks for
    steps=300, the full run's, where the accuracies it checks were measured."""
    steps = steps or (100 if quick else 300)
    dl.manual_seed(0)
    X, y = blobs()
    z = np.linspace(-8, 8, 161).astype(np.float32)
    exact = analytic_derivatives(z)
    autograd_error = max(float(np.abs(derivative(ACTIVATIONS[k][0], z) - exact[k]).max())
                         for k in ACTIVATIONS)
    print("autograd derivatives vs the formulas (z in [-8, 8]): max difference %.1e"
          % autograd_error)
    for k in ("sigmoid", "tanh"):
        print("  %-7s derivative at z = 0: %.3f, at z = 6: %.1e" % (k, exact[k][80], exact[k][140]))

    rng = np.random.default_rng(1)
    starts = {k: (rng.normal(0, 0.1, 2).astype(np.float32) if v is None else v)
              for k, v in STARTS.items()}
    results, curves = {}, {}
    for start, w0 in starts.items():
        results[start], curves[start] = {}, {}
        conv, epochs, acc = step_neuron(X, y, w0)
        results[start]["step"] = {"accuracy": acc, "converged": conv, "epochs": epochs}
        print("%s start, w0 = %s:" % (start, np.round(w0, 3).tolist()))
        print("  %-10s perceptron rule: converged %s after %d epochs, accuracy %.3f"
              % ("step", conv, epochs, acc))
        for name in ACTIVATIONS:
            acc, g0, losses = train_neuron(name, X, y, w0, steps=steps)
            results[start][name] = {"accuracy": acc, "first_grad": g0, "final_loss": losses[-1]}
            curves[start][name] = losses
            print("  %-10s accuracy %.3f   mean |dL/dw| at step 1 %.3g   final loss %.4f"
                  % (name, acc, g0, losses[-1]))
    wrong = results["confidently wrong"]
    # the smoke run draws the activations only (matplotlib's layout is most of its time)
    figures = [p for p in (plot_activations(out_dir),
                           None if quick else plot_training(curves, out_dir)) if p]
    return {"chapter": "01", "model": "one neuron: activation(w.x + b)",
            "data": "2 Gaussian blobs (200 points)",
            "metric": "acc from a confidently wrong start: sigmoid | tanh | ReLU | leaky ReLU",
            "value": " | ".join("%.3f" % wrong[k]["accuracy"] for k in ACTIVATIONS),
            "wrong_start_accuracy": {k.lower().replace(" ", "_"): wrong[k]["accuracy"]
                                     for k in ("step",) + tuple(ACTIVATIONS)},
            "results": results, "autograd_max_error": autograd_error, "figures": figures}


if __name__ == "__main__":
    run(main)
