"""The MNIST convolutional classifier of pytorch/examples (mnist/main.py), in our own words.

Offline data: the 8x8 digits dlcore ships instead of downloaded 28x28 MNIST, so the two
convolutions and the pooling leave 64 x 2 x 2 features instead of 9216. Everything else is
the example's recipe: conv-conv-pool-dropout-fc-dropout-fc, log_softmax + nll_loss, Adadelta
with StepLR(gamma=0.7), a test pass under no_grad summing the loss, and a saved state_dict.
"""
import argparse
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset

from offline_data import digits


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(64 * 3 * 3, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0 and args.verbose:
            print("Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100.0 * batch_idx / len(train_loader), loss.item()))


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    accuracy = correct / len(test_loader.dataset)
    print("Test set: Average loss: {:.4f}, Accuracy: {}/{} ({:.1f}%)".format(
        test_loss, correct, len(test_loader.dataset), 100.0 * accuracy))
    return test_loss, accuracy


def main(quick=True, argv=()):
    parser = argparse.ArgumentParser(description="MNIST-style CNN on the bundled digits")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--test-batch-size", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=3 if quick else 14)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--save-model", action="store_true", default=True)
    args = parser.parse_args(list(argv))

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    x_train, y_train, x_test, y_test = digits()
    # The example normalizes with MNIST's mean and std; these are the digits' own.
    mean, std = float(x_train.mean()), float(x_train.std())
    train_set = TensorDataset(torch.from_numpy((x_train - mean) / std), torch.from_numpy(y_train))
    test_set = TensorDataset(torch.from_numpy((x_test - mean) / std), torch.from_numpy(y_test))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        test_loss, accuracy = test(model, device, test_loader)
        scheduler.step()

    if args.save_model:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "mnist_cnn.pt")
            torch.save(model.state_dict(), path)
            reloaded = Net()
            reloaded.load_state_dict(torch.load(path))
            _, reloaded_accuracy = test(reloaded.to(device), device, test_loader)
            assert reloaded_accuracy == accuracy
    return {"accuracy": accuracy, "test_loss": test_loss}


if __name__ == "__main__":
    import sys
    main(quick=False, argv=sys.argv[1:])
