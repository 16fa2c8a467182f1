"""'Learning PyTorch with examples', part 5: the cubic fit with torch.nn.

Features x, x^2, x^3 by broadcasting x.unsqueeze(-1).pow(p), a Sequential(Linear(3, 1),
Flatten(0, 1)), MSELoss(reduction='sum'), model.zero_grad(), and a manual update of every
parameter inside torch.no_grad(); the coefficients read back from model[0].
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

    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)  # (2000, 3): int exponents on a float base stay float

    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    loss_fn = torch.nn.MSELoss(reduction="sum")
    learning_rate = 1e-6
    for t in range(args.steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t == 0:
            initial_loss = loss.item()
        if t % 500 == 499:
            print(t, loss.item())
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                param -= learning_rate * param.grad
    linear_layer = model[0]
    print(f"Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + "
          f"{linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3")
    return {"loss": loss.item(), "initial_loss": initial_loss}


if __name__ == "__main__":
    import sys
    main(quick=False, argv=sys.argv[1:])
