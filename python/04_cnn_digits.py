"""Chapter 4 — convolutional networks: a small CNN on the bundled 8x8 handwritten digits.

Convolutions share one small filter across every position of the image, so a layer learns
local patterns (strokes, corners) wherever they appear; pooling then keeps the strongest
responses and halves the resolution.  Here two conv blocks with batch norm read 8x8 digit
images and a linear layer classifies them.

    python python/04_cnn_digits.py            # full run (6 epochs)
    python python/04_cnn_digits.py --quick    # a few seconds
Saves cnn_digits_filters.png and cnn_digits_feature_maps.png (in --out DIR) when matplotlib is
installed.
"""
import time

import numpy as np

import dlcore as dl
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore.data import DataLoader, TensorDataset
from dlcore.examples.common import pyplot, run, save_figure
from dlcore.metrics import confusion_matrix


class DigitsCNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                                    nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                                    nn.MaxPool2d(2))                     # 8x8 -> 4x4
        self.block2 = nn.Sequential(nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
                                    nn.MaxPool2d(2))                     # 4x4 -> 2x2
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 2 * 2, num_classes))

    def forward(self, x):
        return self.head(self.block2(self.block1(x)))


def split(X, y, test_fraction=0.2, seed=0):
    """A seeded, shuffled train/test split."""
    perm = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(len(X) * test_fraction))
    te, tr = perm[:n_test], perm[n_test:]
    return X[tr], y[tr], X[te], y[te]


def save_grid(images, cmap, title, out_dir, name):
    """32 small images on a 4 x 8 grid."""
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(4, 8, figsize=(8, 4))
    for ax, img in zip(axes.ravel(), images):
        ax.imshow(img, cmap=cmap)
        ax.axis("off")
    fig.suptitle(title)
    save_figure(fig, out_dir, name)


def save_pictures(model, image, out_dir):
    filters = model.block1[0].weight.numpy()[:, 0]  # (32, 3, 3)
    save_grid(filters, "gray", "first-layer 3x3 filters", out_dir, "cnn_digits_filters.png")
    model.eval()
    with dl.no_grad():
        maps = model.block1[:3](dl.tensor(image[None])).numpy()[0]
    model.train()
    save_grid(maps, "viridis", "feature maps of one digit after conv-BN-ReLU", out_dir,
              "cnn_digits_feature_maps.png")


def main(quick=False, out_dir="."):
    dl.manual_seed(0)
    X, y = dl.data.load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    Xtr, ytr, Xte, yte = split(X, y)
    epochs = 2 if quick else 6
    model = DigitsCNN()
    opt = dl.optim.Adam(model.parameters(), lr=3e-3)
    train_loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=64, shuffle=True,
                              generator=np.random.default_rng(1))
    t0 = time.perf_counter()
    dl.train.fit(model, train_loader, F.cross_entropy, opt, epochs=epochs,
                 val_loader=(Xte, yte), metrics=["accuracy"])
    train_s = time.perf_counter() - t0
    pred = dl.train.predict(model, Xte).numpy().argmax(axis=1)
    acc = float((pred == yte).mean())
    print("test accuracy: %.4f (%d/%d) after %d epochs, %.1f s of training"
          % (acc, (pred == yte).sum(), len(yte), epochs, train_s))
    print("confusion matrix (rows: true digit, columns: predicted):")
    print(confusion_matrix(yte, pred, num_classes=10))
    if not quick:
        save_pictures(model, Xte[0], out_dir)
    return {"chapter": "04 CNN", "model": "2-block CNN with batch norm", "data": "digits 8x8",
            "metric": "test accuracy", "value": round(acc, 4)}


if __name__ == "__main__":
    run(main)
