"""The chapter-4 Fashion-MNIST classifier, shared: chapter 4 trains and shows it, and chapter 8
uses the same network, trained the same way, as the judge of its conditional GAN's samples.

FashionCNN has two conv blocks (convolution, batch norm, ReLU, 2x2 max pooling: 28x28 -> 14x14
-> 7x7), a third convolution and a small classifier with dropout.  train_fashion_cnn is chapter
4's recipe: Adam under a one-cycle schedule, batches of 64 with random horizontal flips.
"""
import numpy as np

import dlcore as dl
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore.data import DataLoader, TensorDataset, default_collate

__all__ = ["FashionCNN", "to_input", "flipped_batches", "train_fashion_cnn"]


class FashionCNN(nn.Module):
    def __init__(self, num_classes=10, width=32):
        super().__init__()
        c1, c2 = width, 2 * width
        self.block1 = nn.Sequential(nn.Conv2d(1, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(),
                                    nn.MaxPool2d(2))                      # 28x28 -> 14x14
        self.block2 = nn.Sequential(nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(),
                                    nn.MaxPool2d(2))                      # 14x14 -> 7x7
        self.block3 = nn.Sequential(nn.Conv2d(c2, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(c2 * 7 * 7, 128),
                                  nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, num_classes))

    def forward(self, x):
        return self.head(self.block3(self.block2(self.block1(x))))


def to_input(X):
    """Pixels 0..255 (n, 28, 28) -> float32 (n, 1, 28, 28), centred on the data set's mean and
    scale."""
    return ((X.astype(np.float32) / 255.0 - 0.2860) / 0.3530).reshape(-1, 1, 28, 28)


def flipped_batches(X, y, batch, rng):
    """Shuffled training batches in which each image is flipped left-right with probability
    1/2 (data augmentation: a flipped coat is still a coat); the shuffling and the flips are
    drawn from `rng`."""
    def flip_and_scale(samples):
        images, labels = default_collate(samples)
        images = images.numpy()
        flip = rng.random(len(images)) < 0.5
        images = np.where(flip[:, None, None], images[:, :, ::-1], images)
        return dl.tensor(to_input(images)), labels
    return DataLoader(TensorDataset(X, y), batch_size=batch, shuffle=True, generator=rng,
                      collate_fn=flip_and_scale)


def train_fashion_cnn(X, y, epochs, width, batch=64, val=None, verbose="auto"):
    """A FashionCNN(width) trained on uint8 images X (n, 28, 28) and labels y by chapter 4's
    recipe: Adam, a one-cycle schedule peaking at lr 3e-3, flipped batches shuffled by
    default_rng(1).  Its initial weights come from dlcore's random stream (dl.manual_seed).
    val: (inputs, labels) evaluated after each epoch.  Returns the model in training mode."""
    model = FashionCNN(width=width)
    opt = dl.optim.Adam(model.parameters(), lr=2e-3)
    steps = epochs * ((len(X) + batch - 1) // batch)
    sched = dl.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    loader = flipped_batches(X, y, batch, np.random.default_rng(1))
    dl.train.fit(model, loader, F.cross_entropy, opt, epochs=epochs, val_loader=val,
                 metrics=["accuracy"] if val is not None else (), scheduler=sched,
                 scheduler_step="batch", verbose=verbose)
    return model
