"""The siamese network of pytorch/examples (siamese_network/main.py), in our own words.

Offline data: pairs of the bundled 8x8 digits. As in the example, a Dataset subclass groups the
images by class and serves (image_1, image_2, target) with target 1.0 for a same-class pair
(even indices) and 0.0 otherwise; one shared tower embeds both images, the two embeddings are
concatenated and a small head with a sigmoid scores the pair, trained with BCELoss, Adadelta
and StepLR, and test accuracy counts torch.where(outputs > 0.5, 1, 0) matches. The tower is a
small CNN in place of the example's ResNet-18 (whose input is 28x28).
"""
import argparse
import random

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, Dataset

from offline_data import digits


class SiameseNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.tower = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
            nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.fc_in_features = 32 * 4 * 4
        self.fc = nn.Sequential(
            nn.Linear(self.fc_in_features * 2, 64),
            nn.ReLU(inplace=True),
            nn.Linear(64, 1),
        )
        self.sigmoid = nn.Sigmoid()
        self.tower.apply(self.init_weights)
        self.fc.apply(self.init_weights)

    def init_weights(self, m):
        if isinstance(m, nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)
            m.bias.data.fill_(0.01)

    def forward_once(self, x):
        output = self.tower(x)
        return output.view(output.size()[0], -1)

    def forward(self, input1, input2):
        output = torch.cat((self.forward_once(input1), self.forward_once(input2)), 1)
        return self.sigmoid(self.fc(output))


class PairDataset(Dataset):
    """Even indices give a same-class pair (target 1.0), odd ones a different-class pair."""

    def __init__(self, images, labels, seed):
        self.images = torch.from_numpy(images)
        self.labels = labels
        self.rng = random.Random(seed)
        self.grouped = {c: np.where(labels == c)[0] for c in range(10)}

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        selected_class = self.rng.randint(0, 9)
        index_1 = self.rng.choice(self.grouped[selected_class])
        image_1 = self.images[index_1].clone().float()
        if index % 2 == 0:
            index_2 = self.rng.choice(self.grouped[selected_class])
            while index_2 == index_1:
                index_2 = self.rng.choice(self.grouped[selected_class])
            target = torch.tensor(1, dtype=torch.float)
        else:
            other_class = self.rng.randint(0, 9)
            while other_class == selected_class:
                other_class = self.rng.randint(0, 9)
            index_2 = self.rng.choice(self.grouped[other_class])
            target = torch.tensor(0, dtype=torch.float)
        return image_1, self.images[index_2].clone().float(), target


def train(model, device, train_loader, optimizer, criterion):
    model.train()
    for batch_idx, (images_1, images_2, targets) in enumerate(train_loader):
        images_1, images_2, targets = images_1.to(device), images_2.to(device), targets.to(device)
        optimizer.zero_grad()
        outputs = model(images_1, images_2).squeeze()
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()


def test(model, device, test_loader, criterion):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for (images_1, images_2, targets) in test_loader:
            images_1, images_2, targets = images_1.to(device), images_2.to(device), targets.to(device)
            outputs = model(images_1, images_2).squeeze()
            test_loss += criterion(outputs, targets).sum().item()
            pred = torch.where(outputs > 0.5, 1, 0)
            correct += pred.eq(targets.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    accuracy = correct / len(test_loader.dataset)
    print("Test set: Average loss: {:.4f}, Accuracy: {}/{} ({:.1f}%)".format(
        test_loss, correct, len(test_loader.dataset), 100.0 * accuracy))
    return accuracy


def main(quick=True, argv=()):
    parser = argparse.ArgumentParser(description="siamese network on digit pairs")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5 if quick else 14)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(list(argv))

    torch.manual_seed(args.seed)
    device = torch.device("cpu")
    x_train, y_train, x_test, y_test = digits()
    mean, std = x_train.mean(), x_train.std()  # the example's Normalize, with the digits' own values
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    train_loader = DataLoader(PairDataset(x_train, y_train, args.seed), batch_size=args.batch_size,
                              shuffle=True)
    test_loader = DataLoader(PairDataset(x_test, y_test, args.seed + 1000), batch_size=256)

    model = SiameseNetwork().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    criterion = nn.BCELoss()
    for epoch in range(1, args.epochs + 1):
        train(model, device, train_loader, optimizer, criterion)
        accuracy = test(model, device, test_loader, criterion)
        scheduler.step()
    return {"accuracy": accuracy}


if __name__ == "__main__":
    import sys
    main(quick=False, argv=sys.argv[1:])
