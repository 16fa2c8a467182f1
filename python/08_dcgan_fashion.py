"""Chapter 8 (extra) — a DCGAN on the bundled Fashion-MNIST subset (28x28, 2,000 images).

The same recipe as 08_gan_digits.py at 28x28: a ConvTranspose2d generator with batch norm, ReLU
and tanh (latent -> 7x7 -> 14x14 -> 28x28), a Conv2d discriminator with LeakyReLU, binary
cross-entropy on the discriminator's logits, Adam(beta1 = 0.5), one-sided label smoothing.

Quality is measured by a small CNN trained on the real images: its mean confidence on generated
samples, the class histogram, and the Fréchet distance between real and generated samples in its
feature space, next to the same distance for the untrained generator.

    python python/08_dcgan_fashion.py            # full run (about a minute on 2 cores)
    python python/08_dcgan_fashion.py --quick    # seconds, weaker numbers
Saves dcgan_fashion_samples.png (in --out DIR) when matplotlib is installed.
"""
import time

import numpy as np

import dlcore as dl
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore.data import DataLoader, TensorDataset
from dlcore.examples.common import pyplot, run, save_figure
from dlcore.metrics import frechet_distance
from dlcore.models import DCDiscriminator, DCGenerator, fit_gan

LATENT = 64


class Judge(nn.Module):
    """Small CNN classifier; features() is its 128-d penultimate layer (the Fréchet space)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 28 -> 14
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 14 -> 7
            nn.Flatten(), nn.Linear(32 * 49, 128), nn.ReLU())
        self.head = nn.Linear(128, 10)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def load_images(n=None):
    """Training images as (N, 1, 28, 28) float32 in [-1, 1], with labels."""
    (X, y), _ = dl.data.load_fashion_mnist()
    if n is not None:
        X, y = X[:n], y[:n]
    return (X.astype(np.float32) / 127.5 - 1.0).reshape(-1, 1, 28, 28), y


def train_judge(X, y, epochs):
    judge = Judge()
    opt = dl.optim.Adam(judge.parameters(), lr=2e-3)
    loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True,
                        generator=np.random.default_rng(1))
    dl.train.fit(judge, loader, F.cross_entropy, opt, epochs=epochs, metrics=(), verbose=0)
    judge.eval()
    return judge


def score(judge, images, real_features):
    with dl.no_grad():
        feats = judge.features(dl.tensor(images))
        prob = F.softmax(judge.head(feats), dim=1).numpy()
    hist = np.bincount(prob.argmax(1), minlength=10) / len(prob)
    return {"confidence": float(prob.max(1).mean()), "classes_present": int((hist > 0).sum()),
            "max_class_fraction": float(hist.max()),
            "frechet": frechet_distance(real_features, feats.numpy())}


def save_grid(images, out_dir):
    plt = pyplot()
    if plt is None:
        return None
    n = int(np.sqrt(len(images)))
    fig, axes = plt.subplots(n, n, figsize=(n, n))
    for ax, img in zip(axes.ravel(), images):
        ax.imshow(img.reshape(28, 28), cmap="gray", vmin=-1, vmax=1)
        ax.axis("off")
    fig.suptitle("DCGAN samples, Fashion-MNIST subset")
    return save_figure(fig, out_dir, "dcgan_fashion_samples.png")


def main(quick=False, out_dir=".", epochs: int = None):
    """quick is the tour's smoke run (2 epochs); the tests ask for epochs=6."""
    dl.manual_seed(0)
    t_start = time.perf_counter()
    X, y = load_images(512 if quick else None)
    judge = train_judge(X, y, epochs=2 if quick else 6)
    with dl.no_grad():
        real_feats = judge.features(dl.tensor(X)).numpy()
    G = DCGenerator(LATENT, image_size=28, channels=16 if quick else 32)
    D = DCDiscriminator(image_size=28, channels=16 if quick else 32)
    n_eval = 256 if quick else 1000
    untrained = score(judge, G.sample(n_eval).numpy(), real_feats)
    epochs = epochs or (2 if quick else 12)
    t0 = time.perf_counter()
    hist = fit_gan(G, D, X, epochs=epochs, lr=5e-4 if quick else 2e-4, verbose=not quick)
    seconds = time.perf_counter() - t0
    trained = score(judge, G.sample(n_eval).numpy(), real_feats)
    ratio = trained["frechet"] / untrained["frechet"]
    print("DCGAN on %d Fashion-MNIST images: %d epochs in %.1f s; judge confidence %.3f, "
          "classes present %d, largest class %.1f%%" % (len(X), epochs, seconds,
                                                         trained["confidence"],
                                                         trained["classes_present"],
                                                         100 * trained["max_class_fraction"]))
    print("Frechet distance in judge features: %.2f (untrained generator %.2f, ratio %.3f)"
          % (trained["frechet"], untrained["frechet"], ratio))
    pictures = []
    if not quick and out_dir is not None:
        p = save_grid(G.sample(64).numpy(), out_dir)
        if p:
            pictures.append(p)
    return {"chapter": "08", "model": "DCGAN 28x28", "data": "Fashion-MNIST subset",
            "metric": "Frechet ratio to untrained G", "value": round(ratio, 4),
            "dcgan": trained, "untrained": untrained, "epochs": epochs,
            "seconds_per_epoch": seconds / epochs,
            "grads_finite": all(hist["g_grads_finite"]) and all(hist["d_grads_finite"]),
            "pictures": pictures, "seconds": time.perf_counter() - t_start}


if __name__ == "__main__":
    run(main)
