"""Time-sequence prediction of pytorch/examples (time_sequence_prediction), in our own words.

Two stacked LSTMCells read sine waves one step at a time (input.split(1, dim=1)) and keep
predicting `future` steps past the end from their own output. The model is in double
precision (model.double()), trained by optim.LBFGS with a closure, and tested under no_grad.
The data are generated as the example's generate_sine_wave.py makes them (smaller in quick mode).
"""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

from offline_data import sine_waves


class Sequence(nn.Module):
    def __init__(self, hidden=51):
        super().__init__()
        self.hidden = hidden
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.lstm2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for i in range(future):  # predict past the end, feeding back the prediction
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        return torch.cat(outputs, dim=1)


def main(quick=True, argv=()):
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4 if quick else 15)
    parser.add_argument("--length", type=int, default=80 if quick else 1000)
    parser.add_argument("--waves", type=int, default=16 if quick else 100)
    parser.add_argument("--hidden", type=int, default=16 if quick else 51)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(list(argv))

    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    data = sine_waves(n=args.waves, length=args.length)
    input = torch.from_numpy(data[3:, :-1])
    target = torch.from_numpy(data[3:, 1:])
    test_input = torch.from_numpy(data[:3, :-1])
    test_target = torch.from_numpy(data[:3, 1:])

    seq = Sequence(args.hidden)
    seq.double()
    criterion = nn.MSELoss()
    # LBFGS works with the whole batch and needs a closure that re-evaluates the loss
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
    for i in range(args.steps):
        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            loss.backward()
            return loss
        optimizer.step(closure)
        future = 20
        with torch.no_grad():
            pred = seq(test_input, future=future)
            loss = criterion(pred[:, :-future], test_target)
            print("step {} test loss: {:.6f}".format(i, loss.item()))
            y = pred.detach().numpy()
    assert y.shape == (3, args.length - 1 + future) and y.dtype == np.float64
    return {"test_loss": loss.item()}


if __name__ == "__main__":
    import sys
    main(quick=False, argv=sys.argv[1:])
