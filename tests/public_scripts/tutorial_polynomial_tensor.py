"""'Learning PyTorch with examples', part 2: the cubic fit with tensors and manual gradients.

The NumPy version moved onto tensors: a dtype and a torch.device, torch.linspace/sin/randn
with device= and dtype=, .pow(2).sum().item() for the loss, and in-place updates `a -= ...`.
"""
import argparse
import math

import torch


def main(quick=True, argv=()):
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args(list(argv))
    torch.manual_seed(args.seed)

    dtype = torch.float
    device = torch.device("cpu")
    x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    y = torch.sin(x)
    a = torch.randn((), device=device, dtype=dtype)
    b = torch.randn((), device=device, dtype=dtype)
    c = torch.randn((), device=device, dtype=dtype)
    d = torch.randn((), device=device, dtype=dtype)

    learning_rate = 1e-6
    for t in range(args.steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum().item()
        if t == 0:
            initial_loss = loss
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
    print(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")
    return {"loss": loss, "initial_loss": initial_loss}


if __name__ == "__main__":
    import sys
    main(quick=False, argv=sys.argv[1:])
