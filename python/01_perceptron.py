"""Chapter 1 — the perceptron, and why we need hidden layers.

Rosenblatt's perceptron computes step(w . x + b) and learns with one rule: after each sample,
w += lr * (y - y_hat) * x.  It is guaranteed to stop making mistakes when a straight line
(a hyperplane) separates the two classes — AND, OR, Iris setosa vs the other species — and it
can never stop on XOR, whose classes no line separates.  A network with one hidden layer,
trained by backpropagation, solves XOR easily.

    python python/01_perceptron.py [--quick]
"""
import numpy as np

import dlcore as dl
from dlcore import nn
from dlcore.examples.common import run

X_BITS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
GATES = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0]}


def perceptron_on_gates(max_epochs):
    results = {}
    for name, y in GATES.items():
        p = nn.Perceptron(2, lr=1.0, max_epochs=max_epochs)
        fit = p.fit(X_BITS, np.array(y))
        pred = p.predict(X_BITS).tolist()
        print("%-3s  errors per epoch: %s" % (name, " ".join(str(e) for e in fit.errors)))
        print("     converged: %-5s  after %2d epochs   predictions %s (targets %s)   "
              "w = %s, b = %s" % (fit.converged, fit.epochs, pred, y,
                                  p.weight.numpy()[0].tolist(), p.bias.numpy().tolist()))
        results[name] = (fit, pred == y)
    return results


def perceptron_on_iris():
    X, y = dl.data.load_iris(return_X_y=True)
    setosa = (y == 0).astype(np.int64)
    p = nn.Perceptron(4, lr=0.1, max_epochs=50)
    fit = p.fit(X, setosa)
    acc = p.score(X, setosa)
    print("Iris setosa vs rest: errors per epoch %s -> converged %s, accuracy %.3f"
          % (fit.errors, fit.converged, acc))
    return fit, acc


def mlp_on_xor(steps):
    """Two inputs -> 8 tanh units -> 2 logits, trained by backprop on the 4 XOR points."""
    dl.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = dl.optim.Adam(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    x, y = dl.tensor(X_BITS), dl.tensor(GATES["XOR"])
    # written out on purpose: the one training step every later chapter hands to dl.train.fit
    for step in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if step % (steps // 5) == 0 or step == steps - 1:
            print("  step %4d  loss %.4f" % (step, loss.item()))
    with dl.no_grad():
        pred = model(x).argmax(dim=1).tolist()
    acc = float(np.mean(np.array(pred) == np.array(GATES["XOR"])))
    print("MLP 2-8-2 on XOR: predictions %s (targets %s), accuracy %.2f"
          % (pred, GATES["XOR"], acc))
    return acc


def main(quick=False):
    print("== The perceptron rule on logic gates ==")
    gates = perceptron_on_gates(max_epochs=10 if quick else 20)
    print("\n== Perceptron on Iris ==")
    iris_fit, iris_acc = perceptron_on_iris()
    print("\n== A hidden layer fixes XOR ==")
    xor_acc = mlp_on_xor(steps=300)
    return {"chapter": "01", "model": "Perceptron; MLP 2-8-2", "data": "AND/OR/XOR, Iris",
            "metric": "XOR acc (MLP)", "value": xor_acc,
            "and_converged": gates["AND"][0].converged and gates["AND"][1],
            "or_converged": gates["OR"][0].converged and gates["OR"][1],
            "xor_converged": gates["XOR"][0].converged,
            "xor_errors": gates["XOR"][0].errors,
            "iris_setosa_converged": iris_fit.converged, "iris_setosa_accuracy": iris_acc}


if __name__ == "__main__":
    run(main)
