"""'Learning PyTorch with examples', part 6: the nn cubic fit with an optimizer (RMSprop)."""
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
    xx = x.unsqueeze(-1).pow(p)

    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    loss_fn = torch.nn.MSELoss(reduction="sum")
    learning_rate = 1e-3
    optimizer = torch.optim.RMSprop(model.parameters(), lr=learning_rate)
    for t in range(args.steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t == 0:
            initial_loss = loss.item()
        if t % 500 == 499:
            print(t, loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    linear_layer = model[0]
    print(f"Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + "
          f"{linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3")
    return {"loss": loss.item(), "initial_loss": initial_loss}


if __name__ == "__main__":
    import sys
    main(quick=False, argv=sys.argv[1:])
