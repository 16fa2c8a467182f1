"""Polynomial regression of pytorch/examples (regression/main.py), in our own words.

A single nn.Linear learns the coefficients of a random degree-4 polynomial from batches of
features [x, x^2, x^3, x^4] (built with unsqueeze and torch.cat), with F.smooth_l1_loss, a
manual gradient step on param.data, and a stop once the batch loss falls below 1e-3.
"""
import argparse
from itertools import count

import torch
import torch.nn.functional as F

POLY_DEGREE = 4


def make_features(x):
    """Builds features i.e. a matrix with columns [x, x^2, x^3, x^4]."""
    x = x.unsqueeze(1)
    return torch.cat([x ** i for i in range(1, POLY_DEGREE + 1)], 1)


def poly_desc(W, b):
    result = "y = "
    for i, w in enumerate(W):
        result += "{:+.2f} x^{} ".format(w, i + 1)
    result += "{:+.2f}".format(b[0])
    return result


def main(quick=True, argv=()):
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-batches", type=int, default=3000 if quick else 100000)
    args = parser.parse_args(list(argv))
    torch.manual_seed(args.seed)

    W_target = torch.randn(POLY_DEGREE, 1) * 5
    b_target = torch.randn(1) * 5

    def f(x):
        return x.mm(W_target) + b_target.item()

    def get_batch(batch_size=32):
        random = torch.randn(batch_size)
        x = make_features(random)
        y = f(x)
        return x, y

    fc = torch.nn.Linear(W_target.size(0), 1)
    for batch_idx in count(1):
        batch_x, batch_y = get_batch()
        fc.zero_grad()
        output = F.smooth_l1_loss(fc(batch_x), batch_y)
        loss = output.item()
        output.backward()
        for param in fc.parameters():
            param.data.add_(-0.1 * param.grad)
        if loss < 1e-3 or batch_idx >= args.max_batches:
            break

    print("Loss: {:.6f} after {} batches".format(loss, batch_idx))
    print("==> Learned function:\t" + poly_desc(fc.weight.view(-1), fc.bias))
    print("==> Actual function:\t" + poly_desc(W_target.view(-1), b_target))
    coefficient_error = (fc.weight.view(-1) - W_target.view(-1)).abs().max().item()
    coefficient_error = max(coefficient_error, (fc.bias - b_target).abs().item())
    return {"loss": loss, "batches": batch_idx, "coefficient_error": coefficient_error}


if __name__ == "__main__":
    import sys
    main(quick=False, argv=sys.argv[1:])
