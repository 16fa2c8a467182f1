"""'Learning PyTorch with examples', part 1: a cubic fitted to sin(x) with NumPy alone.

No torch in it -- it is the baseline the later parts translate, kept so the series is whole.
Forward pass, squared-error loss, hand-derived gradients and a plain gradient step.
"""
import argparse
import math

import numpy as np


def main(quick=True, argv=()):
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args(list(argv))
    rng = np.random.default_rng(args.seed)

    x = np.linspace(-math.pi, math.pi, 2000)
    y = np.sin(x)
    a, b, c, d = rng.standard_normal(4)
    learning_rate = 1e-6
    for t in range(args.steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = np.square(y_pred - y).sum()
        if t == 0:
            initial_loss = float(loss)
        if t % 500 == 499:
            print(t, loss)
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x ** 2).sum()
        grad_d = (grad_y_pred * x ** 3).sum()
        a -= learning_rate * grad_a
        b -= learning_rate * grad_b
        c -= learning_rate * grad_c
        d -= learning_rate * grad_d
    print(f"Result: y = {a} + {b} x + {c} x^2 + {d} x^3")
    return {"loss": float(loss), "initial_loss": initial_loss}


if __name__ == "__main__":
    import sys
    main(quick=False, argv=sys.argv[1:])
