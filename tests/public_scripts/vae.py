"""The variational autoencoder of pytorch/examples (vae/main.py), in our own words.

Offline data: the bundled 8x8 digits (64 pixels in [0, 1]) stand in for MNIST's 784, so the
layers are 64 -> 400 -> (20, 20) -> 400 -> 64. The recipe is the example's: reparameterize
with randn_like, loss = binary cross-entropy (sum) + the KL term, Adam(1e-3), a test pass
under no_grad, and sampling the decoder from standard normal codes.
"""
import argparse

import torch
from torch import nn, optim
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from offline_data import digits

PIXELS = 64


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(PIXELS, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, PIXELS)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, PIXELS))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, PIXELS), reduction="sum")
    # KL divergence of N(mu, sigma) from N(0, 1), summed over the batch (Kingma & Welling, App. B)
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def train(model, device, loader, optimizer, epoch, verbose):
    model.train()
    train_loss = 0
    for batch_idx, (data, _) in enumerate(loader):
        data = data.to(device)
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
    if verbose:
        print("====> Epoch: {} Average loss: {:.4f}".format(epoch, train_loss / len(loader.dataset)))


def test(model, device, loader):
    model.eval()
    test_loss = 0
    with torch.no_grad():
        for data, _ in loader:
            data = data.to(device)
            recon_batch, mu, logvar = model(data)
            test_loss += loss_function(recon_batch, data, mu, logvar).item()
    test_loss /= len(loader.dataset)
    print("====> Test set loss: {:.4f}".format(test_loss))
    return test_loss


def main(quick=True, argv=()):
    parser = argparse.ArgumentParser(description="VAE on the bundled digits")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=8 if quick else 30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(list(argv))

    torch.manual_seed(args.seed)
    device = torch.device("cpu")
    x_train, y_train, x_test, y_test = digits()
    train_loader = DataLoader(TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train)),
                              batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test)),
                             batch_size=args.batch_size, shuffle=False)

    model = VAE().to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    first = test(model, device, test_loader)
    for epoch in range(1, args.epochs + 1):
        train(model, device, train_loader, optimizer, epoch, args.verbose)
        test_loss = test(model, device, test_loader)
        with torch.no_grad():
            sample = torch.randn(64, 20).to(device)
            sample = model.decode(sample).cpu()
    assert sample.shape == (64, PIXELS)
    return {"test_loss": test_loss, "initial_test_loss": first,
            "sample_mean": float(sample.mean().item())}


if __name__ == "__main__":
    import sys
    main(quick=False, argv=sys.argv[1:])
